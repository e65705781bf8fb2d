"""Teams adapter, security: validate who calls /api/messages, and get our bot token to call back.

The only module that imports botbuilder. It uses the SDK's own token validation and credential
classes (what `CloudAdapter` uses inside), without the adapter's turn machinery: replies and
prompts go through our paced connector client instead. Any failed validation is a 401; the
stock adapter turns a malformed JWT into a 500.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import requests
from botbuilder.integration.aiohttp import (ConfigurationBotFrameworkAuthentication,
                                            ConfigurationServiceClientCredentialFactory)
from botbuilder.schema import Activity
from botframework.connector.auth import AuthenticationConstants

log = logging.getLogger(__name__)
APP_TYPES = {"multitenant": "MultiTenant", "singletenant": "SingleTenant",
             "userassignedmsi": "UserAssignedMSI"}


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
        except PermissionError as error:  # botbuilder's "not authorized" (an OSError, too)
            raise Unauthorized(str(error) or "not authorized") from None
        except (requests.RequestException, ConnectionError, TimeoutError) as error:
            raise AuthUnavailable(type(error).__name__) from None
        except Exception as error:  # jwt decode errors, malformed claims, bad endorsements, ...
            raise Unauthorized(type(error).__name__) from None
        claims = identity.claims_identity
        if claims is None or not claims.is_authenticated:
            raise Unauthorized("not authenticated")

    async def bot_token(self) -> str:
        """A token for calling the Bot Connector as this bot; '' in Emulator mode."""
        if not self.enabled:
            return ""
        if self._bot_credentials is None:
            self._bot_credentials = await self._credentials.create_credentials(
                self.settings.app_id, AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE,
                AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL, True)
        return await asyncio.to_thread(self._bot_credentials.get_access_token)
