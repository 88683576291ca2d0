"""In-memory postings: a 64-bit key → the index slots of the articles that have it.

Two of them serve the dedupe index: LSH band keys (which articles might be
copies) and story terms (which earlier reports name the same rare people and
places, with their publication time as a stamp to search a time span).

Kept compact so that a week of articles fits in little memory: entries live
in sorted numpy segments (8-byte key, 4-byte slot, 4-byte time, and a 4-byte
stamp where there is one), and only the newest few thousand articles sit in
a dict until they are frozen into a segment. Segments are merged in a
binary-counter pattern (a new segment is merged with the previous one while
it is at least as large), so there are O(log n) of them and each entry is
rewritten O(log n) times. Within a key, entries stay in slot order. Entries
older than the window are dropped when their segment is merged, or rewritten
when more than half of a segment has expired.

A table is a cache of the SQLite index: it holds no information of its own
and is rebuilt from the stored sketches when the process starts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from workers.dedupe.sketch import U64

U32 = npt.NDArray[np.uint32]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class _Segment:
    keys: U64  # sorted
    slots: U32
    times: U32  # the article's fetch time, Unix seconds
    stamps: U32 | None

    @property
    def size(self) -> int:
        return int(self.keys.size)

    def nbytes(self) -> int:
        extra = 0 if self.stamps is None else self.stamps.nbytes
        return self.keys.nbytes + self.slots.nbytes + self.times.nbytes + extra

    def select(self, which: npt.NDArray[np.bool_] | I64) -> _Segment:
        stamps = None if self.stamps is None else self.stamps[which]
        return _Segment(self.keys[which], self.slots[which], self.times[which], stamps)

    def ranges(self, keys: U64, quota: I64 | None = None) -> I64:
        """Positions of the entries of `keys`, each key's in slot order.

        With `quota`, at most `quota[i]` of key i's, the newest; the quota
        is reduced by what was taken.
        """
        left = np.searchsorted(self.keys, keys, side="left")
        right = np.searchsorted(self.keys, keys, side="right")
        if quota is not None:
            left = np.maximum(left, right - quota)
            quota -= right - left
        lengths = right - left
        total = int(lengths.sum())
        if total == 0:
            return np.zeros(0, dtype=np.int64)
        # concatenated aranges left[i]..right[i] without a Python loop
        shift = np.repeat(left - np.cumsum(lengths) + lengths, lengths)
        return shift + np.arange(total, dtype=np.int64)


def _segment(keys: U64, slots: U32, times: U32, stamps: U32 | None) -> _Segment:
    order = np.argsort(keys, kind="stable")
    return _Segment(keys[order], slots[order], times[order],
                    None if stamps is None else stamps[order])


def _concat(older: _Segment, newer: _Segment) -> _Segment:
    stamps = None
    if older.stamps is not None and newer.stamps is not None:
        stamps = np.concatenate((older.stamps, newer.stamps))
    return _segment(
        np.concatenate((older.keys, newer.keys)),
        np.concatenate((older.slots, newer.slots)),
        np.concatenate((older.times, newer.times)),
        stamps,
    )


class Postings:
    """Keys of indexed articles; owned by one `DedupeIndex`, in one thread.

    With `stamped`, every entry carries a second time (a story term's
    article's publication time) that `counts` can search a span of.
    """

    def __init__(self, *, stamped: bool = False, freeze_every: int = 4096) -> None:
        self.stamped = stamped
        self.freeze_every = freeze_every
        self._fresh: dict[int, list[tuple[int, int]]] = {}  # key → [(slot, stamp)]
        self._fresh_keys: list[U64] = []
        self._fresh_slots: list[int] = []
        self._fresh_times: list[int] = []
        self._fresh_stamps: list[int] = []
        self._segments: list[_Segment] = []

    def __len__(self) -> int:
        """Entries held, expired ones not yet dropped included."""
        return sum(s.size for s in self._segments) + sum(k.size for k in self._fresh_keys)

    def nbytes(self) -> int:
        """Bytes of the numpy arrays (the dict of fresh entries is not counted)."""
        return sum(s.nbytes() for s in self._segments)

    def add(self, slot: int, keys: U64, seen_at: int, stamp: int = 0) -> None:
        """Index one article's keys under `slot`; `seen_at` and `stamp` in whole seconds."""
        self._fresh_keys.append(keys)
        self._fresh_slots.append(slot)
        self._fresh_times.append(seen_at)
        self._fresh_stamps.append(stamp)
        entry = (slot, stamp)
        for key in keys.tolist():
            self._fresh.setdefault(key, []).append(entry)
        if len(self._fresh_slots) >= self.freeze_every:
            self._freeze()

    def add_many(self, keys: U64, slots: U32, seen_at: U32, stamps: U32 | None = None) -> None:
        """Bulk load (start-up): entry i is key `keys[i]` of the article in `slots[i]`."""
        if keys.size:
            self._push(_segment(keys.copy(), slots.astype(np.uint32), seen_at.astype(np.uint32),
                                None if stamps is None else stamps.astype(np.uint32)))

    def candidates(self, keys: U64, cutoff: int) -> set[int]:
        """Slots sharing at least one key, among articles seen at or after `cutoff`."""
        found: set[int] = set()
        for key in keys.tolist():
            for slot, _ in self._fresh.get(key, ()):
                found.add(slot)
        for segment in self._segments:
            at = segment.ranges(keys)
            if at.size:
                found.update(segment.slots[at[segment.times[at] >= cutoff]].tolist())
        return found

    def counts(
        self, keys: U64, cutoff: int, low: int, high: int, *, newest: int
    ) -> tuple[I64, I64]:
        """(slots, how many of `keys` each has), ascending by slot.

        Among each key's `newest` entries (the newest first) of articles seen
        at or after `cutoff` and stamped in [low, high]: a key that half the
        stream carries would otherwise make every look-up read all of it.
        """
        parts: list[U32] = []
        quota = np.full(keys.size, newest, dtype=np.int64)
        fresh: list[int] = []
        for position, key in enumerate(keys.tolist()):
            entries = self._fresh.get(key, ())[-newest:]
            quota[position] -= len(entries)
            fresh.extend(slot for slot, stamp in entries if low <= stamp <= high)
        if fresh:
            parts.append(np.asarray(fresh, dtype=np.uint32))
        for segment in reversed(self._segments):
            at = segment.ranges(keys, quota)
            if at.size:
                slots = segment.slots[at]
                live = segment.times[at] >= cutoff
                if segment.stamps is not None:
                    stamps = segment.stamps[at]
                    live &= stamps >= low
                    live &= stamps <= high
                parts.append(slots[live])
            if not quota.any():
                break
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        found = np.concatenate(parts).astype(np.int64)
        found.sort()
        # run-length counts of the sorted slots
        edges = np.flatnonzero(np.diff(found, prepend=-1, append=-1))
        return found[edges[:-1]].astype(np.int64), np.diff(edges).astype(np.int64)

    def expire(self, cutoff: int) -> None:
        """Forget entries seen before `cutoff` where that frees at least half a segment."""
        kept: list[_Segment] = []
        for segment in self._segments:
            live = segment.times >= cutoff
            alive = int(np.count_nonzero(live))
            if alive == 0:
                continue
            kept.append(segment.select(live) if alive * 2 < segment.size else segment)
        self._segments = kept

    def clear(self) -> None:
        """Forget everything (before a rebuild from the stored sketches)."""
        self._fresh = {}
        self._fresh_keys, self._fresh_slots, self._fresh_times, self._fresh_stamps = [], [], [], []
        self._segments = []

    def _freeze(self) -> None:
        if not self._fresh_slots:
            return
        counts = [k.size for k in self._fresh_keys]
        segment = _segment(
            np.concatenate(self._fresh_keys),
            np.repeat(np.asarray(self._fresh_slots, dtype=np.uint32), counts),
            np.repeat(np.asarray(self._fresh_times, dtype=np.uint32), counts),
            np.repeat(np.asarray(self._fresh_stamps, dtype=np.uint32), counts)
            if self.stamped else None,
        )
        self._fresh = {}
        self._fresh_keys, self._fresh_slots, self._fresh_times, self._fresh_stamps = [], [], [], []
        self._push(segment)

    def _push(self, segment: _Segment) -> None:
        self._segments.append(segment)
        while len(self._segments) >= 2 and self._segments[-1].size >= self._segments[-2].size:
            newer = self._segments.pop()
            older = self._segments.pop()
            self._segments.append(_concat(older, newer))
