"""Durable per-feed poller state in SQLite: validators, health, schedule, emitted entries.

`FeedStateStore` owns one SQLite file under the data folder it is given; open
it once per poller process and `close()` it at shutdown. `load()` returns a
`FeedState` snapshot; `commit_poll()` writes a poll's outcome and marks its new
entries emitted in ONE transaction, and must be called only after those items
were delivered (produced and flushed): a crash before it leaves the old
validators in place, so the next poll fetches, parses and offers the same
items again instead of losing them.

Emitted entry keys are forgotten once they have been absent from the feed for
`retention` (default 30 days). An entry still in the latest parsed body is
never forgotten, however long the feed stays unchanged (304 or same hash).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.core.models import Item, utc_now
from ingest.poller.feeds import entry_key

if TYPE_CHECKING:
    from ingest.poller.poll import PollResult

STATE_FILE = "poller-state.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    feed_url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    content_hash TEXT,
    consecutive_errors INTEGER NOT NULL DEFAULT 0,
    last_status INTEGER,
    last_error TEXT,
    last_success INTEGER,
    next_poll INTEGER,
    generation INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS emitted (
    feed_url TEXT NOT NULL,
    entry_key TEXT NOT NULL,
    item_id TEXT NOT NULL,
    first_emitted INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    seen_generation INTEGER NOT NULL,
    PRIMARY KEY (feed_url, entry_key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class FeedState:
    """What the poller knows about one feed between polls (a snapshot, not live)."""

    feed_url: str
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    consecutive_errors: int = 0
    last_status: int | None = None
    last_error: str | None = None
    last_success: datetime | None = None
    next_poll: datetime | None = None
    emitted: frozenset[str] = frozenset()
    """`entry_key`s of entries already delivered"""


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _us(when: datetime) -> int:
    """Microseconds since the epoch: exact, unlike a float timestamp."""
    return (when - _EPOCH) // _MICROSECOND


def _ts(when: datetime | None) -> int | None:
    return None if when is None else _us(when)


def _dt(us: int | None) -> datetime | None:
    return None if us is None else _EPOCH + us * _MICROSECOND


class FeedStateStore:
    """Owns `<data_dir>/poller-state.sqlite3`; safe to call from one thread at a time."""

    def __init__(self, data_dir: Path, *, retention: timedelta = timedelta(days=30)) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / STATE_FILE
        self.retention = retention
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        # WAL survives a process crash with every committed transaction; a
        # power loss may drop the last few, which only re-emits (at-least-once).
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> FeedStateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def load(self, feed_url: str) -> FeedState:
        """The stored state of a feed; a blank state for a feed never polled."""
        with self._lock:
            row = self._db.execute(
                "SELECT etag, last_modified, content_hash, consecutive_errors, last_status,"
                " last_error, last_success, next_poll FROM feeds WHERE feed_url = ?",
                (feed_url,),
            ).fetchone()
            keys = self._db.execute(
                "SELECT entry_key FROM emitted WHERE feed_url = ?", (feed_url,)
            ).fetchall()
        emitted = frozenset(k for (k,) in keys)
        if row is None:
            return FeedState(feed_url=feed_url, emitted=emitted)
        return FeedState(
            feed_url=feed_url, etag=row[0], last_modified=row[1], content_hash=row[2],
            consecutive_errors=row[3], last_status=row[4], last_error=row[5],
            last_success=_dt(row[6]), next_poll=_dt(row[7]), emitted=emitted,
        )

    def adopt_broker(self, cluster_id: str) -> bool:
        """Bind the state to a Kafka cluster; True if it replaced another one.

        Items "emitted" into a different cluster (e.g. an earlier embedded,
        memory-only broker) are not in this one, so a change of cluster forgets
        every emitted entry and validator: the next polls re-fetch, re-parse
        and re-emit (downstream dedupe absorbs the repeats). The first binding
        forgets nothing.
        """
        with self._lock, self._transaction():
            row = self._db.execute("SELECT value FROM meta WHERE key = 'cluster_id'").fetchone()
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES ('cluster_id', ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (cluster_id,),
            )
            if row is None or row[0] == cluster_id:
                return False
            self._db.execute("DELETE FROM emitted")
            self._db.execute(
                "UPDATE feeds SET etag = NULL, last_modified = NULL, content_hash = NULL,"
                " next_poll = NULL"
            )
            return True

    def next_polls(self) -> dict[str, datetime | None]:
        """Every known feed with the time it is due (None: as soon as possible)."""
        with self._lock:
            rows = self._db.execute("SELECT feed_url, next_poll FROM feeds").fetchall()
        return {url: _dt(ts) for url, ts in rows}

    def commit_poll(self, result: PollResult) -> None:
        """Persist a poll: its new state, its new items as emitted, retention upkeep.

        Call only after `result.new_items` were delivered to Kafka.
        """
        state = result.state
        now = _us(result.polled_at)
        with self._lock, self._transaction():
            self._save(state, bump_generation=result.parsed)
            if not result.parsed:
                return
            (gen,) = self._db.execute(
                "SELECT generation FROM feeds WHERE feed_url = ?", (state.feed_url,)
            ).fetchone()
            self._insert(state.feed_url, result.new_items, now, gen)
            self._db.executemany(
                "UPDATE emitted SET last_seen = ?, seen_generation = ?"
                " WHERE feed_url = ? AND entry_key = ?",
                [(now, gen, state.feed_url, key) for key in result.seen_keys],
            )
            self._db.execute(
                "DELETE FROM emitted WHERE feed_url = ? AND seen_generation < ?"
                " AND last_seen < ?",
                (state.feed_url, gen, now - self.retention // _MICROSECOND),
            )

    def mark_emitted(
        self, feed_url: str, items: Iterable[Item], when: datetime | None = None
    ) -> None:
        """Record items as delivered without touching validators (call after delivery)."""
        now = _us(when or utc_now())
        with self._lock, self._transaction():
            row = self._db.execute(
                "SELECT generation FROM feeds WHERE feed_url = ?", (feed_url,)
            ).fetchone()
            self._insert(feed_url, list(items), now, row[0] if row else 0)

    def _insert(self, feed_url: str, items: Iterable[Item], now: int, gen: int) -> None:
        self._db.executemany(
            "INSERT INTO emitted (feed_url, entry_key, item_id, first_emitted, last_seen,"
            " seen_generation) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (feed_url, entry_key) DO UPDATE SET last_seen = excluded.last_seen,"
            " seen_generation = excluded.seen_generation",
            [(feed_url, entry_key(i), i.item_id, now, now, gen) for i in items],
        )

    def _save(self, state: FeedState, *, bump_generation: bool) -> None:
        self._db.execute(
            "INSERT INTO feeds (feed_url, etag, last_modified, content_hash, consecutive_errors,"
            " last_status, last_error, last_success, next_poll, generation)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (feed_url) DO UPDATE SET etag = excluded.etag,"
            " last_modified = excluded.last_modified, content_hash = excluded.content_hash,"
            " consecutive_errors = excluded.consecutive_errors,"
            " last_status = excluded.last_status, last_error = excluded.last_error,"
            " last_success = excluded.last_success, next_poll = excluded.next_poll,"
            " generation = feeds.generation + excluded.generation",
            (
                state.feed_url, state.etag, state.last_modified, state.content_hash,
                state.consecutive_errors, state.last_status, state.last_error,
                _ts(state.last_success), _ts(state.next_poll), int(bump_generation),
            ),
        )

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        self._db.execute("ROLLBACK" if exc_type is not None else "COMMIT")
