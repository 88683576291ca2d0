"""Capital mentions in a sentence: named capitals and reference phrases.

A mention is either a capital the geotagger found (a `Place` of type
"capital") or a reference phrase ("the city", "its neighbourhoods") to be
resolved to a capital named elsewhere. A mention used only as a reference
point ("west of Kunduz", "reinforcements from Kabul", "troops based in
Kabul"), naming a province ("Kunduz province"), a dateline ("KABUL -") or
whose officials speak ("a member of Kunduz's provincial council") carries an
exclusion: it is never the target of a cue.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ingest.core.models import Place
from workers.alert.sentences import Sentence
from workers.alert.vocabulary import REFERENCE

Exclusion = Literal["reference-point", "attribution", "province", "dateline"]

_DIRECTION_BEFORE = re.compile(
    r"(?:\b(?:north|south|east|west|north-?east|north-?west|south-?east|south-?west)(?:ern)?"
    r"\s+of|\b(?:km|kilometres?|kilometers?|miles?)\s+(?:\w+\s+)?(?:from|of|outside)"
    r"|\bfrom|\bbased\s+in|\bstationed\s+in|\bheadquartered\s+in|\bgarrisoned\s+in"
    r"|\b(?:fled|flown|flew|evacuated|retreated|withdrew|returned|travell?ed|travell?ing|sent"
    r"|airlifted|relocated|escaped|heading|headed|bound)\s+(?:back\s+)?"
    r"(?:to|into|in|for)|\bbetween|\bbetween\s+[\w' -]{1,40}?\s+and|\blinking|\bconnecting)"
    r"\s+(?:the\s+(?:[a-z-]+\s+)?(?:capital|city|town)\s*,?\s*(?:of\s+)?)?$",
    re.IGNORECASE,
)
_ATTRIBUTION_BEFORE = re.compile(
    r"\b(?:member|members|head|chief|governor|deputy|spokes(?:man|woman|person)|mayor"
    r"|officials?|lawmakers?|mps?|representatives?|residents?|elders?|council|police|director"
    r"|people)\s+(?:of|for|from|in)\s+(?:the\s+(?:[a-z-]+\s+)?(?:city|town|capital)\s+(?:of\s+)?)?$",
    re.IGNORECASE,
)
_ATTRIBUTION_AFTER = re.compile(
    r"(?:['\u2019]s?\s+|\s+)(?:provincial\s+|city\s+|municipal\s+)?(?:council"
    r"|governor(?!['\u2019]s?\s+(?:office|compound|house|residence|palace|mansion|headquarters))"
    r"|mayor"
    r"|deputy|spokes\w+|officials?|police\s+chief|police|lawmakers?|mps?|residents?|director"
    r"|elders?)\b",
    re.IGNORECASE,
)
_PROVINCE_AFTER = re.compile(r"(?:['\u2019]s)?\s+province\b", re.IGNORECASE)
# "the capital of Faryab province": upstream may tag "Faryab" here as its seat.
_CAPITAL_OF_BEFORE = re.compile(r"\bcapital\s+of\s+(?:the\s+)?$", re.IGNORECASE)
_DATELINE_AFTER = re.compile(r"\s*(?:\([^)]{0,40}\)\s*)?[\u2022\u2014\u2013:-]")


@dataclass(frozen=True, slots=True)
class Mention:
    """A capital named in the text (`place` set) or a reference phrase (`place` None)."""

    start: int
    end: int
    place: Place | None
    exclusion: Exclusion | None = None


def _exclusion(text: str, sentence: Sentence, start: int, end: int) -> Exclusion | None:
    before = text[max(sentence.start, start - 80) : start]
    after = text[end : min(sentence.end, end + 40)]
    if _DIRECTION_BEFORE.search(before):
        return "reference-point"
    if _PROVINCE_AFTER.match(after) and not _CAPITAL_OF_BEFORE.search(before):
        return "province"
    if _ATTRIBUTION_BEFORE.search(before) or _ATTRIBUTION_AFTER.match(after):
        return "attribution"
    matched = text[start:end]
    if matched.isupper() and len(matched) > 1 and _DATELINE_AFTER.match(after):
        return "dateline"
    return None


def sentence_mentions(text: str, sentence: Sentence, capitals: Sequence[Place]) -> list[Mention]:
    """The mentions in `sentence`, in text order; `capitals` are the capitals in it."""
    found = [
        Mention(p.start, p.end, p, _exclusion(text, sentence, p.start, p.end)) for p in capitals
    ]
    taken = [(m.start, m.end) for m in found]
    for ref in REFERENCE.finditer(text, sentence.start, sentence.end):
        if any(s < ref.end() and ref.start() < e for s, e in taken):
            continue
        exclusion = _exclusion(text, sentence, ref.start(), ref.end())
        found.append(Mention(ref.start(), ref.end(), None, exclusion))
    found.sort(key=lambda m: m.start)
    return found
