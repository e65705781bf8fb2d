"""Teams adapter, security: validate who calls /api/messages, and get our bot token to call back.

The only module that imports botbuilder. It uses the SDK's own token validation and credential
classes (what `CloudAdapter` uses inside), without the adapter's turn machinery: replies and
prompts go through our paced connector client instead. Any failed validation is a 401; the
stock adapter turns a malformed JWT into a 500.

The SDK fetches the token signing keys with a blocking `requests.get` without a timeout, on the
event loop (botframework-connector 4.17.1, `jwt_token_extractor._OpenIdMetadata`): one
unreachable key endpoint froze every route. `SigningKeys` stands in for it: fetched with aiohttp
under a short timeout, one fetch at a time, kept for a day, a failure remembered for a while, so
while no keys are at hand a Teams request gets 503 at once and the rest of the server goes on.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field

import aiohttp
import requests
from botbuilder.integration.aiohttp import (
    ConfigurationBotFrameworkAuthentication,
    ConfigurationServiceClientCredentialFactory,
)
from botbuilder.schema import Activity
from botframework.connector.auth import AuthenticationConstants
from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor
from jwt.algorithms import RSAAlgorithm

log = logging.getLogger(__name__)
APP_TYPES = {"multitenant": "MultiTenant", "singletenant": "SingleTenant",
             "userassignedmsi": "UserAssignedMSI"}
FETCH_TIMEOUT = 5.0  # seconds for the metadata document and the key set together
RETRY_AFTER_FAILURE = 30.0  # seconds a failed fetch is remembered: no fetch per request
REFRESH_EVERY = 24 * 3600.0  # the SDK's rhythm: keys are refreshed daily...
REFRESH_FOR_UNKNOWN_KEY = 3600.0  # ...and at most hourly when a token names an unknown key


@dataclass(frozen=True)
class Settings:
    app_id: str = ""
    password: str = ""
    tenant_id: str = ""
    app_type: str = "MultiTenant"

    @classmethod
    def from_env(cls, env: dict[str, str]) -> "Settings":
        raw_type = (env.get("MICROSOFT_APP_TYPE") or "MultiTenant").strip()
        app_type = APP_TYPES.get(raw_type.lower())
        if app_type is None:
            raise ValueError(f"MICROSOFT_APP_TYPE must be one of {', '.join(APP_TYPES.values())}"
                             f", not {raw_type!r}")
        settings = cls(app_id=(env.get("MICROSOFT_APP_ID") or "").strip(),
                       password=env.get("MICROSOFT_APP_PASSWORD") or "",
                       tenant_id=(env.get("MICROSOFT_APP_TENANT_ID") or "").strip(),
                       app_type=app_type)
        if settings.app_id and app_type in ("SingleTenant", "UserAssignedMSI") \
                and not settings.tenant_id:
            raise ValueError(f"MICROSOFT_APP_TYPE={app_type} needs MICROSOFT_APP_TENANT_ID")
        if settings.app_id and app_type != "UserAssignedMSI" and not settings.password:
            raise ValueError("MICROSOFT_APP_ID is set but MICROSOFT_APP_PASSWORD is empty")
        return settings


class Unauthorized(Exception):
    """The request did not prove it comes from the Bot Framework for our app id."""


class AuthUnavailable(Exception):
    """The token could not be checked right now (the signing keys could not be fetched)."""


class _Configuration:
    """The attribute names botbuilder's configuration classes read."""

    def __init__(self, settings: Settings) -> None:
        self.APP_ID = settings.app_id
        self.APP_PASSWORD = settings.password
        self.APP_TENANTID = settings.tenant_id
        self.APP_TYPE = settings.app_type


class BotAuth:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        configuration = _Configuration(settings)
        self._credentials = ConfigurationServiceClientCredentialFactory(configuration)
        self._validation = ConfigurationBotFrameworkAuthentication(
            configuration, credentials_factory=self._credentials)
        self._bot_credentials = None

    @property
    def enabled(self) -> bool:
        return bool(self.settings.app_id)

    async def check(self, body: dict, header: str) -> None:
        """Raise Unauthorized unless the bearer token is valid for this activity and app id."""
        if not self.enabled:
            return  # Bot Framework Emulator mode: no credentials, no validation
        if not header.strip():
            raise Unauthorized("no Authorization header")
        try:
            activity = Activity().deserialize(body)
            identity = await self._validation.authenticate_request(activity, header)
        except AuthUnavailable:
            raise
        except PermissionError as error:  # botbuilder's "not authorized" (an OSError, too)
            raise Unauthorized(str(error) or "not authorized") from None
        except (requests.RequestException, ConnectionError, TimeoutError) as error:
            raise AuthUnavailable(type(error).__name__) from None
        except Exception as error:  # jwt decode errors, malformed claims, bad endorsements, ...
            raise Unauthorized(type(error).__name__) from None
        claims = identity.claims_identity
        if claims is None or not claims.is_authenticated:
            raise Unauthorized("not authenticated")
        service_url = body.get("serviceUrl")
        if service_url and claims.get_claim_value(
                AuthenticationConstants.SERVICE_URL_CLAIM) != service_url:
            # The SDK checks this for channel tokens only; no token kind may name another address.
            raise Unauthorized("the token does not vouch for this serviceUrl")

    async def bot_token(self) -> str:
        """A token for calling the Bot Connector as this bot; '' in Emulator mode."""
        if not self.enabled:
            return ""
        if self._bot_credentials is None:
            self._bot_credentials = await self._credentials.create_credentials(
                self.settings.app_id, AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE,
                AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL, True)
        return await asyncio.to_thread(self._bot_credentials.get_access_token)


