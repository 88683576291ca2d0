"""dedupe: news.articles → news.unique (first copies) or news.duplicates.

consume:   `news.articles` (Article)
transform: `DedupeIndex.check_and_add`: canonical URL and normalised-text hash
           against a durable index of the last `dedupe.window`; replaying an
           article gives the verdict it got the first time
produce:   `news.unique` or `news.duplicates` (Deduped)
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from ingest.core.models import Article
from ingest.core.runtime import Inbound, Output, Result
from ingest.core.settings import Settings
from ingest.core.topics import ARTICLES, DUPLICATES, UNIQUE
from workers.dedupe.index import DedupeIndex

log = structlog.get_logger()


class DedupeStage:
    name = "dedupe"
    input = ARTICLES

    def __init__(self, settings: Settings) -> None:
        self.index = DedupeIndex(
            settings.data_dir / "dedupe.sqlite3",
            window=settings.dedupe.window,
            min_text_chars=settings.dedupe.min_text_chars,
        )

    def handle_batch(self, batch: Sequence[Inbound]) -> list[Result]:
        # One index transaction per batch; a replay gets the verdicts recorded here.
        verdicts = self.index.check_and_add_all(inbound.payload_as(Article) for inbound in batch)
        results: list[Result] = []
        for verdict in verdicts:
            article_id = verdict.article.article_id
            topic = UNIQUE if verdict.duplicate_of is None else DUPLICATES
            log.info(
                "article_deduped", article_id=article_id, topic=topic.name,
                duplicate_of=verdict.duplicate_of, match=verdict.match,
            )
            results.append([Output(topic, article_id, verdict)])
        return results

    def close(self) -> None:
        self.index.close()


def build(settings: Settings) -> DedupeStage:
    return DedupeStage(settings)
