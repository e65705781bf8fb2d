"""A fake of the Bot Framework's token signing side, for tests of /api/messages with an app id.

It holds its own RSA key, serves the OpenID metadata document and key set the bot fetches
(`https://login.botframework.com/v1/.well-known/openidconfiguration` in real life) on 127.0.0.1,
and signs tokens as the Bot Framework Service (a Teams channel token) or as Azure AD (what the
SDK calls an Emulator token) would. `use(monkeypatch)` points botbuilder at it.

It serves from its own thread, so a bot that fetched keys blocking its event loop (as botbuilder
itself does) still gets an answer instead of waiting for itself.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from botframework.connector.auth import AuthenticationConstants, ChannelValidation
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

CHANNEL_ISSUER = "https://api.botframework.com"
AAD_ISSUER = "https://login.microsoftonline.com/d6d49420-f39b-4df7-a1dc-d59a935871db/v2.0"
KEY_ID = "fake-key-1"


class FakeBotFrameworkLogin:
    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.fetches: list[str] = []  # the paths the bot fetched
        self.server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def metadata_url(self) -> str:
        return self.base_url + "/v1/.well-known/openidconfiguration"

    async def start(self) -> "FakeBotFrameworkLogin":
        login = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                login.fetches.append(self.path)
                body = login._answer(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps(body).encode())

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    async def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def use(self, monkeypatch) -> None:
        """Channel and Emulator token checks fetch their keys here."""
        monkeypatch.setattr(ChannelValidation, "open_id_metadata_endpoint", self.metadata_url)
        monkeypatch.setattr(AuthenticationConstants, "TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL",
                            self.metadata_url)

    def channel_token(self, app_id: str, service_url: str, **claims) -> str:
        """What the Bot Framework Service sends with a Teams activity for our app."""
        return self.sign({"iss": CHANNEL_ISSUER, "aud": app_id, "serviceurl": service_url,
                          **claims})

    def aad_token(self, app_id: str, **claims) -> str:
        """An Azure AD token for our app id (the SDK's "Emulator" kind): no serviceurl claim."""
        return self.sign({"iss": AAD_ISSUER, "aud": app_id, "azp": app_id, "ver": "2.0",
                          **claims})

    def sign(self, claims: dict) -> str:
        return sign(claims, self.key)

    def _answer(self, path: str) -> dict | None:
        if path == "/v1/.well-known/openidconfiguration":
            return {"issuer": CHANNEL_ISSUER, "jwks_uri": self.base_url + "/v1/keys"}
        if path == "/v1/keys":
            jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
            return {"keys": [{**jwk, "kid": KEY_ID, "use": "sig",
                              "endorsements": ["msteams", "emulator"]}]}
        return None


def sign(claims: dict, key) -> str:
    """A token signed with `key`, valid for the next hour, naming our key id."""
    now = int(time.time())  # JWT expiry is wall-clock time, as PyJWT checks it
    body = {"nbf": now - 60, "iat": now - 60, "exp": now + 3600, **claims}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": KEY_ID})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
