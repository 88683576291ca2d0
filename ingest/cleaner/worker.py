"""What runs inside a cleaner pool process: `clean` plus trafilatura's cache hygiene.

trafilatura memoises parsed dates, tokenised text and its own dedupe filter
per process; in a daemon those caches only grow. Each worker process resets
them every `reset_every` pages it has cleaned, on top of the pool replacing
a worker after `CleanerStage`'s `max_tasks` pages.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from trafilatura.meta import reset_caches

from ingest.cleaner.extract import clean
from ingest.core.models import Article, RawPage

log = structlog.get_logger()


@dataclass
class _Tally:
    cleaned: int = 0
    resets: int = 0


# Per process: a forked worker starts from the parent's tally, which stays at
# zero because the parent never cleans a page itself.
TALLY = _Tally()


def clean_in_worker(
    raw: RawPage, *, min_text_chars: int, max_page_chars: int, fast: bool, reset_every: int
) -> Article:
    """`clean(raw)`, resetting trafilatura's caches after every `reset_every`-th page."""
    article = clean(raw, min_text_chars=min_text_chars, max_page_chars=max_page_chars, fast=fast)
    TALLY.cleaned += 1
    if TALLY.cleaned % reset_every == 0:
        reset_caches()
        TALLY.resets += 1
        log.debug("trafilatura_caches_reset", pages=TALLY.cleaned)
    return article
