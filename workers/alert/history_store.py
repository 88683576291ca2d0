"""The SQLite file behind the `AlertBook`: its schema and every query on it.

Four tables: `meta` (the watermark), `developments` (one row per development
of a capital, with its alert payload once it has one), `reports` (one row per
article, capital and kind, pointing at its development) and `handled` (the
messages produced for each article and capital, so a replay returns them
unchanged). Times are stored as integer microseconds since the epoch.

The store does no locking of its own: the book serialises calls and wraps
each decision in `transaction`. It keeps each capital's report times in
memory (finding a report's episode needs them all); the copy is dropped when
a transaction rolls back or another connection has written to the file.
"""

from __future__ import annotations

import sqlite3
from bisect import bisect_left
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from ingest.core.sqlite_files import use_wal
from workers.alert.control import Development, episode_around
from workers.alert.vocabulary import EventKind

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
CREATE INDEX IF NOT EXISTS reports_by_development ON reports (dev_id, at_us);
CREATE INDEX IF NOT EXISTS reports_by_time ON reports (capital_id, at_us);
CREATE TABLE IF NOT EXISTS handled (
    article_id TEXT NOT NULL,
    capital_id TEXT NOT NULL,
    outputs    TEXT NOT NULL,
    PRIMARY KEY (article_id, capital_id)
);
"""


def micros(moment: datetime) -> int:
    """`moment` as stored: microseconds since the epoch."""
    return int(moment.timestamp() * 1_000_000)


def moment(stored: int) -> datetime:
    """A stored time back as an aware UTC datetime."""
    return datetime.fromtimestamp(stored / 1_000_000, tz=UTC)


class HistoryStore:
    """Every capital's developments and reports, durable in one SQLite file (WAL)."""

    def __init__(self, path: Path | str) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        use_wal(self._db)
        # Alerts are rare and each one must survive a power cut once produced.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        # Per capital, its distinct report times in order, as in the file.
        self._times: dict[str, list[int]] = {}
        self._data_version = self._version()

    def _version(self) -> int:
        """Changes whenever another connection commits to the file."""
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction, taken at once (other processes wait for it)."""
        self._db.execute("BEGIN IMMEDIATE")
        version = self._version()
        if version != self._data_version:
            self._times.clear()
            self._data_version = version
        try:
            yield
        except BaseException:
            self._times.clear()
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def watermark(self) -> int | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'watermark'").fetchone()
        return None if row is None else int(row[0])

    def advance_watermark(self, candidate: int) -> int:
        """Store the watermark; returns the stored one (other processes may be ahead)."""
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES ('watermark', ?) ON CONFLICT (key)"
            " DO UPDATE SET value = max(value, excluded.value)",
            (candidate,),
        )
        row = self._db.execute("SELECT value FROM meta WHERE key = 'watermark'").fetchone()
        return int(row[0])

    def handled(self, article_id: str, capital_id: str) -> str | None:
        """The outputs stored for (article, capital), or None if not yet decided."""
        row = self._db.execute(
            "SELECT outputs FROM handled WHERE article_id = ? AND capital_id = ?",
            (article_id, capital_id),
        ).fetchone()
        return None if row is None else str(row[0])

    def mark_handled(self, article_id: str, capital_id: str, outputs: str) -> None:
        self._db.execute(
            "INSERT INTO handled (article_id, capital_id, outputs) VALUES (?, ?, ?)",
            (article_id, capital_id, outputs),
        )

    def capital_history(
        self, capital_id: str, at_us: int, quiet_us: int
    ) -> tuple[list[tuple[int, str]], list[Development]]:
        """The reports, as (time, development id), of the capital's episode around
        `at_us`, and the capital's developments.

        The episode is found from the report times (kept in memory), then
        only the episode's reports are read: the rest of the history cannot
        change where a report goes (`control.place_report`).
        """
        lo, hi = episode_around(self._times_of(capital_id), at_us, quiet_us)
        reports = self._db.execute(
            "SELECT at_us, dev_id FROM reports WHERE capital_id = ? AND at_us BETWEEN ? AND ?",
            (capital_id, lo, hi),
        ).fetchall()
        developments = [
            Development(dev_id, kind, first_us)
            for dev_id, kind, first_us in self._db.execute(
                "SELECT dev_id, kind, first_us FROM developments WHERE capital_id = ?",
                (capital_id,),
            )
        ]
        return reports, developments

    def _times_of(self, capital_id: str) -> list[int]:
        times = self._times.get(capital_id)
        if times is None:
            rows = self._db.execute(
                "SELECT DISTINCT at_us FROM reports WHERE capital_id = ? ORDER BY at_us",
                (capital_id,),
            )
            times = self._times[capital_id] = [int(row[0]) for row in rows]
        return times

    def add_development(self, dev_id: str, capital_id: str, kind: EventKind, at_us: int) -> None:
        self._db.execute(
            "INSERT INTO developments (dev_id, capital_id, kind, first_us, alerted, payload)"
            " VALUES (?, ?, ?, ?, 0, NULL)",
            (dev_id, capital_id, kind, at_us),
        )

    def development(self, dev_id: str) -> tuple[EventKind, bool, str | None]:
        """A development's kind, whether it was alerted, and its alert payload (JSON)."""
        kind, alerted, payload = self._db.execute(
            "SELECT kind, alerted, payload FROM developments WHERE dev_id = ?", (dev_id,)
        ).fetchone()
        return kind, bool(alerted), payload

    def add_report(
        self,
        capital_id: str,
        article_id: str,
        *,
        kind: EventKind,
        dev_id: str,
        story: str,
        outlet: str,
        at_us: int,
    ) -> None:
        """Record a report (once per article, capital and kind) and move the
        development's first report time back if this one is earlier."""
        added = self._db.execute(
            "INSERT OR IGNORE INTO reports"
            " (capital_id, article_id, kind, dev_id, story_id, outlet, at_us)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (capital_id, article_id, kind, dev_id, story, outlet, at_us),
        ).rowcount
        times = self._times.get(capital_id)
        if added and times is not None:
            i = bisect_left(times, at_us)
            if i == len(times) or times[i] != at_us:
                times.insert(i, at_us)
        self._db.execute(
            "UPDATE developments SET first_us = min(first_us, ?) WHERE dev_id = ?", (at_us, dev_id)
        )

    def story_of(self, capital_id: str, article_id: str) -> str | None:
        """The story id an article's report of the capital was filed under."""
        found = self._db.execute(
            "SELECT story_id FROM reports WHERE capital_id = ? AND article_id = ?",
            (capital_id, article_id),
        ).fetchone()
        return None if found is None else str(found[0])

    def set_alert(self, dev_id: str, alerted: bool, payload: str) -> None:
        self._db.execute(
            "UPDATE developments SET alerted = ?, payload = ? WHERE dev_id = ?",
            (int(alerted), payload, dev_id),
        )

    def development_reports(self, dev_id: str) -> list[tuple[str, str, int]]:
        """The development's reports as (story id, outlet, time), oldest first."""
        rows = self._db.execute(
            "SELECT story_id, outlet, at_us FROM reports WHERE dev_id = ? ORDER BY at_us",
            (dev_id,),
        ).fetchall()
        return [(str(story), str(outlet), int(at)) for story, outlet, at in rows]

    def reports_of(self, capital_id: str) -> list[tuple[int, EventKind, str]]:
        """The capital's reports as (time, kind, development id), oldest first."""
        rows = self._db.execute(
            "SELECT at_us, kind, dev_id FROM reports WHERE capital_id = ? ORDER BY at_us",
            (capital_id,),
        ).fetchall()
        return [(int(at), kind, str(dev)) for at, kind, dev in rows]

    def prune(self, cutoff: int) -> int:
        """Delete developments whose every report is older than `cutoff`; how many."""
        with self.transaction():
            stale = [
                r[0]
                for r in self._db.execute(
                    "SELECT dev_id FROM reports GROUP BY dev_id HAVING max(at_us) < ?", (cutoff,)
                )
            ]
            for dev_id in stale:
                self._db.execute("DELETE FROM developments WHERE dev_id = ?", (dev_id,))
                self._db.execute("DELETE FROM reports WHERE dev_id = ?", (dev_id,))
            self._times.clear()
        return len(stale)
