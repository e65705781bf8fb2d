"""Slack adapter, the door: which requests reach Bolt, and from which workspace.

In this order, and nothing is parsed before the first step passes:
1. the signature, on the raw bytes: a numeric timestamp within five minutes and Slack's HMAC of
   the body with our signing secret, else 401;
2. the body parses as Slack sends it (a form, a form whose `payload` is JSON, or JSON) into an
   object whose parts have the shapes Bolt and the listeners read, else 400;
3. (a Bolt middleware, once Bolt knows our workspace from `auth.test`) every team and enterprise
   the request names is ours, else 403, logged by team id only.
Nothing of a refused request is logged but its team id (see bot/logs.py).
"""
from __future__ import annotations

import asyncio
import logging
import re

from slack_bolt.request.internals import parse_body
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier

log = logging.getLogger(__name__)
_SLACK_ID = re.compile(r"[A-Z0-9]{2,24}")
_KIND = re.compile(r"/?[a-z_]{1,40}")
# The parts of a body Bolt and the listeners read, and the shapes they may have (None: absent).
_SHAPES: dict[str, tuple[type, ...]] = {
    "event": (dict,), "view": (dict,), "container": (dict,), "message": (dict,),
    "team": (dict, str), "enterprise": (dict, str), "user": (dict, str), "channel": (dict, str),
    "actions": (list,), "authorizations": (list,),
    "type": (str,), "team_id": (str,), "enterprise_id": (str,), "user_id": (str,),
    "text": (str,), "trigger_id": (str,), "response_url": (str,), "command": (str,),
}


def signed(verifier: SignatureVerifier, raw: bytes, headers) -> bool:
    """Slack's signature over these exact bytes, made less than five minutes ago."""
    stamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12 and signature):
        return False
    try:
        return verifier.is_valid(raw, stamp, signature)
    except ValueError:  # not UTF-8: Slack signs nothing of the kind
        return False


def parsed(text: str, content_type: str) -> dict | None:
    """The body as Bolt will read it, or None when it is not a Slack request's shape."""
    try:
        body = parse_body(text, content_type)
    except (ValueError, RecursionError):
        return None
    return body if well_formed(body) else None


def kind(body: dict) -> str:
    """What a request is (`/mentor`, `event_callback message`, `block_actions`), for DEBUG lines."""
    event = body.get("event") or {}
    words = [body.get("command") or body.get("type") or "", event.get("type") or ""]
    return " ".join(w for w in words if isinstance(w, str) and _KIND.fullmatch(w)) or "(unknown)"


def well_formed(body) -> bool:
    if not isinstance(body, dict):
        return False
    for key, kinds in _SHAPES.items():
        if body.get(key) is not None and not isinstance(body[key], kinds):
            return False
    return all(isinstance(item, dict) for key in ("actions", "authorizations")
               for item in body.get(key) or [])


def teams_named(body: dict) -> set[str]:
    """Every workspace a request names: its own, the acting person's, the authorizations'."""
    event, user = body.get("event") or {}, body.get("user")
    named = {body.get("team_id"), _id(body.get("team")), event.get("team"), event.get("user_team"),
             user.get("team_id") if isinstance(user, dict) else None}
    named.update(item.get("team_id") for item in body.get("authorizations") or [])
    return {str(team) for team in named if team}


def enterprises_named(body: dict) -> set[str]:
    team, event = body.get("team"), body.get("event") or {}
    named = {body.get("enterprise_id"), _id(body.get("enterprise")), event.get("enterprise"),
             team.get("enterprise_id") if isinstance(team, dict) else None}
    named.update(item.get("enterprise_id") for item in body.get("authorizations") or [])
    return {str(org) for org in named if org}


def _id(value) -> str | None:
    return value.get("id") if isinstance(value, dict) else value


async def same_workspace(context, body: dict, next) -> BoltResponse | None:
    """Bolt middleware: refuse a request from any workspace but the one we are installed in."""
    ours = context.authorize_result
    if ours is None or not ours.team_id:  # Slack's own checks (url_verification), no person
        return await next()
    if foreign(body, ours.team_id, ours.enterprise_id):
        return BoltResponse(status=403, body="")
    return await next()


def foreign(body: dict, team_id: str, enterprise_id: str | None) -> bool:
    """Whether the request names a workspace or organisation but ours (logged by id if so)."""
    teams = teams_named(body) - {team_id}
    orgs = enterprises_named(body) - {enterprise_id}
    if not teams and not orgs:
        return False
    log.warning("refused a Slack request from another workspace (team %s, enterprise %s)",
                printable_id(min(teams, default="")), printable_id(min(orgs, default="")))
    return True


class Installation:
    """Our workspace, as `auth.test` names it: asked once, by one request at a time (a burst at
    start-up asks once, not once per request); a failed call is asked again next time. The
    answer is shared with Bolt's own single-workspace authorization (`bolt_auth`), so whichever
    of the two asks first answers both."""

    def __init__(self, client, bolt_auth=None) -> None:
        self.client = client
        self.bolt_auth = bolt_auth
        self._answer = None
        self._asking = asyncio.Lock()

    async def ours(self) -> tuple[str, str | None] | None:
        """(team id, enterprise id), or None when Slack could not say."""
        answer = self._answer or getattr(self.bolt_auth, "auth_test_result", None)
        if answer is None:
            async with self._asking:
                answer = self._answer or getattr(self.bolt_auth, "auth_test_result", None)
                if answer is None:
                    try:
                        answer = await self.client.auth_test()
                    except Exception as error:  # Bolt's own path then answers as it does
                        log.warning("auth.test failed: %s", type(error).__name__)
                        return None
                    if self.bolt_auth is not None:
                        self.bolt_auth.auth_test_result = answer
        self._answer = answer
        team = answer.get("team_id")
        return (str(team), answer.get("enterprise_id") or None) if team else None


def printable_id(value: str) -> str:
    """A Slack id as it is, anything else as a placeholder: ids are the only thing logged."""
    if not value:
        return "-"
    return value if _SLACK_ID.fullmatch(value) else "(not a Slack id)"
