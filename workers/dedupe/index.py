"""The exact-duplicate index: which article first carried a URL or a text.

State lives in one SQLite file (WAL journal) so that it survives a restart of
the process and of the whole service. It holds, for the dedupe window:

- `first_seen`: canonical URL → first article id, normalised-text hash →
  first article id, each with the time it was first seen;
- `verdict`: every article id processed → the verdict it got, so that a
  replayed article gets exactly its first verdict again.

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
from typing import Self

import structlog

from ingest.core.models import Article, Deduped, DuplicateMatch
from workers.dedupe.normalise import hash_normalised, normalise_text

log = structlog.get_logger()

DEFAULT_WINDOW = timedelta(days=7)
DEFAULT_MIN_TEXT_CHARS = 100
_SCHEMA_VERSION = 1
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
"""
_MATCHES: dict[str | None, DuplicateMatch | None] = {
    None: None,
    "url": "url",
    "text": "text",
    "near": "near",
}


@dataclass(frozen=True)
class _Verdict:
    story_id: str
    duplicate_of: str | None = None
    match: DuplicateMatch | None = None


class DedupeIndex:
    """Owns one SQLite file; opened when the dedupe stage starts, closed at shutdown.

    An instance belongs to one thread (the stage's loop thread; SQLite
    enforces it). Each call is one `BEGIN IMMEDIATE` transaction, committed
    before it returns, so a verdict handed out is already durable, and several
    processes on one machine may share the file; processes on different
    machines cannot share state this way.

    Texts whose normalised form is shorter than `min_text_chars` are not
    matched on text: a headline or an empty page is too generic to call two
    articles copies, and a false duplicate hides a story from the alerts
    while a missed one only costs a repeated (and novelty-filtered) article.
    """

    def __init__(
        self,
        path: Path,
        *,
        window: timedelta = DEFAULT_WINDOW,
        min_text_chars: int = DEFAULT_MIN_TEXT_CHARS,
    ) -> None:
        if window <= timedelta(0):
            raise ValueError(f"dedupe window must be positive, got {window}")
        self.path = path
        self.window = window
        self.min_text_chars = min_text_chars
        path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: transactions are begun and ended explicitly below.
        self._db = sqlite3.connect(path, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._create_schema()
            row = self._db.execute("SELECT max(seen_at), count(*) FROM verdict").fetchone()
        except BaseException:
            self._db.close()
            raise
        self._now: float | None = row[0]
        log.info(
            "dedupe_index_opened",
            path=str(path),
            articles=row[1],
            window_s=window.total_seconds(),
        )

    def _create_schema(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, _SCHEMA_VERSION):
            raise RuntimeError(
                f"{self.path} has dedupe schema version {version}; "
                f"this program knows version {_SCHEMA_VERSION}"
            )
        self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")

    def check_and_add(self, article: Article) -> Deduped:
        """The article's verdict; the article is recorded before this returns."""
        return self.check_and_add_all([article])[0]

    def check_and_add_all(self, articles: Iterable[Article]) -> list[Deduped]:
        """Verdicts for `articles` in order, in one transaction (one disk sync).

        An article may copy one earlier in the same call. A first copy gets
        `story_id` = its own id; a copy gets the first copy's id as both
        `duplicate_of` and `story_id`, with `match` "url" (same canonical URL,
        checked first) or "text" (same normalised text). An article id seen
        before within the window gets the verdict it got then.
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
                self._db.execute("DELETE FROM first_seen WHERE seen_at < ?", (now - window,))
                self._db.execute("DELETE FROM verdict WHERE seen_at < ?", (now - window,))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
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
        if normalised and len(normalised) >= self.min_text_chars:
            keys.append(("text", digest))
        verdict = _Verdict(story_id=article.article_id)
        new_keys: list[tuple[DuplicateMatch, str]] = []
        for kind, key in keys:
            row = self._db.execute(
                "SELECT article_id FROM first_seen WHERE kind = ? AND key = ? AND seen_at >= ?",
                (kind, key, cutoff),
            ).fetchone()
            if row is None:
                new_keys.append((kind, key))
            elif verdict.duplicate_of is None and row[0] != article.article_id:
                verdict = _Verdict(story_id=row[0], duplicate_of=row[0], match=kind)
        # A copy's other keys lead to the same first article, so a third copy
        # that shares only them still joins the story.
        self._db.executemany(
            "INSERT OR REPLACE INTO first_seen VALUES (?, ?, ?, ?)",
            [(kind, key, verdict.story_id, seen_at) for kind, key in new_keys],
        )
        return verdict

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
