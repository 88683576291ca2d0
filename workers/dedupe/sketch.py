"""One-permutation MinHash signatures of word shingles, and their LSH band keys, with numpy.

A text (already `normalise_text`-ed: words separated by single spaces) is cut
into overlapping word `SHINGLE_WORDS`-grams. Each shingle gets a 64-bit hash
(a polynomial hash of the characters, then of the words, finished with
splitmix64). The signature is one-permutation MinHash (Li, Owen and Zhang,
2012): the top 6 bits of a shingle's hash choose one of `SIGNATURE_SIZE`
bins, and each bin keeps the smallest of the other bits over its shingles.
Bins that got no shingle (texts of fewer than a few hundred words) borrow the
value of a bin picked by a fixed pseudo-random probe sequence ("optimal
densification", Shrivastava, 2017). For two texts, a position agrees with
probability about the Jaccard similarity of their shingle sets, as with 64
independent hash functions, but each shingle is hashed once instead of 64
times: that is what makes a batch cost about 2 µs of signature work per
article instead of 150 µs (BENCHMARKS.md). Everything is deterministic
(fixed seeds, no Python `hash()`), so a signature stored by one process is
valid in the next.

The LSH bands are `BANDS` groups of `ROWS` positions hashed to one 64-bit
key; two texts share at least one band key with probability
1 - (1 - J^ROWS)^BANDS: about 0.95 at J = 0.3 and 0.9999 at J = 0.6, and
about 3 % at J = 0.03 (two independent reports of one event).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]
I64 = npt.NDArray[np.int64]

SHINGLE_WORDS = 5
SIGNATURE_SIZE = 64
ROWS = 2
BANDS = SIGNATURE_SIZE // ROWS
# Longer texts are sketched on their first MAX_CHARS characters: a story is
# recognised by far less, and the hash tables stay small.
MAX_CHARS = 1 << 17

_BIN_BITS = 6  # 2**6 == SIGNATURE_SIZE
_VALUE_MASK = np.uint64((1 << (64 - _BIN_BITS)) - 1)
_EMPTY = np.uint64(2**64 - 1)
_PROBES = 256
_CHAR_BASE = np.uint64(0x100000001B3)
_WORD_BASE = np.uint64(0x9E3779B97F4A7C15)


def _splitmix(x: U64) -> U64:
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _inverse_mod_2_64(odd: int) -> int:
    inverse = odd
    for _ in range(6):  # Newton's iteration doubles the correct low bits each step
        inverse = (inverse * (2 - odd * inverse)) % (1 << 64)
    return inverse


def _powers(base: int, count: int) -> U64:
    out = np.full(count, base, dtype=np.uint64)
    out[0] = 1
    return np.cumprod(out, dtype=np.uint64)


with np.errstate(over="ignore"):
    _POWERS = _powers(int(_CHAR_BASE), MAX_CHARS + 1)
    _INVERSE_POWERS = _powers(_inverse_mod_2_64(int(_CHAR_BASE)), MAX_CHARS + 1)
# the low 32 bits of a power and of its inverse are a power and its inverse modulo 2**32
_POWERS_32 = _POWERS.astype(np.uint32)
_INVERSE_POWERS_32 = _INVERSE_POWERS.astype(np.uint32)
del _POWERS, _INVERSE_POWERS
_RNG = np.random.default_rng(20210620)
_BAND_SALTS = _RNG.integers(1, 2**63, size=BANDS, dtype=np.uint64)
# an empty bin i takes the value of bin _PROBE[i, k] for the first k that has one
_PROBE = _RNG.integers(0, SIGNATURE_SIZE, size=(SIGNATURE_SIZE, _PROBES), dtype=np.int64)


@dataclass(frozen=True)
class Sketch:
    """A text's MinHash signature and the number of shingles it was built from."""

    signature: U32
    shingles: int

    def band_keys(self) -> U64:
        return band_keys(self.signature)


def _word_hashes(joined: str) -> tuple[U64, I64]:
    """64-bit hash of each space-separated word of `joined` (at most MAX_CHARS long),
    and where each word starts.

    A 32-bit polynomial hash of the characters and the word's length, mixed
    to 64 bits. Two words of a vocabulary of 100,000 share a hash with
    probability about one in a million, too rare to matter to a Jaccard
    estimate. A word's sum is the difference of two entries of a 32-bit
    prefix sum: wrapping modulo 2**32 keeps it exact, and it costs a third of
    a segmented sum (`np.add.reduceat`) over 600-word texts.
    """
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    count = codes.size
    starts = np.concatenate(([0], np.flatnonzero(codes == 32) + 1))
    prefix = np.cumsum(codes * _POWERS_32[:count], dtype=np.uint32)
    # word i runs from starts[i] up to the next start (its space included), the last to the end
    before = prefix[starts - 1]
    before[0] = 0
    sums = prefix[np.append(starts[1:], count) - 1] - before
    lengths = np.diff(starts, append=count + 1).astype(np.uint64)
    # the hash of a word does not depend on where it stands
    words = (sums * _INVERSE_POWERS_32[starts]).astype(np.uint64)
    with np.errstate(over="ignore"):
        return _splitmix((words << np.uint64(32)) | lengths), starts


def _chunks(texts: Sequence[str]) -> list[list[str]]:
    """Consecutive texts grouped so that each group joined by spaces fits the power tables."""
    groups: list[list[str]] = []
    size = MAX_CHARS + 1
    for text in texts:
        if size + 1 + len(text) > MAX_CHARS:
            groups.append([])
            size = -1
        groups[-1].append(text)
        size += 1 + len(text)
    return groups


