"""Emulator mode (TEAMS_EMULATOR=1) uploads consented files over http, but only to this machine:
an upload URL in a forged fileConsent/invoke must never make the bot PUT a file elsewhere."""
from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from bot.teams.files import TeamsFiles


@pytest.mark.parametrize("url", ["http://10.1.2.3/upload", "http://169.254.169.254/latest",
                                 "https://example.org/upload", "http://attacker.test:8080/u"])
async def test_the_emulator_uploads_to_loopback_only(url):
    attempts: list[str] = []

    class NoNetwork:  # records any attempt: this machine cannot reach those hosts anyway
        def put(self, target, **_):
            attempts.append(target)
            raise AssertionError(f"the bot tried to upload to {target}")

    files = TeamsFiles(None, None, None, public_url="", allow_http_upload=True)
    files._http = NoNetwork
    assert await asyncio.wait_for(files.upload(url, b"private export"), 5) is False
    assert attempts == []


async def test_a_loopback_upload_still_works_in_emulator_mode():
    received: list[bytes] = []

    async def put(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.Response(status=201)

    app = web.Application()
    app.router.add_put("/upload", put)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    files = TeamsFiles(None, None, None, public_url="", allow_http_upload=True)
    try:
        assert await files.upload(f"http://127.0.0.1:{port}/upload", b"the invite") is True
        assert received == [b"the invite"]
    finally:
        await files.close()
        await runner.cleanup()
