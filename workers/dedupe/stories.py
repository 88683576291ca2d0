"""Story terms: the who and where of an article, to group independent reports of one event.

Two outlets reporting the same event in their own words share few word
shingles but name the same actors and places. The terms of an article are
the capitalised words it uses inside sentences (not a sentence's first word,
not a stop word or a weekday or month), folded to lower case. The rarest of
them in the recent stream say what the article is about: "Kunduz", "Maimana",
"Faryab" rather than "Afghanistan", once the index has seen enough articles
about Afghanistan.

`same_story` is deliberately strict: a report joins a story only when most of
its rarest terms are the story's and several of them are, since merging two
different events would let one outlet's report corroborate another's.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

import numpy as np
import numpy.typing as npt

# Words with a capital letter anywhere ("Kunduz", "RSF", "al-Shabaab", "M23").
_CAPITALISED = re.compile(
    r"(?<![\w'\u2019\-])(?:[^\W\d_a-z\u00df-\u00ff]|[a-z]{1,3}-(?=[^\W\d_a-z]))[\w'\u2019\-]*"
)
# _CAPITALISED's first branch with the look-behind moved after the first character
_CAPITAL_START = re.compile(
    r"[^\W\d_a-z\u00df-\u00ff](?<![\w'\u2019\-].)[\w'\u2019\-]*", re.DOTALL
)
_HYPHEN_CAPITAL = re.compile(r"-(?=[^\W\d_a-z])")
_NAME_LIKE = re.compile(r"[^\W_a-z\u00df-\u00ff]")
_POSSESSIVE = re.compile(r"['\u2019]s$")
_SENTENCE_END = re.compile(r"[.!?…:\"“”]\s*$")
_STOP_WORDS = """
    a an and as at but by for from he her his i if in into it its mr mrs ms dr no not of on
    or our she so that the their there these they this those to we what when where which who
    why with you your after before while since during until under over about also all any
    more most some such than then today tomorrow yesterday monday tuesday wednesday thursday
    friday saturday sunday january february march april may june july august september october
    november december said says according would could should will can one two three however
    meanwhile earlier later last next many several both each other own my me us"""
_STOP = frozenset(_STOP_WORDS.split())
TOP_TERMS = 10
MIN_SHARED = 4
MIN_SHARE = 0.4


def terms(text: str) -> set[str]:
    """Lower-cased capitalised words (possessive 's removed), stop words excluded.

    A word shaped like a name (an inner capital or a digit: "RSF", "M23",
    "al-Shabaab") counts wherever it stands; another capitalised word counts
    only inside a sentence, so "Residents said ..." adds nothing while "the
    Taliban" and "in Kunduz" do.

    Finds the same words as `_CAPITALISED.finditer`, in two passes: words
    starting with a capital, then the rare "al-Shabaab" kind, found from
    their "-S". The first pass tries the pattern only where it can start,
    found by numpy over the code points: Python's regex engine would test
    every position of the text, most of the cost of this function.
    """
    found: set[str] = set()
    end = 0
    for start in _possible_starts(text):  # _add, inlined: this loop is the hot one
        if start < end:
            continue  # inside the word just taken, as a left-to-right scan would skip it
        match = _CAPITAL_START.match(text, start)
        if match is None:
            continue
        end = match.end()
        name_like, folded = _fold(match.group())
        if folded is None:
            continue
        if not name_like:
            before = text[max(0, start - 3) : start]
            if start == 0 or _SENTENCE_END.search(before) or "\n" in before:
                continue
        found.add(folded)
    if "-" in text:
        for hyphen in _HYPHEN_CAPITAL.finditer(text):
            at = hyphen.start()
            for back in (3, 2, 1):  # the earliest start wins, as in a left-to-right scan
                prefixed = _CAPITALISED.match(text, at - back) if at >= back else None
                # a word ending before the hyphen ("Δ" of "Δ—x-Ray") is not this one
                if prefixed is not None and prefixed.end() > at:
                    _add(found, text, prefixed)
                    break
    return found


def _possible_starts(text: str) -> list[int]:
    """Positions where `_CAPITAL_START` may match: A-Z, and any character
    beyond ASCII but the lower-case ß-ÿ (the pattern itself decides about
    those: "É" and "ª" may start a word, "—" may not)."""
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    upper_ascii = (points - 65) <= 25  # unsigned: below 65 wraps around
    beyond = points >= 0x80
    beyond &= (points - 0xDF) > 0xFF - 0xDF
    positions: list[int] = np.flatnonzero(upper_ascii | beyond).tolist()
    return positions


def _add(found: set[str], text: str, match: re.Match[str]) -> None:
    name_like, folded = _fold(match.group())
    if folded is None:
        return
    if not name_like:
        start = match.start()
        before = text[max(0, start - 3) : start]
        if start == 0 or _SENTENCE_END.search(before) or "\n" in before:
            return
    found.add(folded)


@lru_cache(maxsize=1 << 16)
def _fold(word: str) -> tuple[bool, str | None]:
    """(shaped like a name, the term or None for a stop word); the same words recur a lot."""
    folded = _POSSESSIVE.sub("", word).strip("-'\u2019").casefold()
    term = folded if len(folded) > 1 and folded not in _STOP else None
    return bool(_NAME_LIKE.search(word, 1)), term


@lru_cache(maxsize=1 << 16)
def term_id(term: str) -> int:
    """A stable signed 64-bit id for a term (SQLite INTEGER)."""
    digest = hashlib.blake2b(term.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def weights(document_frequency: npt.NDArray[np.int64], total: int) -> npt.NDArray[np.float64]:
    """Inverse document frequency: a term in every recent article weighs about 0."""
    return np.log((total + 1) / (document_frequency + 0.5))


def overlaps(
    mine: npt.NDArray[np.int64],
    my_weights: npt.NDArray[np.float64],
    theirs: npt.NDArray[np.int64],
    their_weights: npt.NDArray[np.float64],
    starts: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """For each candidate, the weight of the shared terms over that of the smaller set.

    `mine` is sorted unique term ids with their weights; `theirs` is the
    candidates' sorted unique term ids one after the other, candidate i's
    from `starts[i]` (none may be empty). A candidate sharing fewer than
    `MIN_SHARED` terms scores 0. A term weighs the same in both sets, so the
    shared weight is summed on the candidates' side, all at once.
    """
    if mine.size == 0 or theirs.size == 0:
        return np.zeros(starts.size, dtype=np.float64)
    at = np.minimum(np.searchsorted(mine, theirs), mine.size - 1)
    shared = mine[at] == theirs
    counts = np.add.reduceat(shared.astype(np.int64), starts)
    shared_weight = np.add.reduceat(np.where(shared, their_weights, 0.0), starts)
    smaller = np.minimum(float(my_weights.sum()), np.add.reduceat(their_weights, starts))
    positive = smaller > 0
    scores = np.zeros(starts.size, dtype=np.float64)
    np.divide(shared_weight, smaller, out=scores, where=positive)
    scores[counts < MIN_SHARED] = 0.0
    return scores


def same_story(score: float) -> bool:
    """Whether an `overlap` score says two articles report the same event."""
    return score >= MIN_SHARE
