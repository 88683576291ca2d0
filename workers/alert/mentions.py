"""Capital mentions in a sentence: named capitals and reference phrases.

A mention is either a capital the geotagger found (a `Place` of type
"capital") or a reference phrase ("the city", "its neighbourhoods") to be
resolved to a capital named elsewhere. A mention used only as a reference
point ("west of Kunduz", "reinforcements from Kabul", "troops based in
Kabul"), naming a province ("Kunduz province"), a dateline ("KABUL -"),
whose officials speak ("a member of Kunduz's provincial council"), or that is
only part of another name ("the Kano road", "Adan Yabaal", "Aden's Khor
Maksar") carries an exclusion: it is never the target of a cue.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ingest.core.models import Place
from workers.alert.sentences import Sentence
from workers.alert.vocabulary import REFERENCE

Exclusion = Literal[
    "reference-point", "attribution", "province", "dateline", "modifier", "within", "longer-name"
]

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
# "the Kano road", "the Kabul river": the name only labels a route, so "the city"
# later in the sentence is not that capital.
_MODIFIER_AFTER = re.compile(
    r"\s+(?:road|roads|highway|route|river|valley|corridor|junction|bridge|dam)\b", re.IGNORECASE
)
# "Adan Yabaal", "Bala Buluk district": a capital's name followed by another
# capitalised word is part of a longer name, unless that word is a day, a month,
# "City" or "Airport" (title-case headlines are left alone, see `_title_case`).
_NAME_AFTER = re.compile(
    r"[ \u00a0]+(?!(?:City|Town|Airport|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
    r"|January|February|March|April|May|June|July|August|September|October|November"
    r"|December)\b)[A-Z][a-z]"
)
_LONG_WORD = re.compile(r"\b[A-Za-z][a-z]{3,}")
# "Aden's Khor Maksar": a name after another capital's possessive is a part of it.
_WITHIN_POSSESSIVE = re.compile(r"['\u2019]s?\s+$")
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
    return _part_of_a_name(after, sentence)


def _part_of_a_name(after: str, sentence: Sentence) -> Exclusion | None:
    """ "the Kano road" names a road, "Adan Yabaal" another place."""
    if _MODIFIER_AFTER.match(after):
        return "modifier"
    if _NAME_AFTER.match(after) and not _title_case(sentence.text):
        return "longer-name"
    return None


def _title_case(text: str) -> bool:
    """A headline in title case ("Taliban Enter Kunduz After Heavy Fighting")."""
    words: list[str] = _LONG_WORD.findall(text)
    return sum(w[0].isupper() for w in words) * 3 > len(words) * 2


def sentence_mentions(text: str, sentence: Sentence, capitals: Sequence[Place]) -> list[Mention]:
    """The mentions in `sentence`, in text order; `capitals` are the capitals in it."""
    found: list[Mention] = []
    previous_end = -1
    for p in capitals:
        exclusion = _exclusion(text, sentence, p.start, p.end)
        if previous_end >= 0 and _WITHIN_POSSESSIVE.fullmatch(text, previous_end, p.start):
            exclusion = "within"
        found.append(Mention(p.start, p.end, p, exclusion))
        previous_end = p.end
    taken = [(m.start, m.end) for m in found]
    for ref in REFERENCE.finditer(text, sentence.start, sentence.end):
        if any(s < ref.end() and ref.start() < e for s, e in taken):
            continue
        exclusion = _exclusion(text, sentence, ref.start(), ref.end())
        found.append(Mention(ref.start(), ref.end(), None, exclusion))
    found.sort(key=lambda m: m.start)
    return found
