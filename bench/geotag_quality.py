"""Geotag quality on the labelled paragraphs in `bench/data/geotag/`.

Run: `.venv/bin/python bench/geotag_quality.py [--errors]`. Prints a table
and writes `bench/results/geotag_quality.json`.

Markup of the labelled files: `[surface]{type}`, `[surface]{type:CC}` or
`[surface]{type:CC:Name}`; CC defaults to the `## CC` header above the
paragraph. A place the tagger reports counts when its confidence is at
least `THRESHOLD` (lower ones are the tagger saying "can't tell").

- precision / recall on capital and province mentions: a reported
  capital or province is right when a label has the same span, type and
  country (and name, when the label gives one);
- city vs province: over the labelled capital and province mentions whose
  name the gazetteer gives to both a capital and a province of that
  country, and that the tagger found, how often it chose the right one.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from workers.geotag.gazetteer import Gazetteer
from workers.geotag.tagger import tag_places

DATA = Path(__file__).parent / "data" / "geotag"
RESULTS = Path(__file__).parent / "results" / "geotag_quality.json"
THRESHOLD = 0.5
_MARK = re.compile(r"\[([^\]]+)\]\{([a-z]+)(?::([A-Z]{2}))?(?::([^}]+))?\}")
_KINDS = ("capital", "province")


@dataclass(frozen=True)
class Label:
    start: int
    end: int
    type: str
    country: str
    name: str | None


@dataclass(frozen=True)
class Paragraph:
    source: str
    country: str
    text: str
    labels: tuple[Label, ...]


def parse(path: Path) -> list[Paragraph]:
    """The labelled paragraphs of one file."""
    paragraphs: list[Paragraph] = []
    country = ""
    block: list[str] = []

    def flush() -> None:
        if not block:
            return
        marked = " ".join(block)
        text_parts: list[str] = []
        labels = []
        position = 0
        length = 0
        for found in _MARK.finditer(marked):
            text_parts.append(marked[position : found.start()])
            length += found.start() - position
            surface, kind, code, name = found.groups()
            labels.append(Label(length, length + len(surface), kind, code or country, name))
            text_parts.append(surface)
            length += len(surface)
            position = found.end()
        text_parts.append(marked[position:])
        text = "".join(text_parts)
        if "[" in text or "{" in text:
            raise ValueError(f"{path.name}: broken markup in {marked[:60]!r}")
        paragraphs.append(Paragraph(path.name, country, text, tuple(labels)))
        block.clear()

    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            flush()
            country = line[3:].strip()
        elif line.startswith("#"):
            continue
        elif not line.strip():
            flush()
        else:
            block.append(line.strip())
    flush()
    return paragraphs


def _shared_name(gazetteer: Gazetteer, surface: str, country: str) -> bool:
    candidates = gazetteer.lookup(surface)
    if candidates is None:
        return False
    mine = candidates.per_country.get(country, candidates)
    return {"capital", "province"} <= {entry.type for entry in mine.entries}


def evaluate(gazetteer: Gazetteer, paragraphs: list[Paragraph]) -> dict[str, object]:
    """Counts, rates and the errors over `paragraphs`."""
    predicted = right = gold = found = 0
    shared_total = shared_right = 0
    errors: list[str] = []
    for paragraph in paragraphs:
        places = tag_places(paragraph.text, gazetteer).places
        by_span = {(label.start, label.end): label for label in paragraph.labels}
        for place in places:
            label = by_span.get((place.start, place.end))
            if (
                label is not None
                and label.type in _KINDS
                and _shared_name(gazetteer, place.matched, label.country)
                and place.type in _KINDS
                and place.country == label.country
            ):
                shared_total += 1
                shared_right += place.type == label.type
            if place.type not in _KINDS or place.confidence < THRESHOLD:
                continue
            predicted += 1
            ok = (
                label is not None
                and label.type == place.type
                and label.country == place.country
                and (label.name is None or label.name == place.name)
            )
            right += ok
            if not ok:
                errors.append(
                    f"FP {paragraph.source} {place.matched!r} -> {place.type} {place.country} "
                    f"{place.name} ({place.decided_by}, {place.confidence}); label={label}"
                )
        reported = {
            (p.start, p.end, p.type, p.country) for p in places if p.confidence >= THRESHOLD
        }
        for label in paragraph.labels:
            if label.type not in _KINDS:
                continue
            gold += 1
            if (label.start, label.end, label.type, label.country) in reported:
                found += 1
            else:
                surface = paragraph.text[label.start : label.end]
                got = [p for p in places if p.start == label.start]
                errors.append(
                    f"FN {paragraph.source} {surface!r} {label.type} {label.country}; "
                    f"got {[(p.type, p.country, p.decided_by, p.confidence) for p in got]}"
                )
    return {
        "paragraphs": len(paragraphs),
        "countries": len({p.country for p in paragraphs}),
        "labelled_capital_province_mentions": gold,
        "reported_capital_province": predicted,
        "precision": round(right / predicted, 4) if predicted else 0.0,
        "recall": round(found / gold, 4) if gold else 0.0,
        "city_vs_province_mentions": shared_total,
        "city_vs_province_correct": round(shared_right / shared_total, 4) if shared_total else 0.0,
        "confidence_threshold": THRESHOLD,
        "errors": errors,
    }


def main() -> int:
    gazetteer = Gazetteer.load()
    paragraphs = [p for path in sorted(DATA.glob("*.txt")) for p in parse(path)]
    result = evaluate(gazetteer, paragraphs)
    rows = [
        ("paragraphs", result["paragraphs"], ""),
        ("countries", result["countries"], ""),
        ("capital+province mentions labelled", result["labelled_capital_province_mentions"], ""),
        ("precision (capital, province)", result["precision"], ">= 0.95"),
        ("recall (capital, province)", result["recall"], ">= 0.95"),
        ("city vs province correct", result["city_vs_province_correct"], ">= 0.95"),
        ("  over shared-name mentions", result["city_vs_province_mentions"], ""),
    ]
    print(f"{'measure':<38} {'value':>8}  target")
    for name, value, target in rows:
        print(f"{name:<38} {value!s:>8}  {target}")
    if "--errors" in sys.argv:
        for line in result["errors"]:  # type: ignore[attr-defined]
            print(line)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
