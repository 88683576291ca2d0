"""fetcher: news.items → news.raw, each item's article page downloaded.

consume:   `news.items` (Item)
transform: `fetch_page` for every item as it arrives, on one event loop (its
           own thread) and one HTTP client that live as long as the stage (the
           client enforces the global and per-host concurrency limits,
           timeouts and the size cap; `HostPacer` spaces requests to one host;
           `RobotsCache` applies robots.txt unless the item's feed or
           `[http] robots_txt` turns it off); a transient failure is retried a
           few times with backoff, a permanent one (404, 410, refused address,
           not HTML, disallowed by robots.txt) is dead-lettered with its reason
produce:   `news.raw` (RawPage), in the order consumed within each partition:
           a page goes out as soon as it and the pages before it are fetched,
           not when the whole polled batch is (the cleaner starts on the first
           pages while the rest download)
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

import structlog

from ingest.core.http_client import HttpClient
from ingest.core.models import Item
from ingest.core.observability import MetricsServer
from ingest.core.runtime import BadInput, Inbound, Output, Result, Submits
from ingest.core.settings import Settings
from ingest.core.topics import ITEMS, RAW
from ingest.fetcher.fetch import FetchError, fetch_page
from ingest.fetcher.pacing import HostPacer
from ingest.fetcher.robots import RobotsCache
from ingest.poller.telemetry import FetcherMetrics

log = structlog.get_logger()

ATTEMPTS = 3
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0


class FetcherStage(Submits):
    name = "fetcher"
    input = ITEMS

    def __init__(self, settings: Settings) -> None:
        http = settings.http
        self.max_bytes = http.max_page_bytes
        self.max_in_flight = settings.kafka.max_poll_records  # the client bounds the requests
        self.loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(
            target=self.loop.run_forever, name="fetcher-loop", daemon=True
        )
        self._loop_thread.start()
        self.client = HttpClient(http)
        self.robots = RobotsCache(self.client, ttl_s=http.robots_cache.total_seconds())
        self.pacer = HostPacer(http.per_host_min_interval.total_seconds())
        self.obey = {f.url: f.robots for f in settings.feeds if f.robots is not None}
        self.obey_default = http.robots_txt
        self.metrics = FetcherMetrics()
        self.server = None
        if http.fetcher_metrics_port:
            self.server = MetricsServer(
                settings.poller.metrics_host, http.fetcher_metrics_port,
                registry=self.metrics.registry, health=self._health,
            )

    def submit_batch(self, batch: Sequence[Inbound]) -> list[Future[Result]]:
        """Start fetching every item; each future ends with the item's page or reason."""
        items = [inbound.payload_as(Item) for inbound in batch]
        return [asyncio.run_coroutine_threadsafe(self._fetch(item), self.loop) for item in items]

    async def _fetch(self, item: Item) -> Result:
        robots = self.robots if self.obey.get(item.feed_url, self.obey_default) else None
        for attempt in range(1, ATTEMPTS + 1):
            started = time.monotonic()
            try:
                page = await fetch_page(self.client, item, self.max_bytes, robots=robots,
                                        pacer=self.pacer)
            except FetchError as exc:
                self.metrics.latency.observe(time.monotonic() - started)
                if exc.permanent or attempt == ATTEMPTS:
                    self.metrics.pages.labels("failed").inc()
                    log.warning("page_not_fetched", url=item.url, reason=str(exc),
                                attempts=attempt, permanent=exc.permanent)
                    return BadInput(str(exc) if exc.permanent
                                    else f"{exc} (gave up after {attempt} attempts)")
                self.metrics.pages.labels("retried").inc()
                delay = exc.retry_after or FIRST_BACKOFF_S * 2 ** (attempt - 1)
                await asyncio.sleep(min(delay, MAX_BACKOFF_S) * random.uniform(0.8, 1.2))
                continue
            self.metrics.latency.observe(page.elapsed_ms / 1000.0)
            self.metrics.pages.labels("fetched").inc()
            self.metrics.bytes.inc(len(page.html))
            log.info("page_fetched", url=item.url, final_url=page.final_url, status=page.status,
                     chars=len(page.html), truncated=page.truncated, ms=round(page.elapsed_ms))
            return [Output(RAW, item.item_id, page)]
        raise AssertionError("unreachable: the last attempt returns")

    def _health(self) -> tuple[bool, dict[str, Any]]:
        return self._loop_thread.is_alive() and not self.loop.is_closed(), {}

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
        asyncio.run_coroutine_threadsafe(self.client.close(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._loop_thread.join(timeout=10)
        self.loop.close()


def build(settings: Settings) -> FetcherStage:
    return FetcherStage(settings)
