"""Teams adapter, files: a consent card in personal chat, a one-time download link elsewhere.

Teams shows no file sent inline (data URIs are for images). In a personal chat the bot offers
the file on a FileConsentCard; when the user accepts, Teams sends an `invoke` named
`fileConsent/invoke` with an upload URL in the user's OneDrive; the bot PUTs the bytes there
and posts a file info card. The file waits in the database meanwhile (`storage/files.py`), so
the answer may reach any replica, after a restart too; the card carries only the offer's id.
Where consent cannot work (a group chat or channel, or an upload refused because the consent
ran out) the file waits behind a one-time link on `serve`'s `/files/<token>` (bot/files.py).

A message too long for one Teams activity goes the same way: a short line, the text as a file.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from urllib.parse import urlsplit

import aiohttp
from markupsafe import Markup

from bot.language import language_of
from bot.teams.inbound import PLATFORM
from bot.teams.render import fits
from bot.teams.service_urls import is_loopback_host
from conversations.messages import Message
from conversations.texts import Texts, strip_markers
from storage.files import File, link_file, offer_file, take_offer
from storage.people import person_by_identity

log = logging.getLogger(__name__)
CONSENT_TYPE = "application/vnd.microsoft.teams.card.file.consent"
INFO_TYPE = "application/vnd.microsoft.teams.card.file.info"
INVOKE_NAME = "fileConsent/invoke"
LONG_TEXT = "message.txt"


class TeamsFiles:
    def __init__(self, db, clock, texts: Texts, *, public_url: str = "",
                 allow_http_upload: bool = False) -> None:
        self.db, self.clock, self.texts = db, clock, texts
        self.public_url = public_url.rstrip("/")
        # TEAMS_EMULATOR=1: uploads over http, and to loopback addresses only
        self.allow_http_upload = allow_http_upload
        self._session: aiohttp.ClientSession | None = None

    # Outgoing -----------------------------------------------------------------------------------
    async def prepare(self, message: Message, person_id: int | None,
                      personal: bool) -> list[tuple[Message, list[dict]]]:
        """What to post for one message: (message without its file, extra attachments) pairs.

        Usually one pair; two when a message too long for Teams also carried a file."""
        parts = [message]
        if not fits(message):
            parts = await self._split_long(message, person_id)
        return [await self._with_file(part, person_id, personal) for part in parts]

    async def _split_long(self, message: Message, person_id: int | None) -> list[Message]:
        text = strip_markers(message.text)
        if message.facts:
            text += "\n\n" + "\n".join(f"{strip_markers(k)}: {strip_markers(v)}"
                                       for k, v in message.facts)
        line = self.texts.render(await self.language(person_id), "teams/long_message")
        short = replace(message, text=line, facts=(),
                        attachment=(LONG_TEXT, "text/plain", text.encode("utf-8")))
        if message.attachment is None:
            return [short]
        return [short, Message("", attachment=message.attachment)]

    async def _with_file(self, message: Message, person_id: int | None,
                         personal: bool) -> tuple[Message, list[dict]]:
        if message.attachment is None:
            return message, []
        file = File(*message.attachment)
        bare = replace(message, attachment=None)
        if person_id is None:  # a stranger is sent no file; nothing of theirs is stored
            return bare, []
        lang = await self.language(person_id)
        if personal:
            offer_id = await self._in_db(offer_file, person_id, file)
            return bare, [self.consent_card(offer_id, file, lang)]
        return self._with_line(bare, await self.link_line(person_id, file, lang)), []

    def consent_card(self, offer_id: str, file: File, lang: str) -> dict:
        context = {"offer": offer_id}
        return {"contentType": CONSENT_TYPE, "name": file.name, "content": {
            "description": strip_markers(self.texts.render(lang, "teams/file_description",
                                                           name=file.name)),
            "sizeInBytes": len(file.content),
            "acceptContext": context, "declineContext": context}}

    async def link_line(self, person_id: int, file: File, lang: str) -> str:
        token = await self._in_db(link_file, person_id, file)
        url = f"{self.public_url}/files/{token}"
        return self.texts.render(lang, "teams/file_link", name=file.name, url=Markup(url))

    # The consent invoke -------------------------------------------------------------------------
    async def on_consent(self, activity: dict, user_id: str) -> list[Message | dict]:
        """Answer a `fileConsent/invoke`: what to post back (messages, or a file info card
        activity). Only the person the file was offered to can take it."""
        person_id = await asyncio.to_thread(self._person_id, user_id) if user_id else None
        value = activity.get("value") if isinstance(activity.get("value"), dict) else {}
        context = value.get("context") if isinstance(value.get("context"), dict) else {}
        offer_id = str(context.get("offer") or "")[:40]
        if person_id is None or not offer_id:
            return []
        file = await self._in_db(take_offer, offer_id, person_id)
        lang = await self.language(person_id)
        if value.get("action") != "accept":
            return [Message(self.texts.render(lang, "teams/file_declined",
                                              name=file.name if file else ""))]
        if file is None:
            return [Message(self.texts.render(lang, "teams/file_gone"))]
        upload = value.get("uploadInfo") if isinstance(value.get("uploadInfo"), dict) else {}
        if await self.upload(str(upload.get("uploadUrl") or ""), file.content):
            return [{"type": "message", "attachments": [{
                "contentType": INFO_TYPE, "name": str(upload.get("name") or file.name),
                "contentUrl": str(upload.get("contentUrl") or ""),
                "content": {"uniqueId": str(upload.get("uniqueId") or ""),
                            "fileType": str(upload.get("fileType") or "")}}]}]
        return [Message(await self.link_line(person_id, file, lang))]

    async def upload(self, url: str, content: bytes) -> bool:
        """PUT the whole file to the upload URL Teams gave; no bot token goes with it."""
        parts = urlsplit(url)
        if parts.scheme != "https" and not (self.allow_http_upload and parts.scheme == "http"):
            log.warning("Teams file upload refused: the upload URL is not https")
            return False
        if parts.username or parts.password or not parts.hostname:
            log.warning("Teams file upload refused: a malformed upload URL")
            return False
        if self.allow_http_upload and not is_loopback_host(parts.hostname):
            log.warning("Teams file upload refused: the Emulator uploads to loopback only")
            return False
        size = len(content)
        headers = {"Content-Range": f"bytes 0-{size - 1}/{size}" if size else "bytes */0"}
        try:
            async with self._http().put(url, data=content, headers=headers,
                                        allow_redirects=False) as response:
                if response.status < 300:
                    return True
                log.warning("Teams file upload refused: %s", response.status)
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            log.warning("Teams file upload failed: %s", type(error).__name__)
        return False

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # Helpers --------------------------------------------------------------------------------------
    async def language(self, person_id: int | None) -> str:
        return await language_of(self.db, person_id)

    def _person_id(self, user_id: str) -> int | None:
        with self.db.unit() as session:
            person = person_by_identity(session, PLATFORM, user_id)
            return person.id if person else None

    async def _in_db(self, query, *args):
        def run():
            with self.db.unit() as session:
                return query(session, *args, self.clock.now())
        return await asyncio.to_thread(run)

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=60), trust_env=False)
        return self._session

    @staticmethod
    def _with_line(message: Message, line: str) -> Message:
        return replace(message, text=f"{message.text}\n\n{line}" if message.text else line)
