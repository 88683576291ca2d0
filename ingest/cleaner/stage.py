"""cleaner: news.raw → news.articles, extraction spread over a process pool.

consume:   `news.raw` (RawPage)
transform: `ingest.cleaner.extract.clean` in a worker process (trafilatura is
           CPU-bound; the consumer loop keeps its own thread free to poll and
           commit); each page has a time limit, and a page that exceeds it or
           crashes its worker is dead-lettered with the reason. Workers reset
           trafilatura's caches every `reset_caches_every` pages and are
           replaced after `PAGES_PER_WORKER`, so memory stays bounded.
produce:   `news.articles` (Article), in the order consumed
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import structlog
from pebble import ProcessExpired, ProcessPool

from ingest.cleaner.language import warm_up
from ingest.cleaner.worker import clean_in_worker
from ingest.core.models import Article, RawPage
from ingest.core.runtime import BadInput, Inbound, Output, Result
from ingest.core.settings import Settings
from ingest.core.topics import ARTICLES, RAW

log = structlog.get_logger()

# trafilatura keeps per-process caches; a fresh worker now and then bounds memory.
PAGES_PER_WORKER = 2000


class CleanerStage:
    name = "cleaner"
    input = RAW

    def __init__(self, settings: Settings) -> None:
        self.min_text_chars = settings.cleaner.min_text_chars
        self.max_page_chars = settings.cleaner.max_page_chars
        self.reset_every = settings.cleaner.reset_caches_every
        self.fast = settings.cleaner.fast_extraction
        self.page_timeout = settings.cleaner.page_timeout.total_seconds()
        workers = settings.cleaner.workers or os.cpu_count() or 1
        warm_up()  # load the language model once, before the workers fork
        self.pool = ProcessPool(max_workers=workers, max_tasks=PAGES_PER_WORKER)

    def handle_batch(self, batch: Sequence[Inbound]) -> list[Result]:
        raws = [inbound.payload_as(RawPage) for inbound in batch]
        futures: dict[int, Any] = {}
        # Longest pages first: the batch ends when its slowest page does, so
        # starting the long ones early keeps every worker busy to the end.
        for position in sorted(range(len(raws)), key=lambda i: -len(raws[i].html)):
            futures[position] = self.pool.schedule(
                clean_in_worker,
                args=(raws[position],),
                kwargs={
                    "min_text_chars": self.min_text_chars,
                    "max_page_chars": self.max_page_chars,
                    "fast": self.fast,
                    "reset_every": self.reset_every,
                },
                timeout=self.page_timeout,
            )
        results: list[Result] = []
        for position, raw in enumerate(raws):
            try:
                article: Article = futures[position].result()
            except FutureTimeout:
                results.append(
                    BadInput(
                        f"extraction of {raw.final_url} took over the {self.page_timeout:g} s "
                        "per-page limit; its worker was stopped"
                    )
                )
                continue
            except ProcessExpired as exc:
                results.append(
                    BadInput(
                        f"extraction of {raw.final_url} crashed its worker (exit {exc.exitcode})"
                    )
                )
                continue
            except Exception as exc:  # a page that makes the extractor raise is bad input
                results.append(
                    BadInput(f"extraction of {raw.final_url} failed: {type(exc).__name__}: {exc}")
                )
                continue
            log.info(
                "article_cleaned",
                article_id=article.article_id,
                status=article.extraction.status,
                chars=len(article.text),
                published_source=article.published_source,
                page_kind=article.extraction.page_kind,
                language=article.language,
                reason=article.extraction.reason,
            )
            results.append([Output(ARTICLES, article.article_id, article)])
        return results

    def close(self) -> None:
        self.pool.stop()  # type: ignore[no-untyped-call]
        self.pool.join(timeout=5)


def build(settings: Settings) -> CleanerStage:
    return CleanerStage(settings)
