"""The gazetteer: places of every country data file, and their name automaton.

One JSON file per country lives in `workers/geotag/data/<ISO alpha-2>.json`
(see `AF.json`); adding a country is adding a file. A file holds the country
(type `country`), its provinces (admin-1, type `province`) each with its seat
(type `capital`), and notable other places (type `other`, never a capital).
Every record has a preferred `name` and the `variants` news writes it with.

Place ids are `geonames:<id>` when the record has a GeoNames id, else
`<country code lowercased>:<slug of the name>` (provinces: `...-province`).

A `Gazetteer` is built once per process (`Gazetteer.load()`) and is read-only
afterwards, so one instance can be shared by every thread; building it
compiles the Aho-Corasick automaton over all normalised variants.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import ahocorasick

from ingest.core.models import Capital
from workers.geotag.normalise import normalise_name
from workers.geotag.records import Entry, GazetteerError, entries_of_country

__all__ = ["Candidates", "Entry", "Gazetteer", "GazetteerError"]

_DATA_PACKAGE = "workers.geotag.data"
_COUNTRY_FILE = re.compile(r"^[A-Z]{2}\.json$")


@dataclass(frozen=True, slots=True)
class Candidates:
    """Every entry that one normalised name may denote.

    `default` is the entry chosen when nothing in the text decides. Within
    one country: the capital when it is named like its province (Kunduz,
    Herat, Kabul), else the province (Samangan, which is also a name of
    Aybak; Baghlan, which is also a town that is not the capital), else the
    only entry. Across countries: a national capital, else a capital, a
    province, another place, the most populous first (Tripoli: Libya's).
    """

    key: str
    entries: tuple[Entry, ...]
    default: Entry
    group: tuple[str, ...] = field(default=())
    """Sorted place ids of `entries`: mentions with one group are one referent set."""
    countries: tuple[str, ...] = field(default=())
    """The distinct countries of `entries`, in entry order."""
    per_country: Mapping[str, Candidates] = field(default_factory=dict, compare=False)
    """For a name of several countries, the candidates of each one."""
    weak: bool = False
    """Every entry lists this name as weak (a common word, a very short name)."""

    @property
    def ambiguous(self) -> bool:
        """True when the name denotes more than one place."""
        return len(self.entries) > 1


FAMOUS_CITY = 1_000_000
"""A city this large that shares a province's name is what the bare name
means (Lagos, not Lagos State)."""
_TYPE_RANK = {"capital": 0, "province": 1, "other": 2, "country": 3}


def _default_entry(own_key: str, entries: tuple[Entry, ...], by_id: dict[str, Entry]) -> Entry:
    if len(entries) == 1:
        return entries[0]
    if len({entry.country for entry in entries}) > 1:
        return min(
            entries,
            key=lambda e: (not e.national_capital, _TYPE_RANK[e.type], -(e.population or 0)),
        )
    provinces = [entry for entry in entries if entry.type == "province"]
    for province in provinces:
        seat = by_id.get(province.seat_id or "")
        if seat is None or seat not in entries:
            continue
        # A bare name a province shares with its seat is the city, unless
        # the name is the province's own and not the seat's (Samangan,
        # which GeoNames also gives Aybak).
        if not (own_key == normalise_name(province.name) != normalise_name(seat.name)):
            return seat
    famous = [e for e in entries if e.type == "other" and (e.population or 0) >= FAMOUS_CITY]
    if famous:
        return famous[0]
    return provinces[0] if provinces else entries[0]


def _candidates(key: str, entries: tuple[Entry, ...], by_id: dict[str, Entry]) -> Candidates:
    countries = tuple(dict.fromkeys(entry.country for entry in entries))
    per_country: dict[str, Candidates] = {}
    if len(countries) > 1:
        for country in countries:
            mine = tuple(entry for entry in entries if entry.country == country)
            per_country[country] = _candidates(key, mine, by_id)
    return Candidates(
        key=key,
        entries=entries,
        default=_default_entry(key, entries, by_id),
        group=tuple(sorted(entry.place_id for entry in entries)),
        countries=countries,
        per_country=per_country,
        weak=all(key in entry.weak for entry in entries),
    )


class Gazetteer:
    """Places of one or more countries and the automaton that finds their names.

    Created once (by `load`, or directly from parsed country data in tests)
    and never changed afterwards.
    """

    def __init__(self, countries: Iterable[dict[str, Any]]) -> None:
        self._by_id: dict[str, Entry] = {}
        for data in countries:
            for entry in entries_of_country(data):
                if entry.place_id in self._by_id:
                    raise GazetteerError(f"duplicate place id {entry.place_id}")
                if not entry.variants:
                    raise GazetteerError(f"{entry.name}: no variants")
                self._by_id[entry.place_id] = entry
        by_key: dict[str, list[Entry]] = {}
        for entry in self._by_id.values():
            for variant in entry.variants:
                key = normalise_name(variant)
                if not key:
                    raise GazetteerError(f"{entry.name}: variant {variant!r} is empty")
                entries = by_key.setdefault(key, [])
                if entry not in entries:
                    entries.append(entry)
        self._candidates: list[Candidates] = []
        self._automaton: Any = ahocorasick.Automaton()
        for key, entries in by_key.items():
            ordered = tuple(entries)
            self._automaton.add_word(key, len(self._candidates))
            self._candidates.append(_candidates(key, ordered, self._by_id))
        self._automaton.make_automaton()

    @classmethod
    def load(
        cls, data_dir: Path | None = None, countries: Iterable[str] | None = None
    ) -> Gazetteer:
        """Load the country files shipped in the package (or in `data_dir`).

        `countries` limits loading to those ISO alpha-2 codes; by default
        every `XX.json` file is loaded.
        """
        wanted = None if countries is None else {code.upper() for code in countries}
        root: Any = data_dir if data_dir is not None else resources.files(_DATA_PACKAGE)
        loaded = []
        for item in sorted(root.iterdir(), key=lambda item: item.name):
            if not _COUNTRY_FILE.match(item.name):
                continue
            if wanted is not None and item.name[:2] not in wanted:
                continue
            loaded.append(json.loads(item.read_text(encoding="utf-8")))
        if not loaded:
            raise GazetteerError(f"no country data file found in {root}")
        return cls(loaded)

    @property
    def automaton(self) -> Any:
        """The Aho-Corasick automaton: normalised name -> index into `candidates_at`."""
        return self._automaton

    def candidates_at(self, index: int) -> Candidates:
        """The candidates stored under automaton value `index`."""
        return self._candidates[index]

    def lookup(self, name: str) -> Candidates | None:
        """The candidates of an exact name (any spelling the gazetteer lists)."""
        index = self._automaton.get(normalise_name(name), None)
        return None if index is None else self._candidates[index]

    def entry(self, place_id: str) -> Entry | None:
        """The entry with `place_id`, if any."""
        return self._by_id.get(place_id)

    def entries(self) -> Iterator[Entry]:
        """Every entry, in data file order."""
        return iter(self._by_id.values())

    def capital(self, place_id: str) -> Capital | None:
        """The provincial capital `place_id` as the alert payload's `Capital`.

        None when `place_id` is not a capital, or has no coordinates.
        """
        entry = self._by_id.get(place_id)
        if entry is None or entry.type != "capital" or entry.province is None:
            return None
        if entry.lat is None or entry.lon is None:
            return None
        return Capital(
            place_id=entry.place_id,
            name=entry.name,
            province=entry.province,
            country=entry.country,
            lat=entry.lat,
            lon=entry.lon,
            geonames_id=entry.geonames_id,
        )

    def seat_of(self, province_id: str) -> Capital | None:
        """The capital of province `province_id` ("the capital of Takhar")."""
        entry = self._by_id.get(province_id)
        if entry is None or entry.seat_id is None:
            return None
        return self.capital(entry.seat_id)
