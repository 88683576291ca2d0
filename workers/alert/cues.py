"""Cues: the verbs and prepositions that may report an incursion.

A cue is a verb or preposition whose object (or, for passives, subject) may
be a provincial capital: "entered", "fell", "took control of", "near". Cues
are found by looking up each word of a sentence in a lexicon keyed by first
word, so only the sentence's own words are tried, never every alternative at
every offset (a single alternation regex was several times slower).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from workers.alert.lexicon import LEXICON


@dataclass(frozen=True, slots=True)
class Cue:
    """One cue in the text: offsets, verb class ("capture", "passive_enter",
    "prep" ...) and the words as written."""

    start: int
    end: int
    verb: str
    text: str


Form = tuple[str, re.Pattern[str] | None]


def _lexicon() -> dict[str, list[Form]]:
    table: dict[str, list[Form]] = {}
    for verb, words, rest in LEXICON:
        follow = re.compile(rf"(?:{rest})\b", re.IGNORECASE) if rest else None
        for word in words.split():
            table.setdefault(word, []).append((verb, follow))
    return table


def _any_follow(table: dict[str, list[Form]]) -> dict[str, re.Pattern[str]]:
    """For a word whose every form needs words after it ("were" has a dozen),
    one pattern that matches where any of them does: most occurrences ("were
    killed") then fail in one regex call instead of one per form."""
    combined: dict[str, re.Pattern[str]] = {}
    for word, forms in table.items():
        follows = [follow.pattern for _, follow in forms if follow is not None]
        if len(follows) > 1 and len(follows) == len(forms):
            combined[word] = re.compile("|".join(follows), re.IGNORECASE)
    return combined


def _trie(words: list[str]) -> str:
    """An alternation of `words` factored by prefix ("a(?:dvanc(?:e|ed)|...)"):
    the regex engine then rejects a word after a character or two instead of
    trying hundreds of alternatives."""
    root: dict[str, dict[str, Any]] = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def pattern(node: dict[str, dict[str, Any]]) -> str:
        branches = [re.escape(c) + pattern(child) for c, child in sorted(node.items()) if c]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        return f"(?:{body})?" if "" in node else body

    return pattern(root)


_BY_FIRST_WORD = _lexicon()
_ANY_FOLLOW = _any_follow(_BY_FIRST_WORD)
# A whole word (a run of ASCII letters, as the lexicon's keys are) that is a
# key of the lexicon: the regex engine skips the other words, which are most.
_WORD = re.compile(
    rf"(?<![A-Za-z])(?:{_trie(list(_BY_FIRST_WORD))})(?![A-Za-z])", re.IGNORECASE | re.ASCII
)


def find_cues(text: str, start: int, end: int) -> Iterator[Cue]:
    """The cues in text[start:end], left to right, not overlapping."""
    resume = start
    for word in _WORD.finditer(text, start, end):
        if word.start() < resume:
            continue
        lower = word.group().lower()
        forms = _BY_FIRST_WORD[lower]
        screen = _ANY_FOLLOW.get(lower)
        if screen is not None and screen.match(text, word.end(), end) is None:
            continue
        for verb, follow in forms:
            if follow is None:
                cue_end = word.end()
            else:
                rest = follow.match(text, word.end(), end)
                if rest is None:
                    continue
                cue_end = rest.end()
            yield Cue(word.start(), cue_end, verb, text[word.start() : cue_end])
            resume = cue_end
            break