def shingle_hashes_many(normalised: Sequence[str]) -> tuple[U64, I64]:
    """Shingle hashes of every text (repeats kept) and the index of the text each belongs to.

    A text shorter than one shingle is one shingle of all its words.
    """
    texts = [text[:MAX_CHARS].strip(" ") for text in normalised]
    hashes: list[U64] = []
    owners: list[I64] = []
    first = 0
    for group in _chunks(texts):
        words, starts = _word_hashes(" ".join(group))
        # the words of a text start from its first character up to the space after it
        sizes = np.fromiter(map(len, group), dtype=np.int64, count=len(group)) + 1
        counts = np.diff(np.searchsorted(starts, np.concatenate(([0], np.cumsum(sizes)))))
        ends = np.cumsum(counts)
        with np.errstate(over="ignore"):
            if words.size >= SHINGLE_WORDS:
                positions = words.size - SHINGLE_WORDS + 1
                combined = np.zeros(positions, dtype=np.uint64)
                for offset in range(SHINGLE_WORDS):
                    combined = combined * _WORD_BASE + words[offset : offset + positions]
                owner = np.repeat(np.arange(len(group), dtype=np.int64), counts)[:positions]
                # a shingle must not run from one text into the next
                valid = np.arange(positions) + SHINGLE_WORDS <= ends[owner]
                hashes.append(combined[valid])
                owners.append(owner[valid] + first)
            for at in np.flatnonzero(counts < SHINGLE_WORDS).tolist():
                short = np.zeros(1, dtype=np.uint64)
                for word in words[ends[at] - counts[at] : ends[at]]:
                    short = short * _WORD_BASE + word
                hashes.append(short)
                owners.append(np.array([first + at], dtype=np.int64))
        first += len(group)
    if not hashes:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    with np.errstate(over="ignore"):
        return _splitmix(np.concatenate(hashes)), np.concatenate(owners)


def signatures(hashes: U64, owners: I64, count: int) -> tuple[U32, I64]:
    """(count, SIGNATURE_SIZE) signatures and shingle counts from `shingle_hashes_many`."""
    bins = owners * SIGNATURE_SIZE + (hashes >> np.uint64(64 - _BIN_BITS)).astype(np.int64)
    sparse = np.full(count * SIGNATURE_SIZE, _EMPTY, dtype=np.uint64)
    np.minimum.at(sparse, bins, hashes & _VALUE_MASK)
    dense = _densify(sparse.reshape(count, SIGNATURE_SIZE))
    # the top 32 of the 58 value bits: enough to tell minima apart, half the storage
    shingles = np.bincount(owners, minlength=count).astype(np.int64)
    return (dense >> np.uint64(64 - _BIN_BITS - 32)).astype(np.uint32), shingles


def _densify(sparse: U64) -> U64:
    rows, cols = np.nonzero(sparse == _EMPTY)
    if rows.size == 0:
        return sparse
    dense = sparse.copy()
    for probe in range(_PROBES):
        got = sparse[rows, _PROBE[cols, probe]]
        found = got != _EMPTY
        dense[rows[found], cols[found]] = got[found]
        rows, cols = rows[~found], cols[~found]
        if rows.size == 0:
            return dense
    # texts of one or two shingles: every empty bin takes the text's smallest value
    dense[rows, cols] = sparse[rows].min(axis=1)
    result: U64 = dense
    return result


def sketch_many(normalised: Sequence[str]) -> list[Sketch]:
    """The sketches of normalised texts (none of them empty), computed together."""
    hashes, owners = shingle_hashes_many(normalised)
    matrix, shingles = signatures(hashes, owners, len(normalised))
    return [Sketch(row, int(n)) for row, n in zip(matrix, shingles.tolist(), strict=True)]


def sketch(normalised: str) -> Sketch:
    """The MinHash sketch of a normalised text (which must not be empty)."""
    return sketch_many([normalised])[0]


def band_keys(signature: U32) -> U64:
    """One 64-bit key per band; a band's key depends on its position and its values."""
    keys: U64 = band_keys_many(signature.reshape(1, -1))[0]
    return keys


def band_keys_many(signatures: U32) -> U64:
    """`band_keys` of each row of a (n, SIGNATURE_SIZE) array, as an (n, BANDS) array."""
    rows = signatures.astype(np.uint64).reshape(-1, BANDS, ROWS)
    with np.errstate(over="ignore"):
        combined = np.broadcast_to(_BAND_SALTS, rows.shape[:2]).copy()
        for row in range(ROWS):
            combined = _splitmix(combined * _WORD_BASE + rows[:, :, row])
    return combined


def jaccard(first: U32, second: U32) -> float:
    """Estimated Jaccard similarity of the two shingle sets."""
    return float(np.count_nonzero(first == second)) / first.size


def containment(new: Sketch, old: Sketch) -> tuple[float, float]:
    """(Jaccard, share of `new`'s shingles also in `old`), both estimated.

    |A ∩ B| = J (|A| + |B|) / (1 + J) for sets A and B with Jaccard J.
    """
    similarity = jaccard(new.signature, old.signature)
    shared = similarity * (new.shingles + old.shingles) / (1.0 + similarity)
    return similarity, min(1.0, shared / max(new.shingles, 1))