@dataclass(frozen=True)
class SigningKey:
    """What botbuilder's token extractor reads from a key (its `_OpenIdConfig`)."""

    public_key: object
    endorsements: list = field(default_factory=list)


class SigningKeys:
    """The signing keys named by one OpenID metadata URL, for botbuilder's token extractor."""

    def __init__(self, url: str, *, timeout: float | None = None,
                 retry_after: float | None = None, monotonic=time.monotonic) -> None:
        self.url = url
        self.timeout = FETCH_TIMEOUT if timeout is None else timeout
        self.retry_after = RETRY_AFTER_FAILURE if retry_after is None else retry_after
        self.monotonic = monotonic
        self.fetches = 0
        self._keys: dict[str, SigningKey] = {}
        self._fetched_at: float | None = None
        self._failed_at: float | None = None
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    async def get(self, key_id: str | None) -> SigningKey:
        """The key a token names; AuthUnavailable while no keys can be had, PermissionError if
        the token names a key the metadata does not list."""
        now = self.monotonic()
        if self._fetched_at is None or now - self._fetched_at > REFRESH_EVERY:
            await self._refresh(needed=not self._keys)
        key = self._keys.get(str(key_id))
        if key is None and now - (self._fetched_at or now) > REFRESH_FOR_UNKNOWN_KEY:
            await self._refresh(needed=False)
            key = self._keys.get(str(key_id))
        if key is None:
            raise PermissionError("the token names an unknown signing key")
        return key

    async def _refresh(self, needed: bool) -> None:
        async with self._loop_lock():
            now = self.monotonic()
            if self._fetched_at is not None and now - self._fetched_at <= REFRESH_FOR_UNKNOWN_KEY:
                return  # another request refreshed them while this one waited
            if self._failed_at is not None and now - self._failed_at < self.retry_after:
                if needed:
                    raise AuthUnavailable("signing keys unavailable")
                return
            try:
                self._keys = await self._fetch()
            except Exception as error:  # network, timeout, HTTP status, malformed documents
                self._failed_at = self.monotonic()
                log.warning("Teams signing keys could not be fetched (%s); retrying in %.0f s",
                            type(error).__name__, self.retry_after)
                if needed:
                    raise AuthUnavailable("signing keys unavailable") from None
                return
            self._fetched_at, self._failed_at = self.monotonic(), None

    async def _fetch(self) -> dict[str, SigningKey]:
        self.fetches += 1
        async with asyncio.timeout(self.timeout), aiohttp.ClientSession(trust_env=False) as http:
            async with http.get(self.url) as response:
                response.raise_for_status()
                keys_url = (await response.json(content_type=None))["jwks_uri"]
            async with http.get(keys_url) as response:
                response.raise_for_status()
                listed = (await response.json(content_type=None))["keys"]
        keys = {}
        for key in listed:
            if isinstance(key, dict) and key.get("kid") and key.get("kty") == "RSA":
                keys[str(key["kid"])] = SigningKey(RSAAlgorithm.from_jwk(json.dumps(key)),
                                                   list(key.get("endorsements") or []))
        if not keys:
            raise ValueError("no RSA keys")
        return keys

    def _loop_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock


_SIGNING_KEYS: dict[str, SigningKeys] = {}


def signing_keys(url: str) -> SigningKeys:
    """One `SigningKeys` per metadata URL for the whole process, as the SDK keeps its own."""
    keys = _SIGNING_KEYS.get(url)
    if keys is None:
        keys = _SIGNING_KEYS[url] = SigningKeys(url)
    return keys


# Every token check the SDK makes (channel, emulator, skill, government) asks this for its keys.
JwtTokenExtractor.get_open_id_metadata = staticmethod(signing_keys)
