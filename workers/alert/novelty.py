"""Alert novelty: is an incursion a new development, or one already alerted on?

An `AlertBook` owns a SQLite file (WAL) holding every alert it has raised.
A capital's incursion is new when no alert of the same or a higher kind was
raised for that capital within the novelty window, measured in event time
(the articles' publication times), so replaying old topics decides the same
way as live traffic. Escalation (threatened, then entered, then captured)
raises a new alert each step.

Replays are idempotent: the alert raised for (capital, article) is stored
whole, and when that article is decided again (redelivery after a crash) the
stored alert is returned unchanged, `detected_at` included. A different
article reporting the same development gets None.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType

import structlog

from ingest.core.models import Alert, AlertKind, Article, Capital, Evidence, utc_now
from workers.alert.detect import Incursion
from workers.alert.vocabulary import KIND_RANK

log = structlog.get_logger()

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    alert_id    TEXT PRIMARY KEY,
    capital_id  TEXT NOT NULL,
    article_id  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    rank        INTEGER NOT NULL,
    reported_us INTEGER NOT NULL,
    payload     TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_by_article ON alerts (capital_id, article_id);
CREATE INDEX IF NOT EXISTS alerts_by_time ON alerts (capital_id, reported_us);
"""


def alert_id_for(capital_id: str, kind: AlertKind, article_id: str) -> str:
    """The deterministic alert id: sha256 of capital, kind and triggering article."""
    digest = hashlib.sha256(f"{capital_id}\x1f{kind}\x1f{article_id}".encode())
    return digest.hexdigest()[:32]


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _strongest(incursions: Sequence[Incursion]) -> Incursion:
    return max(incursions, key=lambda inc: (KIND_RANK[inc.kind], inc.confidence))


class AlertBook:
    """Durable per-capital alert history; decides which incursions become alerts.

    Created once per stage process with the path of its SQLite file and
    closed on shutdown (or used as a context manager). Safe to call from
    several threads: decisions are serialised by a lock, and across processes
    sharing the file by SQLite's write lock. `capital_lookup` maps a place_id
    to the capital's gazetteer record; when it returns None the capital is
    built from the geotagger's `Place` if that has coordinates.
    """

    def __init__(
        self,
        path: Path | str,
        capital_lookup: Callable[[str], Capital | None],
        window: timedelta,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._lookup = capital_lookup
        self._window_us = int(window.total_seconds() * 1_000_000)
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # Alerts are rare and each one must survive a power cut once produced.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

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

    def decide(self, article: Article, incursions: Sequence[Incursion]) -> list[Alert]:
        """The alerts `article` raises: at most one per capital, in first-mention order."""
        by_capital: dict[str, list[Incursion]] = {}
        for incursion in incursions:
            by_capital.setdefault(incursion.capital.place_id, []).append(incursion)
        alerts: list[Alert] = []
        for group in by_capital.values():
            alert = self.decide_capital(article, group)
            if alert is not None:
                alerts.append(alert)
        return alerts

    def decide_capital(self, article: Article, incursions: Sequence[Incursion]) -> Alert | None:
        """The alert for one capital's incursions in `article`, or None if not new.

        All `incursions` must be about the same capital. The alert has the
        strongest kind among them and every distinct evidence sentence.
        """
        if not incursions:
            return None
        capital_id = incursions[0].capital.place_id
        if any(inc.capital.place_id != capital_id for inc in incursions):
            raise ValueError("decide_capital takes the incursions of one capital")
        strongest = _strongest(incursions)
        reported = _micros(article.published)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                alert = self._decide_locked(article, incursions, strongest, reported)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return alert

    def _decide_locked(
        self,
        article: Article,
        incursions: Sequence[Incursion],
        strongest: Incursion,
        reported: int,
    ) -> Alert | None:
        capital_id = strongest.capital.place_id
        row = self._db.execute(
            "SELECT payload FROM alerts WHERE capital_id = ? AND article_id = ?",
            (capital_id, article.article_id),
        ).fetchone()
        if row is not None:
            log.info("alert_replayed", capital=capital_id, article_id=article.article_id)
            return Alert.model_validate_json(row[0])
        earlier = self._db.execute(
            "SELECT alert_id, kind FROM alerts WHERE capital_id = ? AND rank >= ?"
            " AND reported_us > ? AND reported_us < ? ORDER BY reported_us LIMIT 1",
            (
                capital_id,
                KIND_RANK[strongest.kind],
                reported - self._window_us,
                reported + self._window_us,
            ),
        ).fetchone()
        if earlier is not None:
            log.debug(
                "alert_not_new",
                capital=capital_id,
                kind=strongest.kind,
                article_id=article.article_id,
                earlier_alert=earlier[0],
                earlier_kind=earlier[1],
            )
            return None
        capital = self._capital(strongest)
        if capital is None:
            log.warning("alert_capital_unknown", capital=capital_id, article_id=article.article_id)
            return None
        alert = self._build(article, incursions, strongest, capital)
        self._db.execute(
            "INSERT INTO alerts"
            " (alert_id, capital_id, article_id, kind, rank, reported_us, payload)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                alert.alert_id,
                capital_id,
                article.article_id,
                alert.kind,
                KIND_RANK[alert.kind],
                reported,
                alert.model_dump_json(),
            ),
        )
        log.info(
            "alert_raised",
            alert_id=alert.alert_id,
            capital=capital.name,
            kind=alert.kind,
            actor=alert.actor,
            article_id=article.article_id,
        )
        return alert

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

    def _build(
        self,
        article: Article,
        incursions: Sequence[Incursion],
        strongest: Incursion,
        capital: Capital,
    ) -> Alert:
        sentences = list(dict.fromkeys(inc.sentence for inc in incursions))
        evidence = [
            Evidence(
                article_id=article.article_id,
                url=article.url,
                source=article.source,
                title=article.title,
                sentence=sentence,
                published=article.published,
            )
            for sentence in sentences
        ]
        return Alert(
            alert_id=alert_id_for(strongest.capital.place_id, strongest.kind, article.article_id),
            kind=strongest.kind,
            actor=strongest.actor,
            capital=capital,
            confidence=strongest.confidence,
            reported_at=article.published,
            detected_at=self._clock(),
            evidence=evidence,
        )

    def prune(self, before: datetime) -> int:
        """Forget alerts reported before `before` (event time); returns how many.

        Safe once `before` is older than the stage's horizon plus the window:
        such alerts can no longer suppress anything, and articles that old are
        not alerted on at all.
        """
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM alerts WHERE reported_us < ?", (_micros(before),)
            )
        return cursor.rowcount
