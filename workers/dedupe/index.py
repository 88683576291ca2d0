"""The dedupe index: which article first carried a URL, a text, or nearly that text.

State lives in one SQLite file (WAL journal) so that it survives a restart of
the process and of the whole service. It holds, for the dedupe window:

- `first_seen`: canonical URL → first article id, normalised-text hash →
  first article id, each with the time it was first seen;
- `verdict`: every article id processed → the verdict it got, so that a
  replayed article gets exactly its first verdict again;
- `sketch`: for every first copy long enough to compare, its MinHash
  signature (`workers.dedupe.sketch`), its story and its story terms
  (`workers.dedupe.stories`); `story_term` indexes its rarest terms.

The LSH band table (`workers.dedupe.bands`) and the terms' document
frequencies are in memory only, rebuilt from `sketch` when the index opens,
and rebuilt again if a transaction fails, so they never disagree with the
file (a crash loses only the uncommitted batch, which Kafka replays).

Time is the articles' own fetch time, never the wall clock: the newest fetch
time processed so far is the index's "now", entries first seen more than
`window` before it are ignored and purged. The outcome therefore depends only
on the articles and their order, and a replay reproduces it. Fetch time rather
than publication time, because a page's date can be years old or wrong, while
the fetch time says when the copy actually reached us.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np
import numpy.typing as npt
import structlog

from ingest.core.models import Article, Deduped, DuplicateMatch
from workers.dedupe import stories
from workers.dedupe.bands import BandTable
from workers.dedupe.normalise import hash_normalised, normalise_text, strip_furniture
from workers.dedupe.sketch import PERMUTATIONS, Sketch, band_keys_many, containment, sketch

log = structlog.get_logger()

DEFAULT_WINDOW = timedelta(days=7)
DEFAULT_MIN_TEXT_CHARS = 100
DEFAULT_NEAR_CONTAINMENT = 0.6
DEFAULT_STORY_WINDOW = timedelta(hours=48)
NAME_CONTAINMENT = 0.5
_SCHEMA_VERSION = 2
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
    slot INTEGER PRIMARY KEY AUTOINCREMENT,  -- the band table's id for the article
    article_id TEXT NOT NULL,
    story_id TEXT NOT NULL,
    seen_at REAL NOT NULL,
    published REAL NOT NULL,
    shingles INTEGER NOT NULL,
    signature BLOB NOT NULL,      -- PERMUTATIONS little-endian uint32
    terms BLOB NOT NULL,          -- story term ids, little-endian int64
    top_terms BLOB NOT NULL       -- the rarest of them, as indexed in story_term
);
CREATE INDEX IF NOT EXISTS sketch_by_time ON sketch (seen_at);
CREATE TABLE IF NOT EXISTS story_term (
    term INTEGER NOT NULL,
    published REAL NOT NULL,
    slot INTEGER NOT NULL,
    PRIMARY KEY (term, published, slot)
) WITHOUT ROWID;
"""
_MATCHES: dict[str | None, DuplicateMatch | None] = {
    None: None,
    "url": "url",
    "text": "text",
    "near": "near",
}
_DF_BUCKETS = 1 << 20  # document frequencies are counted per hashed bucket of term ids
_STORY_CANDIDATES = 8


@dataclass(frozen=True)
class _Verdict:
    story_id: str
    duplicate_of: str | None = None
    match: DuplicateMatch | None = None
    similarity: float | None = None


@dataclass(frozen=True)
class _Indexed:
    slot: int
    article_id: str
    story_id: str
    sketch: Sketch


def _same_names(mine: set[int], theirs: set[int]) -> bool:
    """Whether a near-identical text also names the same people and places.

    Text generated from one template (a weather bulletin, a price report, an
    outlet's stock phrases) matches on shingles while it reports a different
    event; a copy keeps the original's names, except those in cut paragraphs.
    """
    if len(mine) < 3:
        return True
    return len(mine & theirs) >= NAME_CONTAINMENT * len(mine)


