"""Generate the world gazetteer: `python -m workers.geotag.generate [OUT_DIR]`.

Writes one `<ISO alpha-2>.json` per country into `workers/geotag/data/`
(or OUT_DIR), in the format `gazetteer` reads: the country, its admin-1
divisions (GeoNames' first-order divisions) each with its seat, and
notable places that are not seats (type `other`). The output depends only
on the installed source packages (pinned versions, see `sources`), the
English word list of `english-words` and the files in `overrides/`, so
running it again gives the committed files byte for byte.

Seats: the GeoNames place with feature code PPLA in the division, the
largest if there are several (Canarias has two); else the PPLC there
(Kabul is flagged PPLC only). Divisions with neither keep no seat unless
an override gives one. Names go through `aliases.AliasRules`.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from english_words import get_english_words_set  # type: ignore[import-untyped]

from workers.geotag.aliases import AliasRules, division_base_name, is_plain_latin
from workers.geotag.corrections import apply_record, load_demonyms, load_overrides
from workers.geotag.normalise import normalise_name
from workers.geotag.sources import (
    SourceCity,
    SourceCountry,
    SourceDivision,
    read_cities,
    read_countries,
    read_divisions,
    source_versions,
)

__all__ = ["DATA_DIR", "generate", "main", "render"]

DATA_DIR = Path(__file__).parent / "data"
# A city this large is a place news names, so its name is not a variant of
# another place; larger still, it is listed as `other` to stand beside
# same-named capitals of other countries (Hyderabad, Pakistan).
LOCAL_NAME_POPULATION = 10_000
OTHER_POPULATION = 300_000
FAMOUS_POPULATION = 1_000_000


def _common_words() -> frozenset[str]:
    # web2 capitalises proper nouns only, so its lower-case entries are the
    # common words ("faro" is a card game; "Herat" is not listed lower case).
    words = get_english_words_set(["web2"], lower=False, alpha=True)
    return frozenset(word for word in words if word.islower() and len(word) > 1)


def _seats(cities: list[SourceCity]) -> dict[str, SourceCity]:
    ranked: dict[str, list[SourceCity]] = defaultdict(list)
    for city in cities:
        if city.feature_code in ("PPLA", "PPLC"):
            ranked[f"{city.country}.{city.admin1}"].append(city)
    seats = {}
    for code, found in ranked.items():
        found.sort(key=lambda c: (c.feature_code != "PPLA", -c.population, c.geonames_id))
        seats[code] = found[0]
    return seats


def _with_weak(record: dict[str, Any], rules: AliasRules) -> dict[str, Any]:
    """`record` with `weak` listing its variants that are poor evidence alone
    (a common word is not, in a city of `FAMOUS_POPULATION`: Tripoli, Baku)."""
    famous = (record.get("population") or 0) >= FAMOUS_POPULATION
    weak = [
        variant
        for variant in record["variants"]
        if rules.is_weak(variant) and not (famous and len(normalise_name(variant)) > 3)
    ]
    record.pop("weak", None)
    return {**record, "weak": weak} if weak else record


def _city_record(city: SourceCity, rules: AliasRules, own: list[str]) -> dict[str, Any]:
    names = [*own, city.name, *([city.ascii_name] if is_plain_latin(city.ascii_name) else [])]
    return {
        "name": own[0] if own else city.name,
        "geonames_id": city.geonames_id,
        "lat": city.lat,
        "lon": city.lon,
        "population": city.population,
        "variants": rules.variants(city.country, names, city.alternates),
    }


class _World:
    """The sources, indexed, and the alias rules filled from them."""

    def __init__(self) -> None:
        self.cities = read_cities()
        self.by_id = {city.geonames_id: city for city in self.cities}
        self.divisions = read_divisions()
        self.countries = read_countries()
        self.overrides = load_overrides()
        self.demonyms = load_demonyms()
        self.seats = _seats(self.cities)
        deny = {
            code: {normalise_name(name) for name in override.get("deny", [])}
            for code, override in self.overrides.items()
        }
        self.rules = AliasRules(common_words=_common_words(), deny=deny)
        for city in self.cities:
            if city.population >= LOCAL_NAME_POPULATION or city.feature_code.startswith("PPLA"):
                self.rules.add_main_name(city.country, city.name, world=False)
        for seat in self.seats.values():
            self.rules.add_main_name(seat.country, seat.name, world=True)
        for division in self.divisions:
            for name in (division.name, division_base_name(division.name)):
                self.rules.add_main_name(division.code[:2], name, world=True)
        for country in self.countries:
            self.rules.add_main_name(country.code, country.name, world=True)

    def province(self, division: SourceDivision, changes: dict[str, Any]) -> dict[str, Any]:
        country = division.code[:2]
        base = division_base_name(division.name)
        aliases = [division_base_name(alias) for alias in division.aliases]
        record: dict[str, Any] = {
            "name": division.name,
            "iso_3166_2": division.iso_3166_2,
            "geonames_code": division.code,
            "geonames_id": division.geonames_id,
            "variants": self.rules.variants(country, [division.name, base], aliases),
        }
        record = _with_weak(apply_record(record, changes), self.rules)
        seat = self.seats.get(division.code)
        seat_changes = changes.get("seat", {})
        if "seat" in changes and changes["seat"] is None:
            return {**record, "seat": None}
        wanted = seat_changes.get("geonames_id")
        if wanted is not None and (seat is None or seat.geonames_id != wanted):
            seat = self.by_id.get(wanted)
        if seat is None:
            if not seat_changes:
                return {**record, "seat": None}
            seat_record = _with_weak(apply_record({}, seat_changes), self.rules)
        else:
            base_record = _city_record(seat, self.rules, [])
            if "variants" not in changes and "variants" not in seat_changes:
                record, base_record = self._shared(division, record, seat, base_record)
            seat_record = _with_weak(apply_record(base_record, seat_changes), self.rules)
            if seat.feature_code == "PPLC":
                seat_record["national_capital"] = True
        return {**record, "seat": seat_record}

    def _shared(
        self,
        division: SourceDivision,
        province: dict[str, Any],
        seat: SourceCity,
        seat_record: dict[str, Any],
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """A province named after its seat (Daraa, Kunduz) takes every
        spelling of the seat's name, and the seat every spelling of the
        province's: news writes both the same way."""
        names = [division.name, *division.aliases]
        province_keys = {normalise_name(division_base_name(name)) for name in names}
        seat_keys = {normalise_name(name) for name in (seat.name, *seat.alternates)}
        if not province_keys & seat_keys:
            return province, seat_record
        merged: list[str] = []
        keys: set[str] = set()
        for variant in (*province["variants"], *seat_record["variants"]):
            key = normalise_name(variant)
            if key not in keys:
                keys.add(key)
                merged.append(variant)
        province_variants = [*province["variants"], *merged[len(province["variants"]) :]]
        seat_variants = [*seat_record["variants"]] + [
            variant
            for variant in province["variants"]
            if normalise_name(variant) not in {normalise_name(v) for v in seat_record["variants"]}
        ]
        return (
            _with_weak({**province, "variants": province_variants}, self.rules),
            {**seat_record, "variants": seat_variants},
        )

    def others(self, code: str, seat_ids: set[int], names: dict[str, str]) -> list[dict[str, Any]]:
        override = self.overrides.get(code, {})
        if "other" in override:
            return [_with_weak(self._filled(place), self.rules) for place in override["other"]]
        found = [
            _with_weak(self._filled(place), self.rules) for place in override.get("other_add", [])
        ]
        for city in self.cities:
            if city.country != code or city.population < OTHER_POPULATION:
                continue
            if city.geonames_id in seat_ids or self.rules.is_weak(city.name):
                continue
            if not is_plain_latin(city.name) and not is_plain_latin(city.ascii_name):
                continue
            own = [name for name in (city.name, city.ascii_name) if is_plain_latin(name)]
            record = _city_record(city, self.rules, own)
            record["variants"] = record["variants"][: len(set(map(normalise_name, own)))]
            found.append({**record, "province": names.get(f"{code}.{city.admin1}")})
        return found

    def _filled(self, place: dict[str, Any]) -> dict[str, Any]:
        city = self.by_id.get(place.get("geonames_id") or 0)
        if city is None:
            return dict(place)
        return {"population": city.population, **place}

    def country(self, source: SourceCountry) -> dict[str, Any]:
        code = source.code
        override = self.overrides.get(code, {})
        changes = override.get("provinces", {})
        dropped = set(override.get("provinces_drop", []))
        provinces = []
        for division in self.divisions:
            if division.code[:2] != code:
                continue
            key = division.iso_3166_2 or division.code
            if key in dropped or division.code in dropped:
                continue
            provinces.append(self.province(division, changes.get(key, {})))
        provinces.extend(override.get("provinces_add", []))
        provinces.sort(key=lambda p: p.get("iso_3166_2") or p.get("geonames_code") or p["name"])
        own = [source.name, *self.demonyms.get(code, [])]
        country: dict[str, Any] = {
            "code": code,
            "name": source.name,
            "geonames_id": source.geonames_id,
            "lat": None,
            "lon": None,
            "population": source.population,
            "variants": self.rules.variants(code, own, source.aliases),
        }
        country = apply_record(country, override.get("country", {}))
        seat_ids = {p["seat"]["geonames_id"] for p in provinces if p.get("seat")}
        names = {p["geonames_code"]: p["name"] for p in provinces if p.get("geonames_code")}
        return {
            "country": country,
            "provinces": provinces,
            "other": self.others(code, seat_ids, names),
        }


