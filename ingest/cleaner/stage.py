"""cleaner: news.raw → news.articles, extraction spread over a process pool.

consume:   `news.raw` (RawPage)
transform: `ingest.cleaner.extract.clean` in a worker process (trafilatura is
           CPU-bound): a `ConcurrentStage`, so the runner keeps polling, decoding
           and committing while up to `max_in_flight` pages are in the pool and
           no batch waits for its slowest page. Each page has a time limit; a
           page that exceeds it or crashes its worker is dead-lettered with the
           reason. Workers reset
           trafilatura's caches every `reset_caches_every` pages and are
           replaced after `PAGES_PER_WORKER`, so memory stays bounded.
produce:   `news.articles` (Article), in the order consumed
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

import structlog
from pebble import ProcessExpired, ProcessPool

from ingest.cleaner.language import warm_up
from ingest.cleaner.worker import clean_in_worker
from ingest.core.models import Article, RawPage
from ingest.core.runtime import BadInput, Inbound, Output, Result, Submits, then
from ingest.core.settings import Settings
from ingest.core.topics import ARTICLES, RAW

log = structlog.get_logger()

# trafilatura keeps per-process caches; a fresh worker now and then bounds memory.
PAGES_PER_WORKER = 2000
# Pages handed to the pool ahead of the workers, so that none idles while the
# runner produces, commits, polls and decodes; more only holds more pages in memory.
PAGES_QUEUED_PER_WORKER = 8


class CleanerStage(Submits):
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
        self.max_in_flight = workers * PAGES_QUEUED_PER_WORKER

    def submit_batch(self, batch: Sequence[Inbound]) -> list[Future[Result]]:
        """Schedule every page on the pool; each future ends with the page's article or reason."""
        return [self._schedule(inbound.payload_as(RawPage)) for inbound in batch]

    def _schedule(self, raw: RawPage) -> Future[Result]:
        extraction = self.pool.schedule(
            clean_in_worker,
            args=(raw,),
            kwargs={
                "min_text_chars": self.min_text_chars,
                "max_page_chars": self.max_page_chars,
                "fast": self.fast,
                "reset_every": self.reset_every,
            },
            timeout=self.page_timeout,
        )
        return then(extraction, lambda done: self._result(raw, done))

    def _result(self, raw: RawPage, extraction: Future[Article]) -> Result:
        try:
            article = extraction.result()
        except FutureTimeout:
            return BadInput(
                f"extraction of {raw.final_url} took over the {self.page_timeout:g} s "
                "per-page limit; its worker was stopped"
            )
        except ProcessExpired as exc:
            return BadInput(
                f"extraction of {raw.final_url} crashed its worker (exit {exc.exitcode})"
            )
        except Exception as exc:  # a page that makes the extractor raise is bad input
            return BadInput(f"extraction of {raw.final_url} failed: {type(exc).__name__}: {exc}")
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
        return [Output(ARTICLES, article.article_id, article)]

    def close(self) -> None:
        self.pool.stop()  # type: ignore[no-untyped-call]
        self.pool.join(timeout=5)


def build(settings: Settings) -> CleanerStage:
    return CleanerStage(settings)
