"""The yardstick for bench/chat_latency.py: a bare Bolt AsyncApp served by aiohttp that only
acknowledges `/mentor`. Same signing secret, same Web API (SLACK_API_URL), same aiohttp adapter
and logging set-up as `app.py serve`, nothing else. Like `serve`, it runs the listener before
answering (process_before_response), so Bolt's 10 ms look for the ack is no floor for either.

    SLACK_BOT_TOKEN=… SLACK_SIGNING_SECRET=… SLACK_API_URL=… PORT=… python bench/_bare_bolt.py
"""
from __future__ import annotations

import logging
import os

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient


def main() -> None:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    client = AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"],
                            base_url=os.environ["SLACK_API_URL"], timeout=15)
    bolt = AsyncApp(signing_secret=os.environ["SLACK_SIGNING_SECRET"], client=client,
                    process_before_response=True)

    @bolt.command("/mentor")
    async def only_ack(ack) -> None:
        await ack()

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post("/slack/events", events)
    web.run_app(app, host="127.0.0.1", port=int(os.environ["PORT"]), print=None)


if __name__ == "__main__":
    main()
