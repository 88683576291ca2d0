"""MinHash signatures of word shingles, and their LSH band keys, with numpy.

A text (already `normalise_text`-ed: words separated by single spaces) is cut
into overlapping word `SHINGLE_WORDS`-grams. Each shingle gets a 64-bit hash
computed for all shingles at once (a polynomial hash of the characters, then
of the words, finished with splitmix64), and the signature keeps, for each of
`PERMUTATIONS` multiply-shift hash functions, the smallest 32-bit value over
the shingles. Everything is deterministic (fixed seeds, no Python `hash()`),
so a signature stored in one process is valid in the next.

Two signatures agree in a position with probability equal to the Jaccard
similarity of the shingle sets. The LSH bands are `BANDS` groups of `ROWS`
positions hashed to one 64-bit key; two texts share at least one band key
with probability 1 - (1 - J^ROWS)^BANDS: about 0.95 at J = 0.3 and 0.9999 at
J = 0.6, and about 3 % at J = 0.03 (two independent reports of one event).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]

SHINGLE_WORDS = 5
PERMUTATIONS = 64
ROWS = 2
BANDS = PERMUTATIONS // ROWS
# Longer texts are sketched on their first MAX_CHARS characters: a story is
# recognised by far less, and the hash tables stay small.
MAX_CHARS = 1 << 17

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
_RNG = np.random.default_rng(20210620)
_MULTIPLIERS = _RNG.integers(1, 2**63, size=PERMUTATIONS, dtype=np.uint64) | np.uint64(1)
_OFFSETS = _RNG.integers(0, 2**63, size=PERMUTATIONS, dtype=np.uint64)
_BAND_SALTS = _RNG.integers(1, 2**63, size=BANDS, dtype=np.uint64)


@dataclass(frozen=True)
class Sketch:
    """A text's MinHash signature and the number of shingles it was built from."""

    signature: U32
    shingles: int

    def band_keys(self) -> U64:
        return band_keys(self.signature)


def shingle_hashes(normalised: str) -> U64:
    """64-bit hashes of the text's word shingles (one per position, repeats kept)."""
    codes = np.frombuffer(normalised[:MAX_CHARS].encode("utf-32-le"), dtype=np.uint32)
    count = codes.size
    if count == 0:
        return np.zeros(0, dtype=np.uint64)
    with np.errstate(over="ignore"):
        prefix = np.zeros(count + 1, dtype=np.uint64)
        np.cumsum(codes.astype(np.uint64) * _POWERS[:count], out=prefix[1:])
        spaces = np.flatnonzero(codes == 32)
        starts = np.concatenate(([0], spaces + 1))
        ends = np.concatenate((spaces, [count]))
        words = _splitmix((prefix[ends] - prefix[starts]) * _INVERSE_POWERS[starts])
        positions = words.size - SHINGLE_WORDS + 1
        if positions <= 0:  # shorter than one shingle: the whole text is the shingle
            positions, width = 1, words.size
        else:
            width = SHINGLE_WORDS
        shingles = np.zeros(positions, dtype=np.uint64)
        for offset in range(width):
            shingles = shingles * _WORD_BASE + words[offset : offset + positions]
        return _splitmix(shingles)


def sketch(normalised: str) -> Sketch:
    """The MinHash sketch of a normalised text (which must not be empty)."""
    hashes = shingle_hashes(normalised)
    with np.errstate(over="ignore"):
        permuted = np.multiply.outer(hashes, _MULTIPLIERS) + _OFFSETS
    signature = (permuted >> np.uint64(32)).min(axis=0).astype(np.uint32)
    return Sketch(signature=signature, shingles=int(hashes.size))


def band_keys(signature: U32) -> U64:
    """One 64-bit key per band; a band's key depends on its position and its values."""
    rows = signature.astype(np.uint64).reshape(BANDS, ROWS)
    with np.errstate(over="ignore"):
        combined = _BAND_SALTS.copy()
        for row in range(ROWS):
            combined = _splitmix(combined * _WORD_BASE + rows[:, row])
    return combined


def band_keys_many(signatures: U32) -> U64:
    """`band_keys` of each row of a (n, PERMUTATIONS) array, as an (n, BANDS) array."""
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