def _source_note() -> str:
    versions = ", ".join(f"{name} {version}" for name, version in source_versions().items())
    return (
        "generated by `python -m workers.geotag.generate` from GeoNames data (CC BY 4.0, "
        f"see NOTICE) as packaged in {versions}, and overrides/"
    )


def render(country: dict[str, Any], source: str) -> str:
    """The file text of one country: one record per line, for readable diffs."""

    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    lines = [
        '{"version":1,',
        f'"source":{dump(source)},',
        f'"country":{dump(country["country"])},',
        '"provinces":[',
        ",\n".join(dump(province) for province in country["provinces"]),
        "],",
        '"other":[',
        ",\n".join(dump(place) for place in country["other"]),
        "]}",
    ]
    return "\n".join(lines) + "\n"


def generate() -> dict[str, str]:
    """File name -> text of every country file."""
    world = _World()
    source = _source_note()
    files = {}
    for country in world.countries:
        files[f"{country.code}.json"] = render(world.country(country), source)
    return files


def main(argv: list[str] | None = None) -> int:
    """Write the files (into argv[0] if given) and remove stale country files."""
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else DATA_DIR
    out.mkdir(parents=True, exist_ok=True)
    files = generate()
    for stale in out.glob("??.json"):
        if stale.name not in files:
            stale.unlink()
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} country files to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
