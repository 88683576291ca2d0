"""The dedupe index's SQLite file, read and written a batch at a time.

A batch is one `BEGIN IMMEDIATE` transaction. Its reads are gathered up
front (the recorded verdicts of the batch's article ids, the first articles
of its URLs and text hashes, and those articles' stories) in a few queries,
and its writes are kept in memory and written together just before the
commit, so an article costs a few dictionary look-ups instead of six or
seven SQL statements. What the batch itself wrote is looked up first, so an
article may copy one earlier in the same batch, exactly as if every write
had gone straight to the file. Nothing is written outside `commit`, so a
failed batch leaves the file as it was.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import structlog

from ingest.core.sqlite_files import chunks, in_list, use_wal
from workers.dedupe.sketch import U32

log = structlog.get_logger()

I64 = npt.NDArray[np.int64]
_Row = TypeVar("_Row")
SCHEMA_VERSION = 3
_SCHEMA = """
CREATE TABLE IF NOT EXISTS first_seen (
    kind TEXT NOT NULL,           -- 'url' or 'text'
    key TEXT NOT NULL,            -- canonical URL or text hash
    article_id TEXT NOT NULL,     -- the first article that carried it
    seen_at REAL NOT NULL,        -- that article's fetch time, Unix seconds
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS first_seen_by_time ON first_seen (seen_at);
CREATE TABLE IF NOT EXISTS verdict (
    article_id TEXT PRIMARY KEY,
    story_id TEXT NOT NULL,
    duplicate_of TEXT,
    match TEXT,
    seen_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS verdict_by_time ON verdict (seen_at);
CREATE TABLE IF NOT EXISTS sketch (
    slot INTEGER PRIMARY KEY AUTOINCREMENT,  -- the postings' id for the article
    article_id TEXT NOT NULL,
    story_id TEXT NOT NULL,
    seen_at REAL NOT NULL,
    published REAL NOT NULL,
    shingles INTEGER NOT NULL,
    signature BLOB NOT NULL,      -- SIGNATURE_SIZE little-endian uint32
    terms BLOB NOT NULL,          -- story term ids, little-endian int64
    top_terms BLOB NOT NULL       -- the rarest of them, searched for other reports
);
CREATE INDEX IF NOT EXISTS sketch_by_time ON sketch (seen_at);
"""
# First copies kept in memory once committed: near and story matches look up
# mostly recent articles, and a look-up in the file costs more than the rest
# of a story match. A few megabytes, whatever the window.
RECENT_FIRST_COPIES = 1 << 14


@dataclass(frozen=True)
class Recorded:
    story_id: str
    duplicate_of: str | None
    match: str | None
    seen_at: float


@dataclass(frozen=True)
class Stored:
    """An indexed first copy, as far as matching needs it."""

    slot: int
    article_id: str
    story_id: str
    seen_at: float
    shingles: int
    signature: U32
    terms: I64


def _stored(row: tuple[Any, ...]) -> Stored:
    slot, article_id, story_id, seen_at, shingles, signature, terms = row
    return Stored(slot, article_id, story_id, seen_at, shingles,
                  np.frombuffer(signature, dtype="<u4"), np.frombuffer(terms, dtype="<i8"))


class IndexFile:
    """One SQLite file (WAL journal, full sync); one thread, one process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: transactions are begun and ended explicitly below.
        self._db = sqlite3.connect(path, isolation_level=None)
        try:
            use_wal(self._db)
            self._db.execute("PRAGMA synchronous=FULL")
            self._create_schema()
        except BaseException:
            self._db.close()
            raise
        self._recent: dict[int, Stored] = {}  # by slot, oldest first
        self._reset()

    def _create_schema(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, 1, 2, SCHEMA_VERSION):
            raise RuntimeError(
                f"{self.path} has dedupe schema version {version}; "
                f"this program knows version {SCHEMA_VERSION}"
            )
        self._db.executescript(_SCHEMA)
        if version in (1, 2):
            # Versions 1-2 stored 64-permutation signatures, which do not compare with
            # one-permutation ones: forget them (exact matches and verdicts are kept).
            dropped = self._db.execute("SELECT count(*) FROM sketch").fetchone()[0]
            self._db.executescript("DELETE FROM sketch; DROP TABLE IF EXISTS story_term;")
            log.warning("dedupe_sketches_reset", path=str(self.path), from_version=version,
                        sketches=dropped)
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _reset(self) -> None:
        self._verdicts: dict[str, Recorded] = {}
        self._firsts: dict[tuple[str, str], tuple[str, float]] = {}
        self._stories: dict[str, str] = {}
        self._new_verdicts: dict[str, Recorded] = {}
        self._new_firsts: dict[tuple[str, str], tuple[str, float]] = {}
        self._new_sketches: dict[int, tuple[Stored, float, bytes]] = {}

    # --- outside a batch ----------------------------------------------------

    def newest(self) -> tuple[float | None, int]:
        """(the newest fetch time recorded, the number of verdicts)."""
        row = self._db.execute("SELECT max(seen_at), count(*) FROM verdict").fetchone()
        return row[0], int(row[1])

    def next_slot(self) -> int:
        """The slot after every slot ever used (AUTOINCREMENT's sequence included)."""
        used = self._db.execute(
            "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'sketch'), 0),"
            " coalesce((SELECT max(slot) FROM sketch), 0))"
        ).fetchone()[0]
        return int(used) + 1

    def live_sketches(
        self, cutoff: float
    ) -> Iterator[tuple[int, float, float, bytes, bytes, bytes]]:
        """(slot, seen_at, published, signature, terms, top_terms) seen at or after `cutoff`."""
        yield from self._db.execute(
            "SELECT slot, seen_at, published, signature, terms, top_terms FROM sketch"
            " WHERE seen_at >= ? ORDER BY slot",
            (cutoff,),
        )

    # --- a batch --------------------------------------------------------------

    def begin(self, article_ids: Sequence[str], keys: Iterable[tuple[str, str]]) -> None:
        """Start the batch's transaction and read what its articles will look up."""
        self._db.execute("BEGIN IMMEDIATE")
        self._reset()
        for chunk in chunks(sorted(set(article_ids))):
            sql = in_list("SELECT article_id, story_id, duplicate_of, match, seen_at FROM verdict"
                      " WHERE article_id IN ({})", chunk)
            for article_id, story_id, duplicate_of, match, seen_at in self._db.execute(sql, chunk):
                self._verdicts[article_id] = Recorded(story_id, duplicate_of, match, seen_at)
        by_kind: dict[str, set[str]] = {}
        for kind, key in keys:
            by_kind.setdefault(kind, set()).add(key)
        for kind, wanted in by_kind.items():
            for chunk in chunks(sorted(wanted)):
                sql = in_list("SELECT key, article_id, seen_at FROM first_seen"
                          " WHERE kind = ? AND key IN ({})", chunk)
                for key, article_id, seen_at in self._db.execute(sql, (kind, *chunk)):
                    self._firsts[(kind, key)] = (article_id, seen_at)
        firsts = sorted({article_id for article_id, _ in self._firsts.values()})
        for chunk in chunks(firsts):
            sql = in_list("SELECT article_id, story_id FROM verdict WHERE article_id IN ({})",
                          chunk)
            self._stories.update(self._db.execute(sql, chunk))

    def verdict(self, article_id: str, cutoff: float) -> Recorded | None:
        """The verdict recorded for `article_id` at or after `cutoff`."""
        found = self._new_verdicts.get(article_id) or self._verdicts.get(article_id)
        return found if found is not None and found.seen_at >= cutoff else None

    def story_of(self, article_id: str) -> str:
        """The story of a recorded article (its own id when unknown)."""
        found = self._new_verdicts.get(article_id) or self._verdicts.get(article_id)
        if found is not None:
            return found.story_id
        return self._stories.get(article_id, article_id)

    def first(self, kind: str, key: str, cutoff: float) -> str | None:
        """The article that first carried a URL or text hash, at or after `cutoff`."""
        found = self._new_firsts.get((kind, key)) or self._firsts.get((kind, key))
        return found[0] if found is not None and found[1] >= cutoff else None

    def sketches(self, slots: Iterable[int], cutoff: float) -> list[Stored]:
        """The stored first copies in `slots` seen at or after `cutoff`, by slot."""
        return self._first_copies(
            slots, cutoff, "slot, article_id, story_id, seen_at, shingles, signature, terms",
            from_batch=lambda stored: stored, from_row=_stored,
        )

    def stories(self, slots: Iterable[int], cutoff: float) -> list[tuple[int, str, I64]]:
        """(slot, story id, terms) of the stored first copies in `slots` seen at or after
        `cutoff`, by slot: `sketches` without what story matching does not read."""
        return self._first_copies(
            slots, cutoff, "slot, story_id, terms",
            from_batch=lambda stored: (stored.slot, stored.story_id, stored.terms),
            from_row=lambda row: (row[0], row[1], np.frombuffer(row[2], dtype="<i8")),
        )

    def _first_copies(
        self, slots: Iterable[int], cutoff: float, columns: str,
        from_batch: Callable[[Stored], _Row], from_row: Callable[[tuple[Any, ...]], _Row],
    ) -> list[_Row]:
        """First copies in `slots` seen at or after `cutoff`, by slot: this batch's own
        (not written yet) from memory, the others from the file (`columns` start with
        the slot). The file holds every slot in `_recent` that is seen at or after
        `cutoff`: rows are only purged before a cutoff, which never decreases."""
        found: list[tuple[int, _Row]] = []
        wanted: list[int] = []
        for slot in sorted(slots):
            new = self._new_sketches.get(slot)
            stored = self._recent.get(slot) if new is None else new[0]
            if stored is None:
                wanted.append(slot)
            elif stored.seen_at >= cutoff:
                found.append((slot, from_batch(stored)))
        read = False
        for chunk in chunks(wanted):
            # `columns` is one of this module's two constant lists, never input.
            query = f"SELECT {columns} FROM sketch WHERE slot IN ({{}}) AND seen_at >= ?"  # noqa: S608
            sql = in_list(query, chunk)
            for row in self._db.execute(sql, (*chunk, cutoff)):
                found.append((row[0], from_row(row)))
                read = True
        if read:
            found.sort(key=lambda pair: pair[0])
        return [row for _, row in found]

    def record_verdict(self, article_id: str, verdict: Recorded) -> None:
        self._new_verdicts[article_id] = verdict

    def record_first(self, kind: str, key: str, article_id: str, seen_at: float) -> None:
        self._new_firsts[(kind, key)] = (article_id, seen_at)

    def record_sketch(self, stored: Stored, published: float, top_terms: I64) -> None:
        self._new_sketches[stored.slot] = (stored, published, top_terms.astype("<i8").tobytes())

    def commit(self, cutoff: float | None) -> list[I64]:
        """Write the batch, purge what is older than `cutoff`, commit.

        Returns the terms of the purged sketches."""
        self._db.executemany(
            "INSERT OR REPLACE INTO verdict VALUES (?, ?, ?, ?, ?)",
            [(a, v.story_id, v.duplicate_of, v.match, v.seen_at)
             for a, v in self._new_verdicts.items()],
        )
        self._db.executemany(
            "INSERT OR REPLACE INTO first_seen VALUES (?, ?, ?, ?)",
            [(kind, key, a, seen_at) for (kind, key), (a, seen_at) in self._new_firsts.items()],
        )
        self._db.executemany(
            "INSERT INTO sketch (slot, article_id, story_id, seen_at, published, shingles,"
            " signature, terms, top_terms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(s.slot, s.article_id, s.story_id, s.seen_at, published, s.shingles,
              s.signature.astype("<u4").tobytes(), s.terms.astype("<i8").tobytes(), top)
             for s, published, top in self._new_sketches.values()],
        )
        purged: list[I64] = []
        if cutoff is not None:
            self._db.execute("DELETE FROM first_seen WHERE seen_at < ?", (cutoff,))
            self._db.execute("DELETE FROM verdict WHERE seen_at < ?", (cutoff,))
            purged = [np.frombuffer(terms, dtype="<i8") for (terms,) in self._db.execute(
                "DELETE FROM sketch WHERE seen_at < ? RETURNING terms", (cutoff,)
            )]
        self._db.execute("COMMIT")
        for stored, _, _ in self._new_sketches.values():
            self._recent[stored.slot] = stored
        for _ in range(len(self._recent) - RECENT_FIRST_COPIES):
            del self._recent[next(iter(self._recent))]
        self._reset()
        return purged

    def rollback(self) -> None:
        self._reset()
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def close(self) -> None:
        self._db.close()

