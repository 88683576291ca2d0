"""Country data records -> gazetteer `Entry` objects (see `gazetteer` for the format)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ingest.core.models import PlaceType
from workers.geotag.normalise import normalise_name

__all__ = ["Entry", "GazetteerError", "entries_of_country"]


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
    population: int | None = None
    weak: frozenset[str] = frozenset()
    """Matching keys of the variants that are poor evidence alone (common
    words, very short names): the tagger wants context before trusting them."""


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", normalise_name(name)).strip("-")


def _place_id(country: str, geonames_id: int | None, slug: str) -> str:
    if geonames_id is not None:
        return f"geonames:{geonames_id}"
    return f"{country.lower()}:{slug}"


def _coordinate(record: dict[str, Any], key: str) -> float | None:
    value = record.get(key)
    return None if value is None else float(value)


def _record_fields(record: dict[str, Any]) -> dict[str, Any]:
    """The `Entry` fields every kind of record gives the same way."""
    return {
        "name": record["name"],
        "geonames_id": record.get("geonames_id"),
        "lat": _coordinate(record, "lat"),
        "lon": _coordinate(record, "lon"),
        "variants": tuple(record["variants"]),
        "population": record.get("population"),
        "weak": frozenset(normalise_name(name) for name in record.get("weak", ())),
    }


def entries_of_country(data: dict[str, Any]) -> Iterator[Entry]:
    """Every entry of one parsed country file, in file order."""
    country = data["country"]
    code = str(country["code"])
    yield Entry(
        place_id=_place_id(code, country.get("geonames_id"), _slug(country["name"])),
        type="country",
        country=code,
        province=None,
        iso_3166_2=None,
        **_record_fields(country),
    )
    iso_by_province: dict[str, str | None] = {}
    province_ids: set[str] = set()
    for province in data["provinces"]:
        name, iso = province["name"], province.get("iso_3166_2")
        if iso is not None and not iso.startswith(f"{code}-"):
            raise GazetteerError(f"{name}: ISO 3166-2 code {iso} is not of country {code}")
        iso_by_province[name] = iso
        seat = province.get("seat")
        seat_id = None
        if seat is not None:
            seat_id = _place_id(code, seat.get("geonames_id"), _slug(seat["name"]))
        province_id = f"{code.lower()}:{_slug(name)}-province"
        if province_id in province_ids:
            # Two divisions of one name (a district and its town, in some
            # countries): the later one is told apart by its code.
            tag = iso or province.get("geonames_code") or str(province.get("geonames_id"))
            province_id = f"{code.lower()}:{_slug(name)}-{_slug(tag)}-province"
        province_ids.add(province_id)
        yield Entry(
            place_id=province_id,
            type="province",
            country=code,
            province=name,
            iso_3166_2=iso,
            seat_id=seat_id,
            **_record_fields(province),
        )
        if seat is None or seat_id is None:
            continue
        yield Entry(
            place_id=seat_id,
            type="capital",
            country=code,
            province=name,
            iso_3166_2=iso,
            national_capital=bool(seat.get("national_capital", False)),
            **_record_fields(seat),
        )
    for place in data.get("other", []):
        province_name = place.get("province")
        if province_name is not None and province_name not in iso_by_province:
            raise GazetteerError(f"{place['name']}: unknown province {province_name}")
        yield Entry(
            place_id=_place_id(code, place.get("geonames_id"), _slug(place["name"])),
            type="other",
            country=code,
            province=province_name,
            iso_3166_2=None if province_name is None else iso_by_province[province_name],
            **_record_fields(place),
        )
