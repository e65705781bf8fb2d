"""Teams adapter, security: which Bot Connector addresses (`serviceUrl`) the bot may call.

Every activity names the address its replies go to, and that address is stored as the person's
conversation reference for later prompts. Whoever can post to /api/messages chooses it, so the
bot calls only addresses Teams could really have sent:

- token validation on: https on a Bot Framework / Teams host (`TEAMS_SERVICE_HOSTS`, default
  below; a sovereign cloud lists its own), and inbound only the one the token vouched for;
- Emulator mode (`TEAMS_EMULATOR=1`): a loopback address only (the Emulator runs beside the bot).

The check runs where an address comes in (before it can be stored) and again before every call,
so a stored bad reference is never called.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_HOSTS = ("*.botframework.com", "smba.trafficmanager.net", "*.teams.microsoft.com")
_HOSTNAME = re.compile(r"^[a-z0-9.:\-\[\]]{1,253}$")


@dataclass(frozen=True)
class ServiceUrls:
    hosts: tuple[str, ...] = DEFAULT_HOSTS
    loopback_only: bool = False

    @classmethod
    def from_env(cls, env: dict[str, str], *, emulator: bool) -> "ServiceUrls":
        if emulator:
            return cls(hosts=(), loopback_only=True)
        listed = tuple(h.strip().lower().rstrip(".") for h in
                       (env.get("TEAMS_SERVICE_HOSTS") or "").split(",") if h.strip())
        return cls(hosts=listed or DEFAULT_HOSTS)

    def allows(self, url: str) -> bool:
        return not self.why_not(url)

    def why_not(self, url: str) -> str:
        """'' when the bot may call `url`; else a reason fit for a log (the host, never a path)."""
        try:
            parts = urlsplit(url)
            host, port = (parts.hostname or "").rstrip("."), parts.port
        except ValueError:
            return "a malformed service URL"
        if parts.scheme not in ("https", "http") or not host or parts.username is not None \
                or parts.password is not None:
            return "a malformed service URL"
        shown = host if _HOSTNAME.match(host) else "a malformed host"
        if _loopback(host):
            if self.loopback_only or host in self.hosts:
                return ""
            return f"service URL host {shown} is not in TEAMS_SERVICE_HOSTS"
        if self.loopback_only:
            return f"service URL host {shown} is not a loopback address (Emulator mode)"
        if parts.scheme != "https" or port not in (None, 443):
            return f"service URL on {shown} is not https on port 443"
        if not any(_matches(host, pattern) for pattern in self.hosts):
            return f"service URL host {shown} is not in TEAMS_SERVICE_HOSTS"
        return ""


def is_loopback_host(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: addresses only this machine can reach."""
    return _loopback(host.strip().strip("[]").rstrip(".").lower())


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _matches(host: str, pattern: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern
