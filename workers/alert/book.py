"""The durable alert book: every capital's reports and developments, and what to publish.

An `AlertBook` owns a SQLite file (WAL). For each article it records each
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
stored, and deciding the same article again returns them unchanged.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType

import structlog

from ingest.core.envelope import event_id
from ingest.core.models import Alert, Article, Capital, Evidence, utc_now
from workers.alert.control import Development, independent_sources, place_report
from workers.alert.detect import Incursion
from workers.alert.vocabulary import RESETS, SENTENCE_PRIORITY, EventKind

log = structlog.get_logger()

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS developments (
    dev_id     TEXT PRIMARY KEY,
    capital_id TEXT NOT NULL,
    kind       TEXT NOT NULL,
    first_us   INTEGER NOT NULL,
    alerted    INTEGER NOT NULL,
    payload    TEXT
);
CREATE INDEX IF NOT EXISTS developments_by_capital ON developments (capital_id);
CREATE TABLE IF NOT EXISTS reports (
    capital_id TEXT NOT NULL,
    article_id TEXT NOT NULL,
    kind       TEXT NOT NULL,
    dev_id     TEXT NOT NULL,
    story_id   TEXT NOT NULL,
    outlet     TEXT NOT NULL,
    at_us      INTEGER NOT NULL,
    PRIMARY KEY (capital_id, article_id, kind)
);
CREATE TABLE IF NOT EXISTS handled (
    article_id TEXT NOT NULL,
    capital_id TEXT NOT NULL,
    outputs    TEXT NOT NULL,
    PRIMARY KEY (article_id, capital_id)
);
"""
_NEW = Alert.ce_type
_UPDATED = Alert.updated_ce_type


def alert_id_for(capital_id: str, kind: str, article_id: str) -> str:
    """The deterministic alert id: sha256 of capital, kind and first reporting article."""
    digest = hashlib.sha256(f"{capital_id}\x1f{kind}\x1f{article_id}".encode())
    return digest.hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Publication:
    """One message for `news.alerts`: its ce_type, CloudEvents id and payload."""

    ce_type: str
    event_id: str
    alert: Alert


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _moment(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1_000_000, tz=UTC)


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
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # Alerts are rare and each one must survive a power cut once produced.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        row = self._db.execute("SELECT value FROM meta WHERE key = 'watermark'").fetchone()
        # Articles without incursions move the watermark in memory only (no write
        # per article); it is stored with every decision that depends on it.
        self._watermark_us: int | None = None if row is None else int(row[0])

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
            self._db.close()

    def watermark(self) -> datetime | None:
        """The latest publication time seen (clamped to the wall clock), or None."""
        return None if self._watermark_us is None else _moment(self._watermark_us)

    def decide(
        self, article: Article, incursions: Sequence[Incursion], story_id: str | None = None
    ) -> list[Publication]:
        """The messages `article` produces, capitals in first-mention order.

        `story_id` groups syndicated copies (default: the article id). Also
        advances the watermark, even when there are no incursions.
        """
        by_capital: dict[str, list[Incursion]] = {}
        for incursion in incursions:
            by_capital.setdefault(incursion.capital.place_id, []).append(incursion)
        story = story_id or article.article_id
        with self._lock:
            seen = min(_micros(article.published), _micros(self._clock()))
            self._watermark_us = max(seen, self._watermark_us or seen)
            if not by_capital:
                return []
            self._db.execute("BEGIN IMMEDIATE")
            try:
                watermark = self._advance(self._watermark_us)
                out: list[Publication] = []
                for capital_id, group in by_capital.items():
                    out += self._decide_capital(article, story, capital_id, group, watermark)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return out

    def _advance(self, candidate: int) -> int:
        """Store the watermark; returns the stored one (other processes may be ahead)."""
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES ('watermark', ?) ON CONFLICT (key)"
            " DO UPDATE SET value = max(value, excluded.value)",
            (candidate,),
        )
        row = self._db.execute("SELECT value FROM meta WHERE key = 'watermark'").fetchone()
        self._watermark_us = int(row[0])
        return self._watermark_us

    def _decide_capital(
        self,
        article: Article,
        story: str,
        capital_id: str,
        incursions: list[Incursion],
        watermark: int,
    ) -> list[Publication]:
        row = self._db.execute(
            "SELECT outputs FROM handled WHERE article_id = ? AND capital_id = ?",
            (article.article_id, capital_id),
        ).fetchone()
        if row is not None:
            log.info("alert_replayed", capital=capital_id, article_id=article.article_id)
            return [
                Publication(ce, eid, Alert.model_validate_json(payload))
                for ce, eid, payload in json.loads(row[0])
            ]
        at_us = _micros(article.published)
        fresh = at_us >= watermark - self._horizon_us
        out: list[Publication] = []
        for group in _by_role(incursions):
            publication = self._report(article, story, capital_id, group, at_us, fresh=fresh)
            if publication is not None:
                out.append(publication)
        self._db.execute(
            "INSERT INTO handled (article_id, capital_id, outputs) VALUES (?, ?, ?)",
            (
                article.article_id,
                capital_id,
                json.dumps([[p.ce_type, p.event_id, p.alert.model_dump_json()] for p in out]),
            ),
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
        reports = self._db.execute(
            "SELECT at_us, dev_id FROM reports WHERE capital_id = ?", (capital_id,)
        ).fetchall()
        developments = [
            Development(dev_id, kind, first_us)
            for dev_id, kind, first_us in self._db.execute(
                "SELECT dev_id, kind, first_us FROM developments WHERE capital_id = ?",
                (capital_id,),
            )
        ]
        placement = place_report(strongest.kind, at_us, reports, developments, self._quiet_us)
        kind = placement.kind
        dev_id = placement.dev_id
        if dev_id is None:
            dev_id = alert_id_for(capital_id, kind, article.article_id)
            self._db.execute(
                "INSERT INTO developments (dev_id, capital_id, kind, first_us, alerted, payload)"
                " VALUES (?, ?, ?, ?, 0, NULL)",
                (dev_id, capital_id, kind, at_us),
            )
        story = self._syndicated_story(capital_id, dev_id, group) or story
        self._db.execute(
            "INSERT OR IGNORE INTO reports"
            " (capital_id, article_id, kind, dev_id, story_id, outlet, at_us)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (capital_id, article.article_id, kind, dev_id, story, article.source, at_us),
        )
        self._db.execute(
            "UPDATE developments SET first_us = min(first_us, ?) WHERE dev_id = ?", (at_us, dev_id)
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
        return self._publish(article, dev_id, group, strongest, fresh=fresh)

    def _syndicated_story(self, capital_id: str, dev_id: str, group: list[Incursion]) -> str | None:
        """The story of an earlier report whose evidence has the same sentences.

        Dedupe gives word-for-word copies one story id, but a republished copy
        with a new intro or a cut paragraph can reach this stage as a story of
        its own; sharing an evidence sentence word for word makes it a copy.
        """
        row = self._db.execute(
            "SELECT payload FROM developments WHERE dev_id = ?", (dev_id,)
        ).fetchone()
        if row is None or row[0] is None:
            return None
        sentences = {inc.sentence for inc in group}
        for evidence in Alert.model_validate_json(row[0]).evidence:
            if evidence.sentence in sentences:
                found = self._db.execute(
                    "SELECT story_id FROM reports WHERE capital_id = ? AND article_id = ?",
                    (capital_id, evidence.article_id),
                ).fetchone()
                if found is not None:
                    return str(found[0])
        return None

    def _publish(
        self,
        article: Article,
        dev_id: str,
        group: list[Incursion],
        strongest: Incursion,
        *,
        fresh: bool,
    ) -> Publication | None:
        kind, alerted, payload = self._db.execute(
            "SELECT kind, alerted, payload FROM developments WHERE dev_id = ?", (dev_id,)
        ).fetchone()
        previous = None if payload is None else Alert.model_validate_json(payload)
        alert = self._merged(
            previous, article=article, dev_id=dev_id, kind=kind, group=group, strongest=strongest
        )
        if alert is None:
            return None
        now_alerted = bool(alerted) or fresh
        self._db.execute(
            "UPDATE developments SET alerted = ?, payload = ? WHERE dev_id = ?",
            (int(now_alerted), alert.model_dump_json(), dev_id),
        )
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

    def _merged(
        self,
        previous: Alert | None,
        *,
        article: Article,
        dev_id: str,
        kind: EventKind,
        group: list[Incursion],
        strongest: Incursion,
    ) -> Alert | None:
        """The development's alert with this article's evidence and corroboration added."""
        if kind == "repelled":
            return None
        capital = previous.capital if previous is not None else self._capital(strongest)
        if capital is None:
            log.warning("alert_capital_unknown", capital=dev_id, article_id=article.article_id)
            return None
        evidence = list(previous.evidence) if previous is not None else []
        known = {(e.article_id, e.sentence) for e in evidence}
        for sentence in dict.fromkeys(inc.sentence for inc in group):
            if (article.article_id, sentence) not in known:
                evidence.append(
                    Evidence(
                        article_id=article.article_id,
                        url=article.url,
                        source=article.source,
                        title=article.title,
                        sentence=sentence,
                        published=article.published,
                    )
                )
        evidence.sort(key=lambda e: e.published)
        rows = self._db.execute(
            "SELECT story_id, outlet, at_us FROM reports WHERE dev_id = ? ORDER BY at_us",
            (dev_id,),
        ).fetchall()
        confidence = max(strongest.confidence, previous.confidence if previous else 0.0)
        return Alert(
            alert_id=dev_id,
            kind=kind,
            actor=previous.actor if previous is not None else strongest.actor,
            capital=capital,
            confidence=confidence,
            reported_at=_moment(rows[0][2]),
            detected_at=previous.detected_at if previous is not None else self._clock(),
            evidence=evidence,
            sources=independent_sources((story, outlet) for story, outlet, _ in rows),
            outlets=sorted({outlet for _, outlet, _ in rows}),
            story_ids=sorted({story for story, _, _ in rows}),
            first_reported_at=_moment(rows[0][2]),
            latest_reported_at=_moment(rows[-1][2]),
        )

    def _capital(self, incursion: Incursion) -> Capital | None:
        place = incursion.capital
        capital = self._lookup(place.place_id)
        if capital is not None:
            return capital
        if place.lat is None or place.lon is None:
            return None
        return Capital(
            place_id=place.place_id,
            name=place.name,
            province=place.province or place.name,
            country=place.country,
            lat=place.lat,
            lon=place.lon,
            geonames_id=place.geonames_id,
        )

    def history(self, capital_id: str) -> list[tuple[datetime, EventKind, str]]:
        """The capital's reports as (publication time, kind, development id), oldest first."""
        rows = self._db.execute(
            "SELECT at_us, kind, dev_id FROM reports WHERE capital_id = ? ORDER BY at_us",
            (capital_id,),
        ).fetchall()
        return [(_moment(at), kind, dev) for at, kind, dev in rows]

    def prune(self, before: datetime) -> int:
        """Forget developments whose every report is older than `before`; returns how many.

        Safe once `before` is older than the watermark minus horizon and quiet
        period: such developments can no longer be corroborated by a report
        that could raise an alert.
        """
        cutoff = _micros(before)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            stale = [
                r[0]
                for r in self._db.execute(
                    "SELECT dev_id FROM reports GROUP BY dev_id HAVING max(at_us) < ?", (cutoff,)
                )
            ]
            for dev_id in stale:
                self._db.execute("DELETE FROM developments WHERE dev_id = ?", (dev_id,))
                self._db.execute("DELETE FROM reports WHERE dev_id = ?", (dev_id,))
            self._db.execute("COMMIT")
        return len(stale)


def _by_role(incursions: list[Incursion]) -> list[list[Incursion]]:
    """An article's incursions of one capital as at most two reports: the
    strongest upward kind, then any reset ("entered ... but were driven out")."""
    upward = [inc for inc in incursions if inc.kind not in RESETS]
    resets = [inc for inc in incursions if inc.kind in RESETS]
    return [group for group in (upward, resets) if group]
