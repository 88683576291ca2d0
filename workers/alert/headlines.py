"""Headline sentences: "the Taliban entered two provincial capitals".

Such a sentence names no capital, so it yields no incursion by itself; it
says what happened, who did it and how many capitals. Once the article's
incursions are known, it becomes evidence for the capitals named after it
with the same kind, as many as it counts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.core.models import Place
from workers.alert.attribution import Attribution
from workers.alert.candidates import PASSIVE_VERB, RESET_VERBS
from workers.alert.cues import find_cues
from workers.alert.incursion import BASE_CONFIDENCE, Incursion
from workers.alert.modality import discard_reason
from workers.alert.sentences import Sentence, SentenceIndex
from workers.alert.vocabulary import EventKind, verb_kind

_CAPITALS_WORD = re.compile(r"\bcapitals?\b", re.IGNORECASE)
_CAPITAL_STEM = re.compile("capital", re.IGNORECASE)
_COUNTED_CAPITALS = re.compile(
    r"\s+(?:(?P<count>two|three|four|five|six|one|a|another|several|more|multiple|\d)\s+)?"
    r"(?:(?:more|other|further|key|major|northern|southern|eastern|western)\s+)*"
    r"(?:provincial|regional|state)\s+capitals?\b",
    re.IGNORECASE,
)
_COUNT_WORDS = {
    "one": 1, "a": 1, "another": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    **{str(n): n for n in range(1, 10)},
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Headline:
    """A sentence reporting `kind` by `actor` in `count` capitals (None: "several")."""

    sentence: str
    kind: EventKind
    actor: str
    count: int | None


def headline_sentences(text: str, sentences: list[Sentence]) -> set[int]:
    """The indices of the sentences with the word "capital(s)": only they can be
    headlines. One scan of the article for the letters, then the word test on
    the few sentences that hold them, rather than a regex per sentence."""
    index = SentenceIndex(sentences)
    tried: set[int] = set()
    for stem in _CAPITAL_STEM.finditer(text):
        i = index.find(stem.start())
        if i is not None and i not in tried and stem.end() <= sentences[i].end:
            tried.add(i)
    return {i for i in tried if _CAPITALS_WORD.search(sentences[i].text) is not None}


def headlines_in(
    text: str, sentence: Sentence, year: int, attribution: Attribution
) -> list[Headline]:
    """ "The Taliban entered two provincial capitals": kind, group and how many."""
    found: list[Headline] = []
    for cue in find_cues(text, sentence.start, sentence.end):
        counted = _COUNTED_CAPITALS.match(text, cue.end, sentence.end)
        if counted is None or cue.verb in PASSIVE_VERB or cue.verb in RESET_VERBS:
            continue
        kind = verb_kind(cue.verb, "whole") if cue.verb != "prep" else None
        if kind is None:
            continue
        span = (sentence.start, sentence.end)
        if discard_reason(text, span, (cue.start, cue.end), year) is not None:
            continue
        agents = attribution.of_sentence(sentence)
        agent = attribution.subject(agents, sentence, cue, passive=False)
        named = None if agent is None else attribution.named(agent)
        if named is None:
            continue
        word = (counted.group("count") or "").lower()
        found.append(Headline(sentence.text, kind, named[0], _COUNT_WORDS.get(word)))
    return found


def tie_headlines(
    headlines: list[tuple[int, Headline]],
    sentences: Sequence[Sentence],
    found: list[Incursion],
) -> list[Incursion]:
    """A headline's sentence becomes evidence for the capitals named after it
    with the same kind, as many as it counts; it never adds a kind of its own.
    `headlines` are (sentence index, headline); `found` the article's incursions."""
    tied: list[Incursion] = []
    for index, headline in headlines:
        later = {s.text for s in sentences[index + 1 :]}
        capitals: dict[str, Place] = {}
        for incursion in found:
            if incursion.kind == headline.kind and incursion.sentence in later:
                capitals.setdefault(incursion.capital.place_id, incursion.capital)
        for capital in list(capitals.values())[: headline.count]:
            tied.append(
                Incursion(
                    headline.actor,
                    headline.kind,
                    capital,
                    headline.sentence,
                    BASE_CONFIDENCE["previous"],
                )
            )
    return tied
