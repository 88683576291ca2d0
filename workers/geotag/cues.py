"""Cue words that tell a city from its province around one name mention.

Many provinces share their name with their capital (Kunduz, Herat, Kabul ...).
The words right around a mention usually say which one the writer meant:

- "Kunduz city", "the city of Kunduz", "the outskirts of Kunduz",
  "Kunduz's streets", "the capital Kabul", "Maimana, the capital of ..."
  -> the city;
- "Kunduz province", "the province of Kunduz", "Borno state", "Kharkiv
  region", "Marib governorate", "Kunduz's provincial council",
  "governor of Kunduz", "districts of Kunduz", "Takhar's capital",
  "the capital of Takhar" -> the province (in "the capital of Takhar" the
  name itself denotes the province; the phrase as a whole means its seat,
  which the alert stage finds with `Gazetteer.seat_of`).

Cues are checked in a fixed order, first match wins: a dateline ("KUNDUZ,
Afghanistan —" opening the text; the tagger checks it for the first name
only), the words right after the name ("X city", "X's provincial"), the
words right before it ("city of X"), then an apposition after it ("X, the
capital of ..."). The cue's `name` is what `Place.decided_by` records.

All patterns run on normalised text (see `normalise`): lower case, one space
between words, apostrophes as "'". They are compiled once at import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["DATELINE", "Cue", "Sense", "dateline_cue", "find_cue"]

Sense = Literal["city", "province"]

_WINDOW = 48
# What countries call their first-order divisions, as news writes it.
_DIVISION = r"(?:province|state|region|governorate|oblast|prefecture)"
_DIVISIONS = r"(?:provinces|states|regions|governorates|oblasts|prefectures)"
_CITY_PARTS = (
    r"(?:outskirts|entrance|entrances|gates?|heart|centre|center|streets|alleys"
    r"|neighbou?rhoods?|suburbs|mayor|municipality|old city|airport)"
)


@dataclass(frozen=True, slots=True)
class Cue:
    """What the words around a mention say.

    `sense`: city or province. `name`: the rule, recorded as `decided_by`.
    `plural`: the words cover a list ("Kunduz and Takhar provinces").
    `spreads`: the words say what the writer means by the name, so other
    bare mentions of it in the same text may follow ("Kunduz city",
    "the province of Kunduz"). Words that only name an institution or a part
    of the province ("Kunduz's provincial council", "the governor of
    Kunduz", "the capital of Kunduz") do not spread: a text that mentions
    them goes on to say "Kunduz" for the city as often as for the province.
    """

    sense: Sense
    name: str
    plural: bool = False
    spreads: bool = True


def _rules(*rules: tuple[str, Cue]) -> tuple[re.Pattern[str], dict[str, Cue]]:
    """One alternation of `rules`, each a named group, so one regex call
    checks them all: with `match`, the first alternative that matches wins;
    with `search`, the match that starts first."""
    pattern = "|".join(f"(?P<r{index}>{rule})" for index, (rule, _) in enumerate(rules))
    return re.compile(pattern), {f"r{index}": cue for index, (_, cue) in enumerate(rules)}


_AFTER, _AFTER_CUES = _rules(
    (r"(?:'s)? (?:city|town|municipality)\b", Cue("city", "city-word")),
    (r" (?:cities|towns)\b", Cue("city", "city-word", plural=True)),
    (rf" {_DIVISION}\b", Cue("province", "province-word")),
    (rf" {_DIVISIONS}\b", Cue("province", "province-word", plural=True)),
    (r"(?:'s)? provincial\b", Cue("province", "provincial-word", spreads=False)),
    (r" countryside\b", Cue("province", "countryside-word", spreads=False)),
    (
        r"'s (?:governor|capital|districts?|villages?|police chief)\b",
        Cue("province", "province-possessive", spreads=False),
    ),
    (r" governor\b", Cue("province", "governor-word", spreads=False)),
    (rf"'s {_CITY_PARTS}\b", Cue("city", "city-possessive")),
    (r" (?:mayor|airport)\b", Cue("city", "city-word")),
)

# Anchored at the end of the text before the name; a name only has such a
# cue when that text ends in one of `_BEFORE_TAILS`, checked first because
# `str.endswith` is much cheaper than a regex search.
_BEFORE_TAILS = (" of ", " in ", "capital ", "capital, ", "central ", "downtown ")
_BEFORE, _BEFORE_CUES = _rules(
    (rf"\b(?:city|town|{_CITY_PARTS}) of $", Cue("city", "city-of")),
    (r"\b(?:cities|towns) of $", Cue("city", "city-of", plural=True)),
    (r"\bcapital of $", Cue("province", "capital-of", spreads=False)),
    (
        r"\bprovincial (?!capitals? )(?:[a-z]+ ){1,2}of $",
        Cue("province", "provincial-of", spreads=False),
    ),
    (r"\bcapitals of $", Cue("province", "capital-of", plural=True, spreads=False)),
    (rf"\b{_DIVISION} (?:of|in) $", Cue("province", "province-of")),
    (rf"\b{_DIVISIONS} (?:of|in) $", Cue("province", "province-of", plural=True)),
    (
        r"\b(?:governor|governorate|districts?|villages?) (?:of|in) $",
        Cue("province", "province-part-of", spreads=False),
    ),
    (r"\bcapital,? $", Cue("city", "the-capital")),
    (r"\b(?:central|downtown) $", Cue("city", "city-part")),
)

# An apposition starts right after the name with a comma; the lookahead keeps
# ", and the capital Kabul" from reading as an apposition of the name before.
_APPOSITION, _APPOSITION_CUES = _rules(
    (
        r"(?:the |a |its )?(?:[a-z]+ )?(?:provincial |national )?(?:capital|city|town)\b",
        Cue("city", "capital-apposition"),
    ),
    (
        r"(?:the |a |its )?(?:[a-z]+ ){0,2}(?:province|governorate|oblast|region)(?!')\b",
        Cue("province", "province-apposition"),
    ),
)
_APPOSITION_START = re.compile(r", (?!(?:and|or|but|while|as|which|where|when|with|near|not) )")


# "KABUL •", "KUNDUZ, Afghanistan —", "Kabul, June 20 (Reuters) -": what may
# follow a place name that opens a text as its dateline. Run on the original
# text, because normalising turns the dashes into spaces.
_DATELINE = re.compile(
    r"(?:,[ \t]*[A-Za-z0-9 .]{1,30}?)?[ \t]*(?:\([^()\n]{1,40}\)[ \t]*)?"
    r"[•—–:|-]"  # noqa: RUF001 -- the dashes are meant
)
DATELINE = Cue("city", "dateline")


def dateline_cue(original: str, start: int, end: int) -> Cue | None:
    """`DATELINE` when the name at [start, end) of the original text opens it
    as a dateline (a dateline names the city the report was filed from)."""
    if original[:start].strip():
        return None
    return DATELINE if _DATELINE.match(original, end) else None


def find_cue(text: str, start: int, end: int) -> Cue | None:
    """The cue around the name at [start, end) of normalised `text`, if any."""
    after = text[end : end + _WINDOW]
    found = _AFTER.match(after)
    if found is not None and found.lastgroup is not None:
        return _AFTER_CUES[found.lastgroup]
    before = text[max(0, start - _WINDOW) : start]
    if before.endswith(_BEFORE_TAILS):
        found = _BEFORE.search(before)
        if found is not None and found.lastgroup is not None:
            return _BEFORE_CUES[found.lastgroup]
    opening = _APPOSITION_START.match(after)
    if opening is not None:
        found = _APPOSITION.match(after, opening.end())
        if found is not None and found.lastgroup is not None:
            return _APPOSITION_CUES[found.lastgroup]
    return None
