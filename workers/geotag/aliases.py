"""Alias hygiene: which of GeoNames' alternate names a gazetteer record keeps.

GeoNames' alternate names are noisy for matching news text: they hold
names in every script and language, airport codes, machine
transliterations, historic names, and plain mistakes (Taloqan carries
"Khanabad", a separate town; Farah carries "Faro" and "Pala"). A name
is kept as a variant only if all of these hold:

- it is written in Latin letters, starts with a capital (GeoNames' machine
  transliterations are lower case) and is not an all-capitals code;
- it has at most four words, and none of them is a lower-case word other
  than a connector ("de", "al", "-e-" ...), which drops descriptive forms
  such as "X viloyati" or "Provincia di X";
- its matching key is at least `MIN_ALIAS_LENGTH` characters;
- it is not a common English word (`CommonWords`);
- it is not another place's main name in the same country, nor the main
  name of a seat, province or country elsewhere;
- it is not on the country's deny list (`overrides/XX.json`).

A record's own main name is always kept; when it is itself a common word
or very short it is listed as `weak`, and the tagger then wants more
evidence before it calls a mention of it a place.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from workers.geotag.normalise import normalise_name

__all__ = [
    "MIN_ALIAS_LENGTH",
    "AliasRules",
    "division_base_name",
    "is_plain_latin",
]

MIN_ALIAS_LENGTH = 4
WEAK_NAME_LENGTH = 3
_MAX_WORDS = 4
_LATIN_KEY = re.compile(r"^[a-z][a-z' ]*[a-z]$")
_CONNECTORS = frozenset(
    [
        "a",
        "al",
        "an",
        "ar",
        "as",
        "ash",
        "at",
        "ad",
        "az",
        "ad",
        "ed",
        "el",
        "en",
        "de",
        "del",
        "della",
        "der",
        "des",
        "di",
        "do",
        "dos",
        "du",
        "e",
        "i",
        "la",
        "le",
        "les",
        "los",
        "ol",
        "os",
        "la",
        "y",
        "ye",
        "van",
        "von",
        "und",
        "and",
        "of",
        "the",
        "da",
        "das",
        "ul",
        "ur",
        "us",
        "ibn",
        "bin",
        "bint",
        "sur",
        "sul",
        "am",
        "im",
    ]
)
# Words that only say what kind of division a name is; stripped from
# province names ("Takhar Province" -> "Takhar").
_DIVISION_WORDS = (
    "province|provinces|governorate|region|state|oblast|department|prefecture|county"
    "|territory|division|emirate|voivodeship|canton|parish|municipality|district|republic"
    "|autonomous|special|capital|federal|metropolitan|city|regional|administrative|area"
)
_DIVISION_SUFFIX = re.compile(rf"(?:[ -](?:{_DIVISION_WORDS}))+$", re.IGNORECASE)
_DIVISION_PREFIX = re.compile(rf"^(?:(?:{_DIVISION_WORDS}) )+of (?:the )?", re.IGNORECASE)
# Capitalised words of other languages that say "province of", "city of".
_FOREIGN_KIND = re.compile(
    r"\b(?:Provincia|Provincie|Provinz|Provinsi|Província|Wilayat|Wilayah|Wilaya|Velayat"
    r"|Vilayet|Ostan|Ostan-e|Departamento|Département|Estado|Región|Région|Regione"
    r"|Muhafazat|Mohafazat|Gouvernorat|Governatorato|Kabupaten|Kota|Ciudad|Città|Cidade"
    r"|Stadt|Ville|Shahr-e|Shahristan|Oblast|Oblys|Kraj|Muhafazah|Muhafaza|Liwa|Mintaqat"
    r"|Qada|Qadaa|Nahiyat|Distrito)\b",
    re.IGNORECASE,
)


def is_plain_latin(name: str) -> bool:
    """True for a name written in Latin letters as a proper name."""
    if not name or not name[0].isupper():
        return False
    if name.isupper() and len(name) <= 4:
        return False
    if _FOREIGN_KIND.search(name):
        return False
    key = normalise_name(name)
    if not _LATIN_KEY.match(key):
        return False
    words = key.split(" ")
    if len(words) > _MAX_WORDS:
        return False
    raw_words = re.split(r"[\s\-‐-―]+", name.strip())  # noqa: RUF001 -- dashes meant
    return all(
        not word or not word[0].islower() or word.lower() in _CONNECTORS for word in raw_words
    )


def division_base_name(name: str) -> str:
    """`name` without words that only give the kind of division."""
    stripped = _DIVISION_PREFIX.sub("", name.strip())
    stripped = _DIVISION_SUFFIX.sub("", stripped).strip(" -,")
    return stripped or name.strip()


@dataclass(slots=True)
class AliasRules:
    """The rules above, with the data they need.

    `common_words`: lower-case English words. `main_names`: per country, the
    keys of the main names of its places (cities, provinces); `world_names`:
    key -> countries where it is the main name of a seat, province or
    country. `deny`: per country, keys never used as a variant.
    """

    common_words: frozenset[str]
    main_names: dict[str, set[str]] = field(default_factory=dict)
    world_names: dict[str, set[str]] = field(default_factory=dict)
    deny: dict[str, set[str]] = field(default_factory=dict)

    def add_main_name(self, country: str, name: str, *, world: bool) -> None:
        """Record `name` as a main name in `country` (`world`: of a seat,
        province or country, so it is denied as a variant elsewhere too)."""
        key = normalise_name(name)
        self.main_names.setdefault(country, set()).add(key)
        if world:
            self.world_names.setdefault(key, set()).add(country)

    def is_weak(self, name: str) -> bool:
        """True when `name` alone is poor evidence of a place."""
        key = normalise_name(name)
        return len(key) <= WEAK_NAME_LENGTH or key in self.common_words

    def variants(self, country: str, own: Iterable[str], alternates: Iterable[str]) -> list[str]:
        """The record's variants: its `own` names (always kept, in order),
        then every alternate that passes the rules, in first-seen order,
        one per matching key."""
        kept: list[str] = []
        keys: set[str] = set()
        for name in own:
            key = normalise_name(name)
            if key and key not in keys:
                keys.add(key)
                kept.append(name)
        denied = self.deny.get(country, set())
        local = self.main_names.get(country, set())
        own_words = {word for key in keys for word in key.split()}
        for name in alternates:
            key = normalise_name(name)
            if key in keys or key in denied or not is_plain_latin(name):
                continue
            if len(key.replace(" ", "")) < MIN_ALIAS_LENGTH or key in self.common_words:
                continue
            words = key.split()
            if all(w in self.common_words for w in words) and not own_words.intersection(words):
                continue  # a translation ("White House" for Casablanca), not a name
            if key in local or self.world_names.get(key, {country}) != {country}:
                continue
            keys.add(key)
            kept.append(name)
        return kept
