"""Serving the subscriptions API: `news-ingest subscriptions serve` or inside notify.

`serve_api(settings, stop)` runs until `stop` is set; `serve(settings)` is the
`news_ingest.services` entry point the CLI calls, and returns after SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal

import structlog
from aiohttp import web

from ingest.core.models import DeliveryRecord, Subscription
from ingest.core.settings import Settings
from ingest.core.topics import DELIVERIES, SUBSCRIPTIONS
from workers.notify.api import SubscriptionsApi
from workers.notify.keyed_view import KeyedView, KeyedWriter

log = structlog.get_logger()


def split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


async def serve_api(
    settings: Settings, stop: asyncio.Event, started: asyncio.Future[int] | None = None
) -> None:
    """Serve on `notify.api_listen` until `stop`; `started` receives the bound port."""
    subs = await asyncio.to_thread(KeyedView, settings.kafka, SUBSCRIPTIONS, Subscription)
    deliveries = await asyncio.to_thread(KeyedView, settings.kafka, DELIVERIES, DeliveryRecord)
    writer = await asyncio.to_thread(KeyedWriter, settings.kafka, "/news-ingest/api")
    runner = web.AppRunner(SubscriptionsApi(settings, subs, deliveries, writer).app())
    await runner.setup()
    try:
        host, port = split_listen(settings.notify.api_listen)
        site = web.TCPSite(runner, host, port, reuse_address=True)
        await site.start()
        bound = runner.addresses[0][1]
        log.info("api_listening", host=host, port=bound,
                 tokens=len(settings.notify.api_token_sha256))
        if started is not None:
            started.set_result(bound)
        await stop.wait()
    finally:
        await runner.cleanup()
        writer.close()
        subs.close()
        deliveries.close()


def serve(settings: Settings) -> None:
    """Run the API in this process until SIGINT or SIGTERM."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await serve_api(settings, stop)

    asyncio.run(main())
