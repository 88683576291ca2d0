"""Durable per-feed poller state in SQLite: validators, health, schedule, emitted entries.

`FeedStateStore` owns one SQLite file under the data folder it is given; open
it once per poller process and `close()` it at shutdown. Several poller
processes on one machine may share the file (WAL, busy timeout): the group
assignment guarantees that only one of them polls a given feed at a time.
`load()` returns a `FeedState` snapshot; `commit_polls()` writes polls'
outcomes and marks their new entries emitted in ONE transaction, and must be
called only after those items were delivered (produced and flushed): a crash
before it leaves the old validators in place, so the next poll fetches,
parses and offers the same items again instead of losing them.

Emitted entry keys are forgotten once they have been absent from the feed for
`retention` (default 30 days). An entry still in the latest parsed body is
never forgotten, however long the feed stays unchanged (304 or same hash).
"""

from __future__ import annotations

import dataclasses
import operator
import sqlite3
import threading
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.core.models import Item, utc_now
from ingest.core.sqlite_files import IN_CHUNK, chunks, in_list, use_wal
from ingest.poller.entries import entry_key
from ingest.poller.health import Health

if TYPE_CHECKING:
    from ingest.poller.poll import PollResult

STATE_FILE = "poller-state.sqlite3"


@dataclass(frozen=True, slots=True)
class FeedState:
    """What the poller knows about one feed between polls (a snapshot, not live)."""

    feed_url: str
    """the feed's identity: the URL it was configured with"""
    url: str | None = None
    """where it lives now, after a permanent redirect (None: at `feed_url`)"""
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    validators_trusted: bool = True
    """False once the server answered 304 although the feed had changed"""
    consecutive_errors: int = 0
    not_found: int = 0
    not_modified_streak: int = 0
    last_status: int | None = None
    last_error: str | None = None
    last_success: datetime | None = None
    last_polled: datetime | None = None
    last_changed: datetime | None = None
    """the last time the body changed (and was parsed)"""
    next_poll: datetime | None = None
    health: Health = "ok"
    health_reason: str | None = None
    polls: int = 0
    errors: int = 0
    items_emitted: int = 0
    item_rate: float | None = None
    """new items per day, smoothed over parses"""
    interval_s: float | None = None
    """the adaptive interval (None: the configured one)"""
    publisher_period_s: float | None = None
    """the feed's own `<ttl>`/`sy:updatePeriod`, from the last parse"""
    emitted: frozenset[str] = frozenset()
    """`entry_key`s of entries already delivered (filled by `load`, not by `load_all`)"""

    @property
    def current_url(self) -> str:
        return self.url or self.feed_url


_TYPES = {"str": "TEXT", "int": "INTEGER", "bool": "INTEGER", "float": "REAL",
          "datetime": "INTEGER", "Health": "TEXT"}
