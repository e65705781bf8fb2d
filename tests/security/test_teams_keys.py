"""An unreachable token-key endpoint freezes nothing (issue 11, finding 2).

botbuilder fetched the Bot Framework's signing keys with a blocking `requests.get` without a
timeout, on the event loop: one Teams request with a plausible token, while the key endpoint did
not answer, stalled Slack, /admin, /healthz and the scheduler. Here the key endpoint is a TCP
black hole; /healthz and a signed Slack command are asked from outside (a thread with its own
one-second timeouts, as a load balancer or Slack would) while Teams requests wait for keys.
"""
from __future__ import annotations

import asyncio
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from botframework.connector.auth import ChannelValidation
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.teams import auth
from tests.fake_bot_framework_login import CHANNEL_ISSUER, FakeBotFrameworkLogin, bearer, sign
from tests.fake_slack_api import APP_ID as SLACK_APP_ID
from tests.fake_slack_api import ID, TEAM, signed, workspace
from tests.fake_teams_connector import refuse_internet
from tests.helpers import import_programme

APP_ID = "00000000-0000-0000-0000-000000000001"
TEAMS = {"MICROSOFT_APP_ID": APP_ID, "MICROSOFT_APP_PASSWORD": "x",
         "TEAMS_SERVICE_HOSTS": "127.0.0.1"}
SERVICE_URL = "http://127.0.0.1:9/"
KEY_FETCH_TIMEOUT = 2.0  # shortened for the test (5 s in service)


class BlackHole:
    """A loopback port that accepts connections and never answers a byte.

    Connections are dropped after `hold` seconds, so a client that blocked its whole event loop
    on one (the old code) is released and the test can fail instead of hanging."""

    def __init__(self, hold: float = 4.0) -> None:
        self.hold = hold
        self.accepted = 0
        self.first = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self._listener.settimeout(0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/v1/.well-known/openid"

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        held: list[tuple[float, socket.socket]] = []
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
                held.append((time.monotonic() + self.hold, connection))
                self.accepted += 1
                self.first.set()
            except TimeoutError:
                pass
            for deadline, connection in [h for h in held if h[0] <= time.monotonic()]:
                connection.close()
                held.remove((deadline, connection))
        for _, connection in held:
            connection.close()
        self._listener.close()


def _ask(request: urllib.request.Request) -> tuple[int | None, float, float]:
    """(status or None when no answer came within a second, seconds waited, when it ended)."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=1.0) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except (urllib.error.URLError, TimeoutError):
        status = None
    return status, time.monotonic() - started, time.monotonic()


def _from_outside(hole: BlackHole, base: str, response_url: str
                  ) -> dict[str, tuple[int | None, float, float]]:
    """Once a key fetch hangs in the black hole: /healthz, then a signed `/mentor status`."""
    assert hole.first.wait(10), "no Teams request reached the key endpoint"
    health = _ask(urllib.request.Request(base + "healthz"))
    body = urllib.parse.urlencode({
        "token": "legacy", "team_id": TEAM, "team_domain": "nordlys", "channel_id": "C0GENERAL",
        "channel_name": "general", "user_id": ID["jonas.berg@example.org"],
        "user_name": "jonas", "command": "/mentor", "text": "status",
        "api_app_id": SLACK_APP_ID, "response_url": response_url, "trigger_id": "1.1"})
    command = _ask(urllib.request.Request(
        base + "slack/events", data=body.encode(), method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", **signed(body)}))
    return {"healthz": health, "slack": command}


def _forged_token() -> str:
    """Well formed, the right issuer and audience, signed with a key that is not the Bot
    Framework's: checking it needs the signing keys."""
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return sign({"iss": CHANNEL_ISSUER, "aud": APP_ID, "serviceurl": SERVICE_URL}, stranger)


def _activity(n: int) -> dict:
    return {"type": "message", "id": f"f:{n}", "serviceUrl": SERVICE_URL, "channelId": "msteams",
            "text": "status", "from": {"id": "29:jonas", "aadObjectId": "aad-jonas"},
            "conversation": {"id": "a:personal-jonas"}, "recipient": {"id": f"28:{APP_ID}"}}


async def test_an_unreachable_key_endpoint_freezes_nothing(sqlite_database, clock, monkeypatch):
    attempts = refuse_internet(monkeypatch)
    hole = BlackHole()
    monkeypatch.setattr(ChannelValidation, "open_id_metadata_endpoint", hole.url)
    monkeypatch.setattr(auth, "FETCH_TIMEOUT", KEY_FETCH_TIMEOUT, raising=False)
    import_programme(sqlite_database, now=clock.now())
    token = _forged_token()
    try:
        async with workspace(sqlite_database, clock, env=TEAMS) as slack:
            base = str(slack.server.make_url("/"))

            async def teams(n: int) -> tuple[int, float, float]:
                started = time.monotonic()
                async with slack.session.post(base + "api/messages", json=_activity(n),
                                              headers=bearer(token)) as response:
                    await response.read()
                    return response.status, time.monotonic() - started, time.monotonic()

            *waiting, outside = await asyncio.gather(
                *(teams(n) for n in range(3)),
                asyncio.to_thread(_from_outside, hole, base, slack.fake.response_url("status")))

            # The rest of the server answered at once, while the key fetch was still hanging.
            for what, (status, seconds, _) in outside.items():
                assert status == 200 and seconds < 1.0, (what, status, seconds)
            assert max(done for _, _, done in outside.values()) < \
                min(done for _, _, done in waiting)
            # Teams got 503 (the channel retries) once the short fetch timeout ran out, and the
            # three requests shared one fetch.
            assert [status for status, _, _ in waiting] == [503, 503, 503]
            assert all(seconds < KEY_FETCH_TIMEOUT + 1.0 for _, seconds, _ in waiting)
            assert hole.accepted == 1

            # While the failure is remembered, Teams requests are refused fast, with no new fetch.
            for n in range(3, 8):
                status, seconds, _ = await teams(n)
                assert status == 503 and seconds < 1.0
            assert hole.accepted == 1
            await slack.settle()
            assert "Meetings held" in str(slack.fake.responses("status"))  # Jonas got his answer
    finally:
        hole.close()
    assert attempts == []


async def test_keys_are_fetched_once_and_kept(sqlite_database, clock, monkeypatch):
    """The good path: one fetch of the metadata and key set, then tokens are checked from the
    cache (a forged signature is a 401, not a new fetch)."""
    attempts = refuse_internet(monkeypatch)
    login = await FakeBotFrameworkLogin().start()
    login.use(monkeypatch)
    import_programme(sqlite_database, now=clock.now())
    try:
        async with workspace(sqlite_database, clock, env=TEAMS) as slack:
            url = str(slack.server.make_url("/api/messages"))
            forged = _forged_token()
            for n in range(4):
                async with slack.session.post(url, json=_activity(n),
                                              headers=bearer(forged)) as response:
                    assert response.status == 401
            genuine = login.channel_token(APP_ID, SERVICE_URL)
            activity = {**_activity(9), "type": "conversationUpdate", "membersAdded": []}
            async with slack.session.post(url, json=activity,
                                          headers=bearer(genuine)) as response:
                assert response.status == 200
            assert login.fetches == ["/v1/.well-known/openidconfiguration", "/v1/keys"]
            await slack.settle()
    finally:
        await login.close()
    assert attempts == []
