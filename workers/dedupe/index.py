"""The dedupe index: which article first carried a URL, a text, or nearly that text.

State lives in one SQLite file (WAL journal) so that it survives a restart of
the process and of the whole service. It holds, for the dedupe window:

- `first_seen`: canonical URL → first article id, normalised-text hash →
  first article id, each with the time it was first seen;
- `verdict`: every article id processed → the verdict it got, so that a
  replayed article gets exactly its first verdict again;
- `sketch`: for every first copy long enough to compare, its MinHash
  signature (`workers.dedupe.sketch`), its story, its story terms
  (`workers.dedupe.stories`) and the rarest of them.

The LSH band postings, the rarest terms' postings (`workers.dedupe.bands`)
and the terms' document frequencies are in memory only, rebuilt from
`sketch` when the index opens, and rebuilt again if a transaction fails, so
they never disagree with the file (a crash loses only the uncommitted batch,
which Kafka replays). A batch is decided in one transaction
(`workers.dedupe.store`) committed before `check_and_add_all` returns.

Time is the articles' own fetch time, never the wall clock: the newest fetch
time processed so far is the index's "now", entries first seen more than
`window` before it are ignored and purged. The outcome therefore depends only
on the articles and their order, and a replay reproduces it. Fetch time rather
than publication time, because a page's date can be years old or wrong, while
the fetch time says when the copy actually reached us.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Self

import numpy as np
import numpy.typing as npt
import structlog

from ingest.core.models import Article, Deduped, DuplicateMatch
from workers.dedupe import stories
from workers.dedupe.bands import Postings
from workers.dedupe.prepare import Prepared, prepare
from workers.dedupe.sketch import SIGNATURE_SIZE, band_keys_many
from workers.dedupe.store import IndexFile, Recorded, Stored

log = structlog.get_logger()

DEFAULT_WINDOW = timedelta(days=7)
DEFAULT_MIN_TEXT_CHARS = 100
DEFAULT_NEAR_CONTAINMENT = 0.6
DEFAULT_STORY_WINDOW = timedelta(hours=48)
NAME_CONTAINMENT = 0.5
_MATCHES: dict[str | None, DuplicateMatch | None] = {
    None: None,
    "url": "url",
    "text": "text",
    "near": "near",
}
_DF_BUCKETS = 1 << 20  # document frequencies are counted per hashed bucket of term ids
_STORY_CANDIDATES = 8
# Story candidates come from each rare term's newest entries only: a term that
# thousands of reports in the window carry does not single out an event, and
# reading all its entries for every article would make the decision slow.
_TERM_ENTRIES = 1000
_U32_MAX = 2**32 - 1


def _same_names(mine: npt.NDArray[np.int64], theirs: npt.NDArray[np.int64]) -> bool:
    """Whether a near-identical text also names the same people and places.

    Text generated from one template (a weather bulletin, a price report, an
    outlet's stock phrases) matches on shingles while it reports a different
    event; a copy keeps the original's names, except those in cut paragraphs.
    Both are sorted unique term ids.
    """
    if mine.size < 3:
        return True
    shared = np.intersect1d(mine, theirs, assume_unique=True).size
    return bool(shared >= NAME_CONTAINMENT * mine.size)


def _seconds(value: float) -> int:
    """A time as the unsigned 32-bit whole seconds the postings keep."""
    return min(max(int(value), 0), _U32_MAX)


class DedupeIndex:
    """Owns one SQLite file; opened when the dedupe stage starts, closed at shutdown.

    An instance belongs to one thread (the stage's loop thread; SQLite
    enforces it) and one process: the postings in memory are this
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
        self.bands = Postings()
        # Fewer segments make each look-up cheaper, but a term's fresh entries are
        # filtered in Python whenever their publication times stray outside the
        # span searched (an old item among the fresh ones): 1,024 keeps both small.
        self.story_terms = Postings(stamped=True, freeze_every=1024)
        self._df = np.zeros(_DF_BUCKETS, dtype=np.int64)
        self._stories = 0
        self._file = IndexFile(path)
        try:
            self._now, articles = self._file.newest()
            self._rebuild()
        except BaseException:
            self._file.close()
            raise
        log.info(
            "dedupe_index_opened",
            path=str(path),
            articles=articles,
            sketches=self._stories,
            window_s=window.total_seconds(),
        )

    def _rebuild(self) -> None:
        """Refill the postings and term frequencies from the file, within the window."""
        self.bands.clear()
        self.story_terms.clear()
        self._df[:] = 0
        self._stories = 0
        self._next_slot = self._file.next_slot()
        cutoff = -np.inf if self._now is None else self._now - self.window.total_seconds()
        slots: list[int] = []
        times: list[int] = []
        published: list[int] = []
        signatures: list[bytes] = []
        terms: list[bytes] = []
        tops: list[npt.NDArray[np.int64]] = []
        for slot, seen_at, when, signature, term_ids, top in self._file.live_sketches(cutoff):
            slots.append(slot)
            times.append(_seconds(seen_at))
            published.append(_seconds(when))
            signatures.append(signature)
            terms.append(term_ids)
            tops.append(np.frombuffer(top, dtype="<i8"))
        if not slots:
            return
        self._count_terms(np.frombuffer(b"".join(terms), dtype="<i8"), +1)
        self._stories = len(slots)
        matrix = np.frombuffer(b"".join(signatures), dtype="<u4").reshape(-1, SIGNATURE_SIZE)
        keys = band_keys_many(matrix)
        slot_array = np.asarray(slots, dtype=np.uint32)
        time_array = np.asarray(times, dtype=np.uint32)
        self.bands.add_many(
            keys.reshape(-1),
            np.repeat(slot_array, keys.shape[1]),
            np.repeat(time_array, keys.shape[1]),
        )
        counts = [top.size for top in tops]
        self.story_terms.add_many(
            np.concatenate(tops).astype(np.uint64),
            np.repeat(slot_array, counts),
            np.repeat(time_array, counts),
            np.repeat(np.asarray(published, dtype=np.uint32), counts),
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
        batch = prepare(list(articles), self.min_text_chars)
        now = self._now
        window = self.window.total_seconds()
        results: list[Deduped] = []
        self._file.begin(
            [p.article.article_id for p in batch],
            (key for p in batch for key in self._keys(p)),
        )
        try:
            for one in batch:
                seen_at = one.article.fetched_at.timestamp()
                now = seen_at if now is None else max(now, seen_at)
                results.append(self._check_one(one, seen_at, now - window))
            cutoff = None if now is None else now - window
            for terms in self._file.commit(cutoff):
                self._count_terms(terms, -1)
                self._stories -= 1
            if cutoff is not None:
                self.bands.expire(int(cutoff))
                self.story_terms.expire(int(cutoff))
        except BaseException:
            self._file.rollback()
            self._rebuild()  # the postings may hold entries the file never got
            raise
        self._now = now
        return results

    @staticmethod
    def _keys(one: Prepared) -> list[tuple[DuplicateMatch, str]]:
        keys: list[tuple[DuplicateMatch, str]] = []
        if one.article.canonical_url:
            keys.append(("url", one.article.canonical_url))
        if one.long_enough:
            keys.append(("text", one.digest))
        return keys

    def _check_one(self, one: Prepared, seen_at: float, cutoff: float) -> Deduped:
        article = one.article
        recorded = self._file.verdict(article.article_id, cutoff)
        if recorded is None:
            recorded = self._decide(one, seen_at, cutoff)
            self._file.record_verdict(article.article_id, recorded)
        return Deduped(
            article=article,
            text_hash=one.digest,
            story_id=recorded.story_id,
            duplicate_of=recorded.duplicate_of,
            match=_MATCHES[recorded.match],
        )

    def _decide(self, one: Prepared, seen_at: float, cutoff: float) -> Recorded:
        article = one.article
        verdict: Recorded | None = None
        new_keys: list[tuple[DuplicateMatch, str]] = []
        for kind, key in self._keys(one):
            first = self._file.first(kind, key, cutoff)
            if first is None:
                new_keys.append((kind, key))
            elif verdict is None and first != article.article_id:
                verdict = Recorded(self._file.story_of(first), first, kind, seen_at)
        if one.sketch is not None:
            if verdict is None:
                verdict = self._near_duplicate(one, seen_at, cutoff)
            if verdict is None:
                story = self._index(one, seen_at, cutoff)
                verdict = Recorded(story or article.article_id, None, None, seen_at)
        if verdict is None:
            verdict = Recorded(article.article_id, None, None, seen_at)
        # A copy's other keys lead to the same first article, so a third copy
        # that shares only them still joins the story.
        first_article = verdict.duplicate_of or article.article_id
        for kind, key in new_keys:
            self._file.record_first(kind, key, first_article, seen_at)
        return verdict

    def _near_duplicate(self, one: Prepared, seen_at: float, cutoff: float) -> Recorded | None:
        assert one.sketch is not None
        assert one.band_keys is not None
        slots = self.bands.candidates(one.band_keys, int(cutoff))
        if not slots:
            return None
        drawn = one.sketch
        best: tuple[float, int, str, str] | None = None
        for other in self._file.sketches(slots, cutoff):
            similarity = float(np.count_nonzero(drawn.signature == other.signature))
            similarity /= SIGNATURE_SIZE
            # |A ∩ B| = J (|A| + |B|) / (1 + J) for sets A and B with Jaccard J
            shared = similarity * (drawn.shingles + other.shingles) / (1.0 + similarity)
            share = min(1.0, shared / max(drawn.shingles, 1))
            if share < self.near_containment or not _same_names(one.terms, other.terms):
                continue
            if best is None or (share, -other.slot) > best[:2]:
                best = (share, -other.slot, other.article_id, other.story_id)
        if best is None:
            return None
        return Recorded(best[3], best[2], "near", seen_at)

    def _weights(self, terms: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        return stories.weights(self._df[terms & (_DF_BUCKETS - 1)], self._stories)

    def _index(self, one: Prepared, seen_at: float, cutoff: float) -> str | None:
        """Record a first copy for near matching; the story it joins, if any."""
        assert one.sketch is not None
        assert one.band_keys is not None
        article, terms = one.article, one.terms
        weights = self._weights(terms)
        # rarest first; ties by term id so that the choice is deterministic
        top = terms[np.lexsort((terms, -weights))][: stories.TOP_TERMS]
        published = article.published.timestamp()
        story = self._matching_story(terms, weights, top, published, cutoff)
        slot = self._next_slot
        self._next_slot += 1
        stored = Stored(slot, article.article_id, story or article.article_id, seen_at,
                        one.sketch.shingles, one.sketch.signature, terms)
        self._file.record_sketch(stored, published, top)
        self.bands.add(slot, one.band_keys, _seconds(seen_at))
        self.story_terms.add(slot, top.astype(np.uint64), _seconds(seen_at), _seconds(published))
        self._count_terms(terms, +1)
        self._stories += 1
        return story

    def _matching_story(
        self,
        mine: npt.NDArray[np.int64],
        weights: npt.NDArray[np.float64],
        top: npt.NDArray[np.int64],
        published: float,
        cutoff: float,
    ) -> str | None:
        """The story of the indexed report closest to this one, if it is the same event.

        Candidates are the reports published within `story_window` that have
        at least two of this one's rarest terms, most shared first.
        """
        if mine.size < stories.MIN_SHARED or not top.size:
            return None
        span = self.story_window.total_seconds()
        slots, counts = self.story_terms.counts(
            top.astype(np.uint64), int(cutoff), _seconds(published - span),
            _seconds(published + span), newest=_TERM_ENTRIES,
        )
        keep = counts >= 2
        if not keep.any():
            return None
        slots, counts = slots[keep], counts[keep]
        chosen = slots[np.lexsort((slots, -counts))][:_STORY_CANDIDATES]
        others = [o for o in self._file.stories(chosen.tolist(), cutoff) if o[2].size]
        if not others:
            return None
        theirs = np.concatenate([terms for _, _, terms in others])
        lengths = np.fromiter((o[2].size for o in others), dtype=np.int64, count=len(others))
        starts = np.cumsum(lengths) - lengths
        scores = stories.overlaps(mine, weights, theirs, self._weights(theirs), starts)
        best: tuple[float, int, str] | None = None
        for (slot, story_id, _), score in zip(others, scores.tolist(), strict=True):
            if stories.same_story(score) and (best is None or (score, -slot) > best[:2]):
                best = (score, -slot, story_id)
        return None if best is None else best[2]

    def _count_terms(self, terms: npt.NDArray[np.int64], sign: int) -> None:
        np.add.at(self._df, terms.astype(np.int64) & (_DF_BUCKETS - 1), sign)

    def close(self) -> None:
        """Close the file; the index must not be used afterwards."""
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
