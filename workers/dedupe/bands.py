"""The in-memory LSH table: band key → the index slots of the articles that have it.

Kept compact so that a week of articles fits in little memory: entries live
in sorted numpy segments (8-byte key, 4-byte slot, 4-byte time each), and only
the newest few thousand articles sit in a dict until they are frozen into a
segment. Segments are merged in a binary-counter pattern (a new segment is
merged with the previous one while it is at least as large), so there are
O(log n) of them and each entry is rewritten O(log n) times. Entries older
than the window are dropped when their segment is merged, or rewritten when
more than half of a segment has expired.

The table is a cache of the SQLite index: it holds no information of its own
and is rebuilt from the stored signatures when the process starts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from workers.dedupe.sketch import U64

U32 = npt.NDArray[np.uint32]


@dataclass(frozen=True)
class _Segment:
    keys: U64  # sorted
    slots: U32
    times: U32  # the article's fetch time, Unix seconds

    @property
    def size(self) -> int:
        return int(self.keys.size)


def _segment(keys: U64, slots: U32, times: U32) -> _Segment:
    order = np.argsort(keys, kind="stable")
    return _Segment(keys[order], slots[order], times[order])


class BandTable:
    """Band keys of indexed articles; owned by one `DedupeIndex`, in one thread."""

    def __init__(self, *, freeze_every: int = 4096) -> None:
        self.freeze_every = freeze_every
        self._fresh: dict[int, list[int]] = {}
        self._fresh_keys: list[U64] = []
        self._fresh_slots: list[int] = []
        self._fresh_times: list[int] = []
        self._segments: list[_Segment] = []

    def __len__(self) -> int:
        """Entries held (articles times bands), expired ones not yet dropped included."""
        return sum(s.size for s in self._segments) + sum(k.size for k in self._fresh_keys)

    def nbytes(self) -> int:
        """Bytes of the numpy arrays (the dict of fresh entries is not counted)."""
        return sum(s.keys.nbytes + s.slots.nbytes + s.times.nbytes for s in self._segments)

    def add(self, slot: int, keys: U64, seen_at: int) -> None:
        """Index one article's band keys under `slot`; `seen_at` in whole seconds."""
        self._fresh_keys.append(keys)
        self._fresh_slots.append(slot)
        self._fresh_times.append(seen_at)
        for key in keys.tolist():
            self._fresh.setdefault(key, []).append(slot)
        if len(self._fresh_slots) >= self.freeze_every:
            self._freeze()

    def add_many(self, slots: U32, keys: U64, seen_at: U32) -> None:
        """Bulk load (start-up): `keys` is (n, bands), row i belongs to `slots[i]`."""
        if slots.size == 0:
            return
        bands = keys.shape[1]
        self._push(
            _segment(
                keys.reshape(-1).copy(),
                np.repeat(slots.astype(np.uint32), bands),
                np.repeat(seen_at.astype(np.uint32), bands),
            )
        )

    def candidates(self, keys: U64, cutoff: int) -> set[int]:
        """Slots sharing at least one band key, among articles seen at or after `cutoff`."""
        found: set[int] = set()
        for key in keys.tolist():
            found.update(self._fresh.get(key, ()))
        for segment in self._segments:
            left = np.searchsorted(segment.keys, keys, side="left")
            right = np.searchsorted(segment.keys, keys, side="right")
            for start, stop in zip(left[right > left].tolist(), right[right > left].tolist(),
                                   strict=True):
                live = segment.times[start:stop] >= cutoff
                found.update(segment.slots[start:stop][live].tolist())
        return found

    def expire(self, cutoff: int) -> None:
        """Forget entries seen before `cutoff` where that frees at least half a segment."""
        kept: list[_Segment] = []
        for segment in self._segments:
            live = segment.times >= cutoff
            alive = int(np.count_nonzero(live))
            if alive == 0:
                continue
            if alive * 2 < segment.size:
                kept.append(_Segment(segment.keys[live], segment.slots[live], segment.times[live]))
            else:
                kept.append(segment)
        self._segments = kept

    def clear(self) -> None:
        """Forget everything (before a rebuild from the stored signatures)."""
        self._fresh, self._fresh_keys, self._fresh_slots, self._fresh_times = {}, [], [], []
        self._segments = []

    def _freeze(self) -> None:
        if not self._fresh_slots:
            return
        bands = self._fresh_keys[0].size
        segment = _segment(
            np.concatenate(self._fresh_keys),
            np.repeat(np.asarray(self._fresh_slots, dtype=np.uint32), bands),
            np.repeat(np.asarray(self._fresh_times, dtype=np.uint32), bands),
        )
        self._fresh, self._fresh_keys, self._fresh_slots, self._fresh_times = {}, [], [], []
        self._push(segment)

    def _push(self, segment: _Segment) -> None:
        self._segments.append(segment)
        while len(self._segments) >= 2 and self._segments[-1].size >= self._segments[-2].size:
            newer = self._segments.pop()
            older = self._segments.pop()
            self._segments.append(
                _segment(
                    np.concatenate((older.keys, newer.keys)),
                    np.concatenate((older.slots, newer.slots)),
                    np.concatenate((older.times, newer.times)),
                )
            )
