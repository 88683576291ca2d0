"""Names that are more than a place: other countries' places, people, words.

The world gazetteer shares many names across countries (Tripoli is the
capital of Libya and of Lebanon's North Governorate; Punjab is a province
of India and of Pakistan), and some names are also people's names
("Farah Ahmadi", "President Jordan") or common words ("Plateau",
"Central", "We" for New Caledonia's Wé). The tagger asks this module:

- `person_before` / `person_after`: do the words around a mention make it
  part of a person's name? Such a mention is not a place and is dropped;
- `country_evidence`: which countries does the text name unambiguously
  (country names, and names of a single country's places that are not weak)?
- `choose_country`: which country a name of several countries means, given
  that evidence: the candidate country the text names most; with no
  evidence, or a tie, the name stays unresolved and the tagger reports the
  default reading with a low confidence.

A weak name (`Candidates.weak`) counts as a place only with support: a cue
word that agrees ("Plateau state", "the town of Man"), or its country
named elsewhere in the text. Without either it reads as the word it also
is, and is not reported.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from workers.geotag.gazetteer import Candidates

__all__ = ["choose_country", "country_evidence", "person_after", "person_before"]

_TITLES = (
    "Mr|Mrs|Ms|Miss|Dr|President|Gen|General|Col|Colonel|Capt|Captain|Lt|Sgt|Maj|Major"
    "|Minister|Senator|Sen|Rep|Judge|Justice|Prof|Professor|Sir|Dame|Lady|Lord|King|Queen"
    "|Prince|Princess|Sheikh|Sheik|Mullah|Mawlawi|Maulvi|Maulawi|Haji|Hajji|Commander"
    "|Cmdr|Pope|Bishop|Father|Rev|Ayatollah|Emir|Sultan|Ambassador"
)
# Given names news often puts before a surname that is also a place name.
_GIVEN = (
    "Mo|Mohammad|Mohammed|Muhammad|Mohamed|Mohamad|Ahmad|Ahmed|Ali|Abdul|Abdullah|Hamid"
    "|Ashraf|Omar|Umar|Hassan|Hussein|Husain|Mahmoud|Mahmud|Khalid|Karim|Rahim|Amir"
    "|Sayed|Syed|Nur|Noor|Gul|Zahir|Bashir|Nasir|Farid|Jamal|Yusuf|Yousuf|Ibrahim|Ismail"
    "|John|James|David|Michael|Peter|Paul|Mary|Sarah|Anna|Maria|Jose|Juan|Luis|Carlos"
)
_PERSON_BEFORE = re.compile(rf"\b(?:(?:{_TITLES})\.?|{_GIVEN}) +$")
# Place names that are also given names: followed by a capitalised word
# that names nothing of a place, they are a person's first name.
PERSON_FIRST_NAMES = frozenset(
    [
        "farah",
        "victoria",
        "florence",
        "charlotte",
        "austin",
        "madison",
        "lincoln",
        "jackson",
        "regina",
        "adelaide",
        "helena",
        "augusta",
        "carson",
        "santiago",
        "salvador",
        "georgia",
        "jordan",
        "chad",
        "israel",
        "sofia",
        "alexandria",
        "paris",
        "dallas",
        "nelson",
        "hamilton",
        "douglas",
        "marion",
        "raleigh",
        "kingston",
        "orlando",
        "savannah",
        "aurora",
        "eugene",
        "troy",
        "tyler",
        "nili",
        "kabir",
    ]
)
_PLACE_WORDS = (
    "Province|Provinces|Provincial|City|Cities|Town|State|States|Region|Governorate"
    "|Oblast|Department|Prefecture|District|Districts|Airport|Airfield|Air|Base|Road|Highway"
    "|River|Valley|Lake|Falls|Bay|Island|Islands|Port|Harbour|Harbor|Gate|Square|Bridge"
    "|Dam|Mountains|Hills|University|Police|Governor|Council|Municipality|Central|North"
    "|South|East|West|Street|Prison|Hospital|Stadium|Bank|Radio|Times|Post|Security"
)
_PERSON_AFTER = re.compile(rf"[ \u00a0]+(?!(?:{_PLACE_WORDS})\b)[A-Z][a-z]+")


def person_before(original: str, start: int) -> bool:
    """True when a title or a given name stands right before `start`
    ("President Jordan", "Mo Farah")."""
    # Most mentions follow a lower-case word or punctuation: skip the regex.
    word_end = start
    while word_end > 0 and original[word_end - 1] == " ":
        word_end -= 1
    if word_end in (start, 0):
        return False
    word_start = original.rfind(" ", max(0, word_end - 16), word_end) + 1
    if not original[word_start : word_start + 1].isupper():
        return False
    return _PERSON_BEFORE.search(original, max(0, start - 24), start) is not None


def person_after(original: str, end: int, key: str) -> bool:
    """True when a place name that is also a given name (`key`, normalised)
    is followed by a capitalised word that is not a place word
    ("Farah Ahmadi" but not "Farah Province")."""
    return key in PERSON_FIRST_NAMES and _PERSON_AFTER.match(original, end) is not None


def country_evidence(named: Iterable[Candidates]) -> Counter[str]:
    """Countries that `named` (the text's names that are evidence: not
    weak, or weak with a cue that agrees) point at unambiguously, with counts."""
    evidence: Counter[str] = Counter()
    for candidates in named:
        if len(candidates.countries) == 1:
            evidence[candidates.countries[0]] += 1
    return evidence


def choose_country(candidates: Candidates, evidence: Counter[str]) -> Candidates | None:
    """The candidates of the country `evidence` favours, or None when the
    text does not say (no candidate country named, or a tie)."""
    scores = sorted(
        ((evidence[country], country) for country in candidates.countries), reverse=True
    )
    best, country = scores[0]
    if best == 0 or (len(scores) > 1 and scores[1][0] == best):
        return None
    return candidates.per_country[country]
