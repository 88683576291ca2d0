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
older than the window are dropped with their segment once all of it has
expired, or by rewriting the segment once more than half of it has.

A look-up costs a few numpy calls per segment plus a slice per key found in
it; a key's entries in a segment are one slice of one (entries, columns)
array, so they are gathered without computing their positions.

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


_SLOT, _TIME, _STAMP = 0, 1, 2  # the columns of a segment's rows
_NO_STAMPS = (2**32, -1)  # (lowest, highest) stamp of no entries


@dataclass(frozen=True)
class _Segment:
    keys: U64  # sorted
    # One row per key: slot, the article's fetch time (Unix seconds) and, in
    # stamped postings, the stamp. One array rather than one per column, so
    # that a key's entries are one slice.
    rows: U32
    # the earliest fetch time and the stamps' span, so that a look-up can
    # skip filtering a segment whose entries all pass
    oldest: int
    stamps: tuple[int, int]

    @property
    def size(self) -> int:
        return int(self.keys.size)

    def nbytes(self) -> int:
        return self.keys.nbytes + self.rows.nbytes

    def select(self, which: npt.NDArray[np.bool_] | I64) -> _Segment:
        return _make_segment(self.keys[which], self.rows[which])

    def spans(self, keys: U64) -> tuple[list[int], list[int]]:
        """(starts, ends) of each key's entries, in slot order within a key."""
        left: list[int] = self.keys.searchsorted(keys, side="left").tolist()
        right: list[int] = self.keys.searchsorted(keys, side="right").tolist()
        return left, right


def _segment(keys: U64, rows: U32) -> _Segment:
    order = np.argsort(keys, kind="stable")
    return _make_segment(keys[order], rows[order])


def _make_segment(keys: U64, rows: U32) -> _Segment:
    if not keys.size:
        return _Segment(keys, rows, 0, (0, 0))
    stamped = rows.shape[1] > _STAMP
    span = (int(rows[:, _STAMP].min()), int(rows[:, _STAMP].max())) if stamped else (0, 0)
    return _Segment(keys, rows, int(rows[:, _TIME].min()), span)


def _concat(older: _Segment, newer: _Segment) -> _Segment:
    return _segment(np.concatenate((older.keys, newer.keys)),
                    np.concatenate((older.rows, newer.rows)))


def _rows(*columns: U32) -> U32:
    rows: U32 = np.stack(columns, axis=1).astype(np.uint32)
    return rows


def _append_to_each(lists: dict[int, list[int]], keys: list[int], value: int) -> None:
    for key in keys:
        found = lists.get(key)
        if found is None:
            lists[key] = [value]
        else:
            found.append(value)


