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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import ahocorasick

from ingest.core.models import Capital, PlaceType
from workers.geotag.normalise import normalise_name

__all__ = ["Candidates", "Entry", "Gazetteer", "GazetteerError"]

_DATA_PACKAGE = "workers.geotag.data"
_COUNTRY_FILE = re.compile(r"^[A-Z]{2}\.json$")


class GazetteerError(ValueError):
    """A country data file is malformed or contradicts itself."""


@dataclass(frozen=True, slots=True, eq=False)
class Entry:
    """One place of the gazetteer (compared and hashed by identity: each
    place is one object per gazetteer)."""

    place_id: str
    name: str
    type: PlaceType
    country: str
    province: str | None
    iso_3166_2: str | None
    geonames_id: int | None
    lat: float | None
    lon: float | None
    variants: tuple[str, ...]
    national_capital: bool = False
    seat_id: str | None = None
    """For a province, the place id of its capital."""


@dataclass(frozen=True, slots=True)
class Candidates:
    """Every entry that one normalised name may denote.

    `default` is the entry chosen when nothing in the text decides: the
    capital when it is named like its province (Kunduz, Herat, Kabul), else
    the province (Samangan, which is also a name of Aybak; Baghlan, which is
    also a town that is not the capital), else the only entry.
    """

    key: str
    entries: tuple[Entry, ...]
    default: Entry
    group: tuple[str, ...] = field(default=())
    """Sorted place ids of `entries`: mentions with one group are one referent set."""

    @property
    def ambiguous(self) -> bool:
        """True when the name denotes more than one place."""
        return len(self.entries) > 1


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", normalise_name(name)).strip("-")


def _place_id(country: str, geonames_id: int | None, slug: str) -> str:
    if geonames_id is not None:
        return f"geonames:{geonames_id}"
    return f"{country.lower()}:{slug}"


def _coordinate(record: dict[str, Any], key: str) -> float | None:
    value = record.get(key)
    return None if value is None else float(value)


def _entries_of_country(data: dict[str, Any]) -> Iterator[Entry]:
    country = data["country"]
    code = str(country["code"])
    yield Entry(
        place_id=_place_id(code, country.get("geonames_id"), _slug(country["name"])),
        name=country["name"],
        type="country",
        country=code,
        province=None,
        iso_3166_2=None,
        geonames_id=country.get("geonames_id"),
        lat=_coordinate(country, "lat"),
        lon=_coordinate(country, "lon"),
        variants=tuple(country["variants"]),
    )
    iso_by_province: dict[str, str] = {}
    for province in data["provinces"]:
        name, iso = province["name"], province["iso_3166_2"]
        if not iso.startswith(f"{code}-"):
            raise GazetteerError(f"{name}: ISO 3166-2 code {iso} is not of country {code}")
        iso_by_province[name] = iso
        seat = province["seat"]
        seat_id = _place_id(code, seat.get("geonames_id"), _slug(seat["name"]))
        yield Entry(
            place_id=f"{code.lower()}:{_slug(name)}-province",
            name=name,
            type="province",
            country=code,
            province=name,
            iso_3166_2=iso,
            geonames_id=province.get("geonames_id"),
            lat=_coordinate(province, "lat"),
            lon=_coordinate(province, "lon"),
            variants=tuple(province["variants"]),
            seat_id=seat_id,
        )
        yield Entry(
            place_id=seat_id,
            name=seat["name"],
            type="capital",
            country=code,
            province=name,
            iso_3166_2=iso,
            geonames_id=seat.get("geonames_id"),
            lat=_coordinate(seat, "lat"),
            lon=_coordinate(seat, "lon"),
            variants=tuple(seat["variants"]),
            national_capital=bool(seat.get("national_capital", False)),
        )
    for place in data.get("other", []):
        province_name = place.get("province")
        if province_name is not None and province_name not in iso_by_province:
            raise GazetteerError(f"{place['name']}: unknown province {province_name}")
        yield Entry(
            place_id=_place_id(code, place.get("geonames_id"), _slug(place["name"])),
            name=place["name"],
            type="other",
            country=code,
            province=province_name,
            iso_3166_2=None if province_name is None else iso_by_province[province_name],
            geonames_id=place.get("geonames_id"),
            lat=_coordinate(place, "lat"),
            lon=_coordinate(place, "lon"),
            variants=tuple(place["variants"]),
        )


def _default_entry(entries: tuple[Entry, ...], by_id: dict[str, Entry]) -> Entry:
    if len(entries) == 1:
        return entries[0]
    provinces = [entry for entry in entries if entry.type == "province"]
    for province in provinces:
        seat = by_id.get(province.seat_id or "")
        if seat is not None and seat in entries and seat.name == province.name:
            return seat
    return provinces[0] if provinces else entries[0]


class Gazetteer:
    """Places of one or more countries and the automaton that finds their names.

    Created once (by `load`, or directly from parsed country data in tests)
    and never changed afterwards.
    """

    def __init__(self, countries: Iterable[dict[str, Any]]) -> None:
        self._by_id: dict[str, Entry] = {}
        for data in countries:
            for entry in _entries_of_country(data):
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
            self._candidates.append(
                Candidates(
                    key=key,
                    entries=ordered,
                    default=_default_entry(ordered, self._by_id),
                    group=tuple(sorted(entry.place_id for entry in ordered)),
                )
            )
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
