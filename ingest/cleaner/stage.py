"""cleaner: news.raw → news.articles, extraction spread over a process pool.

consume:   `news.raw` (RawPage)
transform: `ingest.cleaner.extract.clean` in a worker process (trafilatura is
           CPU-bound; the consumer loop keeps its own thread free to poll and
           commit); each page has a time limit, and a page that exceeds it or
           crashes its worker is dead-lettered with the reason
produce:   `news.articles` (Article), in the order consumed
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import structlog
from pebble import ProcessExpired, ProcessPool

from ingest.cleaner.extract import clean
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
        self.page_timeout = settings.cleaner.page_timeout.total_seconds()
        workers = settings.cleaner.workers or os.cpu_count() or 1
        self.pool = ProcessPool(max_workers=workers, max_tasks=PAGES_PER_WORKER)

    def handle_batch(self, batch: Sequence[Inbound]) -> list[Result]:
        futures: list[Any] = []
        for inbound in batch:
            raw = inbound.payload_as(RawPage)
            futures.append(
                self.pool.schedule(
                    clean, args=(raw,), kwargs={"min_text_chars": self.min_text_chars},
                    timeout=self.page_timeout,
                )
            )
        results: list[Result] = []
        for inbound, future in zip(batch, futures, strict=True):
            raw = inbound.payload_as(RawPage)
            try:
                article: Article = future.result()
            except FutureTimeout:
                results.append(BadInput(
                    f"extraction of {raw.final_url} took over {self.page_timeout:.0f} s; skipped"
                ))
                continue
            except ProcessExpired as exc:
                results.append(BadInput(
                    f"extraction of {raw.final_url} crashed its worker (exit {exc.exitcode})"
                ))
                continue
            except Exception as exc:  # a page that makes the extractor raise is bad input
                results.append(BadInput(
                    f"extraction of {raw.final_url} failed: {type(exc).__name__}: {exc}"
                ))
                continue
            log.info(
                "article_cleaned", article_id=article.article_id, status=article.extraction.status,
                chars=len(article.text), published_source=article.published_source,
            )
            results.append([Output(ARTICLES, article.article_id, article)])
        return results

    def close(self) -> None:
        self.pool.stop()  # type: ignore[no-untyped-call]
        self.pool.join(timeout=5)


def build(settings: Settings) -> CleanerStage:
    return CleanerStage(settings)