class DedupeIndex:
    """Owns one SQLite file; opened when the dedupe stage starts, closed at shutdown.

    An instance belongs to one thread (the stage's loop thread; SQLite
    enforces it) and one process: the band table in memory is this
    process's, so two processes must not share the file. Each call is one
    `BEGIN IMMEDIATE` transaction, committed before it returns, so a verdict
    handed out is already durable.

    Texts whose normalised form is shorter than `min_text_chars` are not
    matched on text: a headline or an empty page is too generic to call two
    articles copies, and a false duplicate hides a story from the alerts
    while a missed one only costs a repeated (and novelty-filtered) article.
    A near-duplicate is an article of which at least `near_containment` of
    the word 5-shingles (after `strip_furniture`) appear in one indexed
    article: a copy with cut paragraphs, a new dateline or boilerplate is
    one, an update that adds more than that share of new text is not.
    """

    def __init__(
        self,
        path: Path,
        *,
        window: timedelta = DEFAULT_WINDOW,
        min_text_chars: int = DEFAULT_MIN_TEXT_CHARS,
        near_containment: float = DEFAULT_NEAR_CONTAINMENT,
        story_window: timedelta = DEFAULT_STORY_WINDOW,
    ) -> None:
        if window <= timedelta(0):
            raise ValueError(f"dedupe window must be positive, got {window}")
        self.path = path
        self.window = window
        self.min_text_chars = min_text_chars
        self.near_containment = near_containment
        self.story_window = story_window
        self.bands = BandTable()
        self._df = np.zeros(_DF_BUCKETS, dtype=np.int64)
        self._stories = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: transactions are begun and ended explicitly below.
        self._db = sqlite3.connect(path, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._create_schema()
            row = self._db.execute("SELECT max(seen_at), count(*) FROM verdict").fetchone()
            self._now: float | None = row[0]
            self._rebuild()
        except BaseException:
            self._db.close()
            raise
        log.info(
            "dedupe_index_opened",
            path=str(path),
            articles=row[1],
            sketches=self._stories,
            window_s=window.total_seconds(),
        )

    def _create_schema(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, 1, _SCHEMA_VERSION):  # version 1 lacked only the new tables
            raise RuntimeError(
                f"{self.path} has dedupe schema version {version}; "
                f"this program knows version {_SCHEMA_VERSION}"
            )
        self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")

    def _rebuild(self) -> None:
        """Refill the band table and term frequencies from the file, within the window."""
        self.bands.clear()
        self._df[:] = 0
        self._stories = 0
        cutoff = -np.inf if self._now is None else self._now - self.window.total_seconds()
        slots: list[int] = []
        times: list[int] = []
        signatures: list[bytes] = []
        for slot, seen_at, signature, terms in self._db.execute(
            "SELECT slot, seen_at, signature, terms FROM sketch WHERE seen_at >= ? ORDER BY slot",
            (cutoff,),
        ):
            slots.append(slot)
            times.append(int(seen_at))
            signatures.append(signature)
            self._count_terms(np.frombuffer(terms, dtype="<i8"), +1)
        if slots:
            matrix = np.frombuffer(b"".join(signatures), dtype="<u4").reshape(-1, PERMUTATIONS)
            self.bands.add_many(
                np.asarray(slots, dtype=np.uint32),
                band_keys_many(matrix),
                np.asarray(times, dtype=np.uint32),
            )

    def check_and_add(self, article: Article) -> Deduped:
        """The article's verdict; the article is recorded before this returns."""
        return self.check_and_add_all([article])[0]

    def check_and_add_all(self, articles: Iterable[Article]) -> list[Deduped]:
        """Verdicts for `articles` in order, in one transaction (one disk sync).

        An article may copy one earlier in the same call. A copy gets the
        article it copies as `duplicate_of` and that article's story, with
        `match` "url" (same canonical URL, checked first), "text" (same
        normalised text) or "near" (most of its text is in one article). An
        article that copies nothing starts a story, or joins the story of an
        earlier report of the same event (`workers.dedupe.stories`). An article
        id seen before within the window gets the verdict it got then.
        """
        now = self._now
        window = self.window.total_seconds()
        results: list[Deduped] = []
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for article in articles:
                seen_at = article.fetched_at.timestamp()
                now = seen_at if now is None else max(now, seen_at)
                results.append(self._check_one(article, seen_at, now - window))
            if now is not None:
                self._purge(now - window)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            self._rebuild()  # the band table may hold entries the file never got
            raise
        self._now = now
        return results

    def _check_one(self, article: Article, seen_at: float, cutoff: float) -> Deduped:
        normalised = normalise_text(article.text)
        digest = hash_normalised(normalised)
        verdict = self._recorded_verdict(article.article_id, cutoff)
        if verdict is None:
            verdict = self._decide(article, normalised, digest, seen_at, cutoff)
            self._db.execute(
                "INSERT OR REPLACE INTO verdict VALUES (?, ?, ?, ?, ?)",
                (
                    article.article_id,
                    verdict.story_id,
                    verdict.duplicate_of,
                    verdict.match,
                    seen_at,
                ),
            )
        return Deduped(
            article=article,
            text_hash=digest,
            story_id=verdict.story_id,
            duplicate_of=verdict.duplicate_of,
            match=verdict.match,
        )

    def _recorded_verdict(self, article_id: str, cutoff: float) -> _Verdict | None:
        row = self._db.execute(
            "SELECT story_id, duplicate_of, match FROM verdict"
            " WHERE article_id = ? AND seen_at >= ?",
            (article_id, cutoff),
        ).fetchone()
        return None if row is None else _Verdict(row[0], row[1], _MATCHES[row[2]])

    def _decide(
        self, article: Article, normalised: str, digest: str, seen_at: float, cutoff: float
    ) -> _Verdict:
        keys: list[tuple[DuplicateMatch, str]] = []
        if article.canonical_url:
            keys.append(("url", article.canonical_url))
        long_enough = bool(normalised) and len(normalised) >= self.min_text_chars
        if long_enough:
            keys.append(("text", digest))
        verdict: _Verdict | None = None
        new_keys: list[tuple[DuplicateMatch, str]] = []
        for kind, key in keys:
            row = self._db.execute(
                "SELECT article_id FROM first_seen WHERE kind = ? AND key = ? AND seen_at >= ?",
                (kind, key, cutoff),
            ).fetchone()
            if row is None:
                new_keys.append((kind, key))
            elif verdict is None and row[0] != article.article_id:
                verdict = _Verdict(self._story_of(row[0]), duplicate_of=row[0], match=kind)
        stripped = strip_furniture(article.text) if long_enough else ""
        comparable = normalise_text(stripped)
        drawn = sketch(comparable) if len(comparable) >= self.min_text_chars else None
        if drawn is not None:
            mine = {stories.term_id(term) for term in stories.terms(stripped)}
            if verdict is None:
                verdict = self._near_duplicate(drawn, mine, cutoff)
            if verdict is None:
                story = self._index(article, drawn, mine, seen_at, cutoff)
                verdict = _Verdict(story_id=story or article.article_id)
        if verdict is None:
            verdict = _Verdict(story_id=article.article_id)
        # A copy's other keys lead to the same first article, so a third copy
        # that shares only them still joins the story.
        first = verdict.duplicate_of or article.article_id
        self._db.executemany(
            "INSERT OR REPLACE INTO first_seen VALUES (?, ?, ?, ?)",
            [(kind, key, first, seen_at) for kind, key in new_keys],
        )
        return verdict

    def _story_of(self, article_id: str) -> str:
        row = self._db.execute(
            "SELECT story_id FROM verdict WHERE article_id = ?", (article_id,)
        ).fetchone()
        return article_id if row is None else str(row[0])

    def _near_duplicate(self, drawn: Sketch, mine: set[int], cutoff: float) -> _Verdict | None:
        slots = self.bands.candidates(drawn.band_keys(), int(cutoff))
        best: tuple[float, int, str, str] | None = None
        for slot, article_id, story_id, shingles, signature, terms in self._rows(
            "SELECT slot, article_id, story_id, shingles, signature, terms FROM sketch",
            slots,
            cutoff,
        ):
            other = Sketch(np.frombuffer(signature, dtype="<u4"), shingles)
            _, share = containment(drawn, other)
            if share < self.near_containment:
                continue
            if not _same_names(mine, set(np.frombuffer(terms, dtype="<i8").tolist())):
                continue
            if best is None or (share, -slot) > best[:2]:
                best = (share, -slot, article_id, story_id)
        if best is None:
            return None
        return _Verdict(best[3], duplicate_of=best[2], match="near", similarity=best[0])

    def _rows(self, select: str, slots: Iterable[int], cutoff: float) -> list[tuple[Any, ...]]:
        wanted = sorted(slots)
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(wanted), 500):  # SQLite's bound-parameter limit
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows.extend(
                self._db.execute(
                    f"{select} WHERE slot IN ({marks}) AND seen_at >= ?",
                    (*chunk, cutoff),
                )
            )
        return rows

    def _weights(self, terms: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        return stories.weights(self._df[terms & (_DF_BUCKETS - 1)], self._stories)

    def _index(
        self, article: Article, drawn: Sketch, mine: set[int], seen_at: float, cutoff: float
    ) -> str | None:
        """Record a first copy for near matching; the story it joins, if any."""
        terms = np.asarray(sorted(mine), dtype=np.int64)
        weights = self._weights(terms)
        # rarest first; ties by term id so that the choice is deterministic
        top = terms[np.lexsort((terms, -weights))][: stories.TOP_TERMS].tolist()
        published = article.published.timestamp()
        story = self._matching_story(terms, weights, top, published, cutoff)
        cursor = self._db.execute(
            "INSERT INTO sketch (article_id, story_id, seen_at, published, shingles, signature,"
            " terms, top_terms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                article.article_id,
                story or article.article_id,
                seen_at,
                published,
                drawn.shingles,
                drawn.signature.astype("<u4").tobytes(),
                terms.astype("<i8").tobytes(),
                np.asarray(top, dtype="<i8").tobytes(),
            ),
        )
        slot = int(cursor.lastrowid or 0)
        self._db.executemany(
            "INSERT OR IGNORE INTO story_term VALUES (?, ?, ?)",
            [(term, published, slot) for term in top],
        )
        self.bands.add(slot, drawn.band_keys(), int(seen_at))
        self._count_terms(terms, +1)
        return story

    def _matching_story(
        self,
        mine: npt.NDArray[np.int64],
        weights: npt.NDArray[np.float64],
        top: list[int],
        published: float,
        cutoff: float,
    ) -> str | None:
        if mine.size < stories.MIN_SHARED or not top:
            return None
        span = self.story_window.total_seconds()
        marks = ",".join("?" * len(top))
        found = self._db.execute(
            f"SELECT slot FROM story_term WHERE term IN ({marks})"  # noqa: S608
            " AND published BETWEEN ? AND ? GROUP BY slot HAVING count(*) >= 2"
            " ORDER BY count(*) DESC, slot LIMIT ?",
            (*top, published - span, published + span, _STORY_CANDIDATES),
        ).fetchall()
        best: tuple[float, int, str] | None = None
        for slot, story_id, terms in self._rows(
            "SELECT slot, story_id, terms FROM sketch", (row[0] for row in found), cutoff
        ):
            theirs = np.frombuffer(terms, dtype="<i8").astype(np.int64)
            score = stories.overlap(mine, weights, theirs, self._weights(theirs))
            if stories.same_story(score) and (best is None or (score, -slot) > best[:2]):
                best = (score, -slot, story_id)
        return None if best is None else best[2]

    def _count_terms(self, terms: npt.NDArray[np.int64], sign: int) -> None:
        buckets = terms.astype(np.int64) & (_DF_BUCKETS - 1)
        np.add.at(self._df, buckets, sign)
        self._stories += sign

    def _purge(self, cutoff: float) -> None:
        self._db.execute("DELETE FROM first_seen WHERE seen_at < ?", (cutoff,))
        self._db.execute("DELETE FROM verdict WHERE seen_at < ?", (cutoff,))
        expired = self._db.execute(
            "SELECT slot, published, terms, top_terms FROM sketch WHERE seen_at < ?", (cutoff,)
        ).fetchall()
        if not expired:
            return
        for slot, published, terms, top in expired:
            self._count_terms(np.frombuffer(terms, dtype="<i8"), -1)
            self._db.executemany(
                "DELETE FROM story_term WHERE term = ? AND published = ? AND slot = ?",
                [(term, published, slot) for term in np.frombuffer(top, dtype="<i8").tolist()],
            )
        self._db.execute("DELETE FROM sketch WHERE seen_at < ?", (cutoff,))
        self.bands.expire(int(cutoff))

    def close(self) -> None:
        """Close the file; the index must not be used afterwards."""
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