class Postings:
    """Keys of indexed articles; owned by one `DedupeIndex`, in one thread.

    With `stamped`, every entry carries a second time (a story term's
    article's publication time) that `counts` can search a span of.
    """

    def __init__(self, *, stamped: bool = False, freeze_every: int = 4096) -> None:
        self.stamped = stamped
        self.freeze_every = freeze_every
        # Entries not frozen yet: key → slots (oldest first) and, when stamped,
        # key → their stamps, which span [_fresh_low, _fresh_high]. Lists of
        # plain ints: tuples or small lists per entry would cost the garbage
        # collector a traversal each, tens of thousands of times over.
        self._fresh: dict[int, list[int]] = {}
        self._fresh_key_stamps: dict[int, list[int]] = {}
        self._fresh_low, self._fresh_high = _NO_STAMPS
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
        listed = keys.tolist()
        _append_to_each(self._fresh, listed, slot)
        if self.stamped:
            _append_to_each(self._fresh_key_stamps, listed, stamp)
            self._fresh_low = min(self._fresh_low, stamp)
            self._fresh_high = max(self._fresh_high, stamp)
        if len(self._fresh_slots) >= self.freeze_every:
            self._freeze()

    def add_many(self, keys: U64, slots: U32, seen_at: U32, stamps: U32 | None = None) -> None:
        """Bulk load (start-up): entry i is key `keys[i]` of the article in `slots[i]`."""
        if self.stamped != (stamps is not None):
            raise ValueError("stamps are given exactly when the postings are stamped")
        if keys.size:
            columns = (slots, seen_at) if stamps is None else (slots, seen_at, stamps)
            self._push(_segment(keys.copy(), _rows(*columns)))

    def candidates(self, keys: U64, cutoff: int) -> set[int]:
        """Slots sharing at least one key, among articles seen at or after `cutoff`."""
        found: set[int] = set()
        listed = keys.tolist()
        for key in listed:
            found.update(self._fresh.get(key, ()))
        for segment in self._segments:
            # Most keys have no entry: slicing the few that do costs less than
            # gathering positions for all of them.
            left, right = segment.spans(keys)
            all_live = segment.oldest >= cutoff
            for start, end in zip(left, right, strict=True):
                if start < end:
                    rows = segment.rows[start:end]
                    if all_live:
                        found.update(rows[:, _SLOT].tolist())
                    else:
                        found.update(rows[rows[:, _TIME] >= cutoff, _SLOT].tolist())
        return found

    def counts(
        self, keys: U64, cutoff: int, low: int, high: int, *, newest: int
    ) -> tuple[I64, I64]:
        """(slots, how many of `keys` each has), ascending by slot.

        Among each key's `newest` entries (the newest first) of articles seen
        at or after `cutoff` and stamped in [low, high]: a key that half the
        stream carries would otherwise make every look-up read all of it.
        Entries not frozen yet are counted whatever their fetch time.
        """
        if not self.stamped:
            raise ValueError("counts searches a span of stamps: stamped postings only")
        listed = keys.tolist()
        quota = [newest] * len(listed)
        fresh: list[int] = []
        fresh_in_span = low <= self._fresh_low and self._fresh_high <= high
        for position, key in enumerate(listed):
            slots = self._fresh.get(key)
            if slots:
                slots = slots[-newest:]
                quota[position] -= len(slots)
                if fresh_in_span:  # the usual case: nothing to filter out
                    fresh.extend(slots)
                else:
                    times = self._fresh_key_stamps[key][-newest:]
                    fresh.extend(s for s, t in zip(slots, times, strict=True) if low <= t <= high)
        # each key's entries in each segment, one slice each, filtered all at once
        parts: list[U32] = []
        filtered = False
        wanted = np.asarray(quota, dtype=np.int64)
        for segment in reversed(self._segments):
            if not wanted.any():
                break
            left = segment.keys.searchsorted(keys, side="left")
            right = segment.keys.searchsorted(keys, side="right")
            start = np.maximum(left, right - wanted)  # the newest `wanted` of each key's
            wanted -= right - start
            parts.extend(segment.rows[first:end] for first, end
                         in zip(start.tolist(), right.tolist(), strict=True) if first < end)
            stamp_low, stamp_high = segment.stamps
            filtered |= segment.oldest < cutoff or stamp_low < low or stamp_high > high
        found = np.asarray(fresh, dtype=np.int64)
        if parts:
            rows = np.concatenate(parts)
            if filtered:
                live = rows[:, _TIME] >= cutoff
                stamps = rows[:, _STAMP]
                live &= stamps >= low
                live &= stamps <= high
                rows = rows[live]
            found = np.concatenate((found, rows[:, _SLOT]))
        if not found.size:
            return found, found
        found.sort()
        # run-length counts of the sorted slots
        opens = np.empty(found.size, dtype=np.bool_)
        opens[0] = True
        np.not_equal(found[1:], found[:-1], out=opens[1:])
        starts = np.flatnonzero(opens)
        lengths = np.empty(starts.size, dtype=np.int64)
        lengths[:-1] = starts[1:] - starts[:-1]
        lengths[-1] = found.size - starts[-1]
        return found[starts], lengths

    def expire(self, cutoff: int) -> None:
        """Forget entries seen before `cutoff` where that frees at least half a segment."""
        kept: list[_Segment] = []
        for segment in self._segments:
            live = segment.rows[:, _TIME] >= cutoff
            alive = int(np.count_nonzero(live))
            if alive == 0:
                continue
            kept.append(segment.select(live) if alive * 2 < segment.size else segment)
        self._segments = kept

    def clear(self) -> None:
        """Forget everything (before a rebuild from the stored sketches)."""
        self._fresh, self._fresh_key_stamps = {}, {}
        self._fresh_low, self._fresh_high = _NO_STAMPS
        self._fresh_keys, self._fresh_slots, self._fresh_times, self._fresh_stamps = [], [], [], []
        self._segments = []

    def _freeze(self) -> None:
        if not self._fresh_slots:
            return
        counts = [k.size for k in self._fresh_keys]
        columns = [self._fresh_slots, self._fresh_times]
        if self.stamped:
            columns.append(self._fresh_stamps)
        rows = np.repeat(np.asarray(columns, dtype=np.uint32).T, counts, axis=0)
        segment = _segment(np.concatenate(self._fresh_keys), rows)
        self._fresh, self._fresh_key_stamps = {}, {}
        self._fresh_low, self._fresh_high = _NO_STAMPS
        self._fresh_keys, self._fresh_slots, self._fresh_times, self._fresh_stamps = [], [], [], []
        self._push(segment)

    def _push(self, segment: _Segment) -> None:
        self._segments.append(segment)
        while len(self._segments) >= 2 and self._segments[-1].size >= self._segments[-2].size:
            newer = self._segments.pop()
            older = self._segments.pop()
            self._segments.append(_concat(older, newer))
