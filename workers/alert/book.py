"""The durable alert book: every capital's reports and developments, and what to publish.

An `AlertBook` owns a SQLite file (WAL, see `history_store`). For each article it records each
capital's report, asks `control.place_report` which development the report
belongs to, and returns the messages to publish on `news.alerts`:

- a new upward development (`threatened`, `entered`, `captured`) or a
  `retaken` → `news.alert.v1`, with `alert_id` derived from the capital, the
  kind and the first article that reported it;
- another report of an alerted development → `news.alert.updated.v1` with
  the same `alert_id`, all evidence so far and the corroboration (independent
  sources, outlets, stories, first and latest report);
- `repelled` is recorded (it returns the state to quiet) but never published.

"Now" is the watermark: the latest publication time seen, never ahead of the
wall clock. A report published more than `horizon` before it is old news: it
is recorded, and may corroborate, but it raises no alert; a development known
only from old news is alerted when a fresh report corroborates it.

Replays are idempotent: the messages produced for (article, capital) are
stored, and deciding the same article again returns them unchanged. The
merging of evidence and corroboration into an alert is `corroboration`'s.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType

import structlog

from ingest.core.envelope import event_id
from ingest.core.models import Alert, Article, Capital, utc_now
from workers.alert.control import place_report
from workers.alert.corroboration import capital_of, copied_articles, merged_alert
from workers.alert.history_store import HistoryStore, micros, moment
from workers.alert.incursion import Incursion
from workers.alert.vocabulary import RESETS, SENTENCE_PRIORITY, EventKind

log = structlog.get_logger()

_NEW = Alert.ce_type
_UPDATED = Alert.updated_ce_type


def alert_id_for(capital_id: str, kind: str, article_id: str) -> str:
    """The deterministic alert id: sha256 of capital, kind and first reporting article."""
    digest = hashlib.sha256(f"{capital_id}\x1f{kind}\x1f{article_id}".encode())
    return digest.hexdigest()[:32]


# What `AlertBook.decide_many` takes for each article: (article, its incursions, story id).
Decision = tuple[Article, Sequence[Incursion], str | None]


@dataclass(frozen=True, slots=True)
class Publication:
    """One message for `news.alerts`: its ce_type, CloudEvents id and payload."""

    ce_type: str
    event_id: str
    alert: Alert


class AlertBook:
    """Durable per-capital history; turns each article's incursions into publications.

    Created once per stage process with the path of its SQLite file and
    closed on shutdown (or used as a context manager). Decisions are
    serialised by a lock, and across processes sharing the file by SQLite's
    write lock. `capital_lookup` maps a place_id to the capital's gazetteer
    record; when it returns None the capital is built from the geotagger's
    `Place` if that has coordinates. `clock` is the wall clock, used only to
    keep the watermark from running ahead of it and for `detected_at`.
    """

    def __init__(
        self,
        path: Path | str,
        capital_lookup: Callable[[str], Capital | None],
        *,
        quiet_period: timedelta = timedelta(days=14),
        horizon: timedelta = timedelta(days=3),
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._lookup = capital_lookup
        self._quiet_us = int(quiet_period.total_seconds() * 1_000_000)
        self._horizon_us = int(horizon.total_seconds() * 1_000_000)
        self._clock = clock
        self._lock = threading.Lock()
        self._store = HistoryStore(path)
        # Articles without incursions move the watermark in memory only (no write
        # per article); it is stored with every decision that depends on it.
        self._watermark_us: int | None = self._store.watermark()

    def __enter__(self) -> AlertBook:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the database; the book must not be used afterwards."""
        with self._lock:
            self._store.close()

    def watermark(self) -> datetime | None:
        """The latest publication time seen (clamped to the wall clock), or None."""
        return None if self._watermark_us is None else moment(self._watermark_us)

    def decide(
        self, article: Article, incursions: Sequence[Incursion], story_id: str | None = None
    ) -> list[Publication]:
        """The messages `article` produces, capitals in first-mention order.

        `story_id` groups syndicated copies (default: the article id). Also
        advances the watermark, even when there are no incursions.
        """
        return self.decide_many([(article, incursions, story_id)])[0]

    def decide_many(self, items: Sequence[Decision]) -> list[list[Publication]]:
        """`decide` for each (article, incursions, story id), in order, in one write.

        One transaction, so one durable commit (fsync) per batch instead of
        one per article with incursions. A caller that acknowledges its input
        only after this returns (the stage commits offsets after
        `handle_batch`) keeps the guarantee of a commit per article: a crash
        before the commit loses the whole batch's decisions, and the batch is
        replayed.
        """
        with self._lock:
            if not any(incursions for _, incursions, _ in items):
                for article, _, _ in items:
                    self._see(article)
                return [[] for _ in items]
            with self._store.transaction():
                return [self._decide(*item) for item in items]

    def _see(self, article: Article) -> int:
        """Move the watermark in memory (stored with the next decision that needs it)."""
        seen = min(micros(article.published), micros(self._clock()))
        self._watermark_us = max(seen, self._watermark_us or seen)
        return self._watermark_us

    def _decide(
        self, article: Article, incursions: Sequence[Incursion], story_id: str | None
    ) -> list[Publication]:
        by_capital: dict[str, list[Incursion]] = {}
        for incursion in incursions:
            by_capital.setdefault(incursion.capital.place_id, []).append(incursion)
        story = story_id or article.article_id
        seen = self._see(article)
        if not by_capital:
            return []
        watermark = self._watermark_us = self._store.advance_watermark(seen)
        out: list[Publication] = []
        for capital_id, group in by_capital.items():
            out += self._decide_capital(article, story, capital_id, group, watermark)
        return out

    def _decide_capital(
        self,
        article: Article,
        story: str,
        capital_id: str,
        incursions: list[Incursion],
        watermark: int,
    ) -> list[Publication]:
        stored = self._store.handled(article.article_id, capital_id)
        if stored is not None:
            log.info("alert_replayed", capital=capital_id, article_id=article.article_id)
            return [
                Publication(ce, eid, Alert.model_validate_json(payload))
                for ce, eid, payload in json.loads(stored)
            ]
        at_us = micros(article.published)
        fresh = at_us >= watermark - self._horizon_us
        out: list[Publication] = []
        for group in _by_role(incursions):
            publication = self._report(article, story, capital_id, group, at_us, fresh=fresh)
            if publication is not None:
                out.append(publication)
        self._store.mark_handled(
            article.article_id,
            capital_id,
            json.dumps([[p.ce_type, p.event_id, p.alert.model_dump_json()] for p in out]),
        )
        return out

    def _report(
        self,
        article: Article,
        story: str,
        capital_id: str,
        group: list[Incursion],
        at_us: int,
        *,
        fresh: bool,
    ) -> Publication | None:
        strongest = max(group, key=lambda inc: (SENTENCE_PRIORITY[inc.kind], inc.confidence))
        reports, developments = self._store.capital_history(capital_id, at_us, self._quiet_us)
        placement = place_report(strongest.kind, at_us, reports, developments, self._quiet_us)
        kind = placement.kind
        dev_id = placement.dev_id
        if dev_id is None:
            dev_id = alert_id_for(capital_id, kind, article.article_id)
            self._store.add_development(dev_id, capital_id, kind, at_us)
        # Parsed once: the payload serves the copy test and the merge alike.
        dev_kind, alerted, payload = self._store.development(dev_id)
        previous = None if payload is None else Alert.model_validate_json(payload)
        for copied in copied_articles(previous, group):
            found = self._store.story_of(capital_id, copied)
            if found is not None:
                story = found or story
                break
        self._store.add_report(
            capital_id,
            article.article_id,
            kind=kind,
            dev_id=dev_id,
            story=story,
            outlet=article.source,
            at_us=at_us,
        )
        log.info(
            "incursion_reported",
            capital=capital_id,
            kind=kind,
            development=dev_id,
            new=placement.dev_id is None,
            fresh=fresh,
            article_id=article.article_id,
        )
        if kind == "repelled":
            return None
        return self._publish(
            article,
            dev_id,
            group,
            strongest,
            kind=dev_kind,
            alerted=alerted,
            previous=previous,
            fresh=fresh,
        )

    def _publish(
        self,
        article: Article,
        dev_id: str,
        group: list[Incursion],
        strongest: Incursion,
        *,
        kind: EventKind,
        alerted: bool,
        previous: Alert | None,
        fresh: bool,
    ) -> Publication | None:
        if kind == "repelled":
            return None
        capital = previous.capital if previous is not None else capital_of(strongest, self._lookup)
        if capital is None:
            log.warning("alert_capital_unknown", capital=dev_id, article_id=article.article_id)
            return None
        alert = merged_alert(
            previous,
            article=article,
            dev_id=dev_id,
            kind=kind,
            group=group,
            strongest=strongest,
            capital=capital,
            reports=self._store.development_reports(dev_id),
            clock=self._clock,
        )
        now_alerted = alerted or fresh
        self._store.set_alert(dev_id, now_alerted, alert.model_dump_json())
        if not now_alerted:
            log.info("old_news_recorded", development=dev_id, article_id=article.article_id)
            return None
        if not alerted:
            log.info(
                "alert_raised",
                alert_id=dev_id,
                capital=alert.capital.name,
                kind=alert.kind,
                actor=alert.actor,
                article_id=article.article_id,
            )
            return Publication(_NEW, dev_id, alert)
        log.info("alert_updated", alert_id=dev_id, sources=alert.sources)
        return Publication(_UPDATED, event_id(_UPDATED, dev_id, article.article_id), alert)

    def history(self, capital_id: str) -> list[tuple[datetime, EventKind, str]]:
        """The capital's reports as (publication time, kind, development id), oldest first."""
        return [(moment(at), kind, dev) for at, kind, dev in self._store.reports_of(capital_id)]

    def prune(self, before: datetime) -> int:
        """Forget developments whose every report is older than `before`; returns how many.

        Safe once `before` is older than the watermark minus horizon and quiet
        period: such developments can no longer be corroborated by a report
        that could raise an alert.
        """
        with self._lock:
            return self._store.prune(micros(before))


def _by_role(incursions: list[Incursion]) -> list[list[Incursion]]:
    """An article's incursions of one capital as at most two reports: the
    strongest upward kind, then any reset ("entered ... but were driven out")."""
    upward = [inc for inc in incursions if inc.kind not in RESETS]
    resets = [inc for inc in incursions if inc.kind in RESETS]
    return [group for group in (upward, resets) if group]
