"""Per-country corrections that `generate` applies to the generated records.

An override file is `workers/geotag/overrides/<ISO alpha-2>.json`; every key
is optional:

- `deny`: names never used as a variant anywhere in the country (noisy
  GeoNames alternate names: Taloqan's "Khanabad", Farah's "Faro", "Pala");
- `country`: fields of the country record to replace (`variants` replaces
  the list, `variants_add` extends it);
- `provinces`: ISO 3166-2 code (or GeoNames "CC.XX" code when the division
  has none) -> fields of that province to replace, as for `country`; its
  `seat` holds fields of the seat: a `geonames_id` other than the
  generated seat's re-bases the seat on that GeoNames place (GeoNames lists
  Kapisa's seat as Sidqabad; news and the government say Mahmud-i-Raqi);
  a `seat` of `null` removes it;
- `provinces_drop`: codes of generated divisions to leave out;
- `provinces_add`: whole province records the sources lack;
- `other`: whole records of notable places that are not capitals (these
  replace the generated ones of the country); `other_add`: records added
  to the generated ones.

`_demonyms.json` maps country codes to extra country variants (the
adjectives news uses: "Afghan", "Syrian").

Fields given in an override win over the sources, so a reviewed override
pins names and spellings against later GeoNames releases.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["apply_record", "load_demonyms", "load_overrides"]

_PACKAGE = "workers.geotag.overrides"


def load_overrides() -> dict[str, dict[str, Any]]:
    """Every country's override, by country code."""
    found: dict[str, dict[str, Any]] = {}
    for item in sorted(resources.files(_PACKAGE).iterdir(), key=lambda item: item.name):
        name = item.name
        if len(name) == len("XX.json") and name.endswith(".json") and name[:2].isupper():
            found[name[:2]] = json.loads(item.read_text(encoding="utf-8"))
    return found


def load_demonyms() -> dict[str, list[str]]:
    """Country code -> the extra variants `_demonyms.json` lists."""
    raw = resources.files(_PACKAGE).joinpath("_demonyms.json").read_text(encoding="utf-8")
    demonyms: dict[str, list[str]] = json.loads(raw)
    return demonyms


def apply_record(record: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`record` with the fields of `changes` applied (a new dict)."""
    updated = dict(record)
    for key, value in changes.items():
        if key == "variants_add":
            known = {str(variant) for variant in updated.get("variants", [])}
            updated["variants"] = [
                *updated.get("variants", []),
                *(variant for variant in value if variant not in known),
            ]
        elif key != "seat":
            updated[key] = value
    return updated