_COLUMNS: tuple[tuple[str, str], ...] = tuple(
    (f.name, next(t for t in _TYPES if str(f.type).startswith(t)))
    for f in dataclasses.fields(FeedState) if f.name not in ("feed_url", "emitted")
)
_NAMES = ", ".join(name for name, _ in _COLUMNS)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    feed_url TEXT PRIMARY KEY,
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
CREATE INDEX IF NOT EXISTS emitted_item ON emitted (feed_url, item_id);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
# Column names come from FeedState's fields, never from input.
_UPSERT = (
    f"INSERT INTO feeds (feed_url, generation, {_NAMES})"  # noqa: S608
    f" VALUES (?, ?, {', '.join('?' for _ in _COLUMNS)}) ON CONFLICT (feed_url) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name, _ in _COLUMNS)
    + ", generation = feeds.generation + excluded.generation"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _us(when: datetime) -> int:
    """Microseconds since the epoch: exact, unlike a float timestamp."""
    return (when - _EPOCH) // _MICROSECOND


def _to_db(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "datetime":
        return _us(value)
    return int(value) if kind == "bool" else value


def _from_db(kind: str, value: Any) -> Any:
    if value is None:
        return True if kind == "bool" else None
    if kind == "datetime":
        return _EPOCH + value * _MICROSECOND
    return bool(value) if kind == "bool" else value


def _state(feed_url: str, row: Sequence[Any], emitted: frozenset[str]) -> FeedState:
    values = {name: _from_db(kind, v) for (name, kind), v in zip(_COLUMNS, row, strict=True)}
    for name in ("consecutive_errors", "not_found", "not_modified_streak", "polls", "errors",
                 "items_emitted"):
        values[name] = values[name] or 0
    values["health"] = values["health"] or "ok"
    return FeedState(feed_url=feed_url, emitted=emitted, **values)


_ALL_COLUMNS = operator.attrgetter(*(name for name, _ in _COLUMNS))
_DATETIMES = tuple(i for i, (_, kind) in enumerate(_COLUMNS) if kind == "datetime")
_BOOLS = tuple(i for i, (_, kind) in enumerate(_COLUMNS) if kind == "bool")


def _row(state: FeedState, *, bump_generation: bool) -> tuple[Any, ...]:
    """The parameters of `_UPSERT` for a state (as `_to_db` on each column, but one
    `attrgetter` call: this runs for every poll)."""
    values = list(_ALL_COLUMNS(state))
    for i in _DATETIMES:
        if values[i] is not None:
            values[i] = _us(values[i])
    for i in _BOOLS:
        if values[i] is not None:
            values[i] = int(values[i])
    return (state.feed_url, int(bump_generation), *values)


class FeedStateStore:
    """Owns `<data_dir>/poller-state.sqlite3`; safe to call from one thread at a time."""

    def __init__(self, data_dir: Path, *, retention: timedelta = timedelta(days=30)) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / STATE_FILE
        self.retention = retention
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA busy_timeout=10000")  # another poller process writing
        # WAL survives a process crash with every committed transaction; a
        # power loss may drop the last few, which only re-emits (at-least-once).
        use_wal(self._db)
        self._db.execute("PRAGMA synchronous=NORMAL")
        # Poller processes sharing a data folder start together: the schema check and
        # its additions run in one write transaction, so a second process sees the
        # columns the first one added instead of adding them again.
        self._db.executescript("BEGIN IMMEDIATE;" + _SCHEMA)
        try:
            have = {r[1] for r in self._db.execute("PRAGMA table_info(feeds)")}
            for name, kind in _COLUMNS:
                if name not in have:  # older files gain the columns added since
                    self._db.execute(f"ALTER TABLE feeds ADD COLUMN {name} {_TYPES[kind]}")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        # The poll loop reads emitted entries while the delivery thread writes a batch:
        # a second connection reads the last committed state (WAL) without waiting for
        # that transaction. Committed is what it needs: a feed is never polled again
        # before its previous poll was committed.
        self._read_lock = threading.Lock()
        self._reader = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._reader.execute("PRAGMA busy_timeout=10000")

    def close(self) -> None:
        with self._lock, self._read_lock:
            self._reader.close()
            self._db.close()

    def __enter__(self) -> FeedStateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def load(self, feed_url: str) -> FeedState:
        """The stored state of a feed with its emitted keys; a blank state if never polled."""
        with self._read_lock:
            keys = frozenset(r[0] for r in self._reader.execute(
                "SELECT entry_key FROM emitted WHERE feed_url = ?", (feed_url,)
            ))
        state = self.load_all([feed_url]).get(feed_url)
        return dataclasses.replace(state or FeedState(feed_url), emitted=keys)

    def load_all(self, feed_urls: Iterable[str] | None = None) -> dict[str, FeedState]:
        """Stored states (without emitted keys) of the given feeds, or of every feed."""
        wanted = None if feed_urls is None else set(feed_urls)
        query = f"SELECT feed_url, {_NAMES} FROM feeds"  # noqa: S608 (our column names)
        with self._lock:
            if wanted is not None and len(wanted) <= IN_CHUNK:
                where = in_list(" WHERE feed_url IN ({})", wanted)
                cursor = self._db.execute(query + where, tuple(wanted))
            else:
                cursor = self._db.execute(query)
            rows = cursor.fetchall()
        return {
            r[0]: _state(r[0], r[1:], frozenset())
            for r in rows if wanted is None or r[0] in wanted
        }

    def keys_among(self, feed_url: str, keys: Collection[str]) -> frozenset[str]:
        """Those of `keys` (entry keys of one body) already delivered for the feed."""
        return self._among(feed_url, "entry_key", keys)

    def ids_among(self, feed_url: str, item_ids: Collection[str]) -> frozenset[str]:
        """Those of `item_ids` already delivered for the feed, under any entry key."""
        return self._among(feed_url, "item_id", item_ids)

    def _among(self, feed_url: str, column: str, values: Collection[str]) -> frozenset[str]:
        # Rows for the body's entries only: reading a feed's whole history at each
        # parse made a poll's cost and its transient memory grow with the history.
        found: set[str] = set()
        unique = list(set(values))
        with self._read_lock:
            for chunk in chunks(unique):
                query = in_list(
                    f"SELECT {column} FROM emitted"  # noqa: S608 (our column names)
                    f" WHERE feed_url = ? AND {column} IN ({{}})", chunk,
                )
                found.update(r[0] for r in self._reader.execute(query, (feed_url, *chunk)))
        return frozenset(found)

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
        return {url: s.next_poll for url, s in self.load_all().items()}

    def commit_poll(self, result: PollResult) -> None:
        """Persist one poll; see `commit_polls`."""
        self.commit_polls([result])

    def commit_polls(self, results: Sequence[PollResult]) -> None:
        """Persist polls: new states, new items as emitted, retention upkeep; one transaction.

        Call only after every result's `new_items` were delivered to Kafka.
        """
        with self._lock, self._transaction():
            # One statement for every state (most polls are 304s), then the parsed ones.
            self._db.executemany(_UPSERT, [_row(r.state, bump_generation=r.parsed)
                                           for r in results])
            for result in results:
                if result.parsed:
                    self._commit_entries(result)

    def _commit_entries(self, result: PollResult) -> None:
        state = result.state
        now = _us(result.polled_at)
        (gen,) = self._db.execute(
            "SELECT generation FROM feeds WHERE feed_url = ?", (state.feed_url,)
        ).fetchone()
        self._insert(state.feed_url, (*result.new_items, *result.adopted), now, gen)
        self._db.executemany(
            "UPDATE emitted SET last_seen = ?, seen_generation = ?"
            " WHERE feed_url = ? AND entry_key = ?",
            [(now, gen, state.feed_url, key) for key in result.seen_keys],
        )
        self._db.execute(
            "DELETE FROM emitted WHERE feed_url = ? AND seen_generation < ? AND last_seen < ?",
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
