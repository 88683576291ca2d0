"""fetcher: news.items → news.raw, each item's article page downloaded.

consume:   `news.items` (Item)
transform: `fetch_page` for the whole batch concurrently, on one event loop and
           one HTTP client that live as long as the stage (the client enforces
           the global and per-host limits, timeouts and the size cap); a
           transient failure is retried a few times with backoff, a permanent
           one (404, 410, refused address, not HTML) is dead-lettered with its
           reason
produce:   `news.raw` (RawPage), in the order consumed
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence

import structlog

from ingest.core.http_client import HttpClient
from ingest.core.models import Item
from ingest.core.runtime import BadInput, Inbound, Output, Result
from ingest.core.settings import Settings
from ingest.core.topics import ITEMS, RAW
from ingest.fetcher.fetch import FetchError, fetch_page

log = structlog.get_logger()

ATTEMPTS = 3
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0


class FetcherStage:
    name = "fetcher"
    input = ITEMS

    def __init__(self, settings: Settings) -> None:
        self.max_bytes = settings.http.max_page_bytes
        self.loop = asyncio.new_event_loop()
        self.client = HttpClient(settings.http)

    def handle_batch(self, batch: Sequence[Inbound]) -> list[Result]:
        items = [inbound.payload_as(Item) for inbound in batch]
        return self.loop.run_until_complete(self._fetch_all(items))

    async def _fetch_all(self, items: list[Item]) -> list[Result]:
        return list(await asyncio.gather(*(self._fetch(item) for item in items)))

    async def _fetch(self, item: Item) -> Result:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                page = await fetch_page(self.client, item, self.max_bytes)
            except FetchError as exc:
                if exc.permanent or attempt == ATTEMPTS:
                    log.warning("page_not_fetched", url=item.url, reason=str(exc),
                                attempts=attempt, permanent=exc.permanent)
                    return BadInput(str(exc) if exc.permanent
                                    else f"{exc} (gave up after {attempt} attempts)")
                delay = exc.retry_after or FIRST_BACKOFF_S * 2 ** (attempt - 1)
                await asyncio.sleep(min(delay, MAX_BACKOFF_S) * random.uniform(0.8, 1.2))
                continue
            log.info("page_fetched", url=item.url, final_url=page.final_url, status=page.status,
                     chars=len(page.html), truncated=page.truncated, ms=round(page.elapsed_ms))
            return [Output(RAW, item.item_id, page)]
        raise AssertionError("unreachable: the last attempt returns")

    def close(self) -> None:
        self.loop.run_until_complete(self.client.close())
        self.loop.close()


def build(settings: Settings) -> FetcherStage:
    return FetcherStage(settings)
