"""Sentence-level detection quality: precision, recall and kind accuracy.

The sentence set is written by the team: `bench/data/alert/sentence_templates.tsv`
(news-style sentences with a label: a kind, or "none" for the not-an-event
cases) expanded over `SETTINGS` (12 capitals in 11 countries, each with an
armed group as news writes it and another capital used as a base). Places come
from the real geotagger (its world gazetteer); each sentence is one article.

An event counts as found when a detected incursion names the labelled capital
(as written); its kind is then right or wrong. Any incursion in a "none"
sentence, or for another capital, is a false positive.
Writes `bench/results/alert_quality.json`; `--errors` lists the misses.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from ingest.core.models import Article, Extraction
from ingest.core.settings import DEFAULT_ACTORS
from workers.alert.detect import detect_incursions
from workers.alert.stage import seats_for_capital_phrases
from workers.geotag.gazetteer import Gazetteer
from workers.geotag.tagger import tag_places

TEMPLATES = Path(__file__).parent / "data" / "alert" / "sentence_templates.tsv"
RESULTS = Path(__file__).parent / "results" / "alert_quality.json"
PUBLISHED = datetime(2021, 6, 22, 9, 0, tzinfo=UTC)

# (country, capital as written, armed group as written, another capital)
SETTINGS = [
    ("AF", "Kunduz", "Taliban", "Kabul"),
    ("AF", "Ghazni", "Taleban", "Kabul"),
    ("AF", "Lashkar Gah", "Islamic Emirate", "Kandahar"),
    ("SO", "Baidoa", "al-Shabaab", "Mogadishu"),
    ("ML", "Mopti", "JNIM", "Bamako"),
    ("CD", "Goma", "M23", "Kinshasa"),
    ("YE", "Marib", "Houthi", "Sanaa"),
    ("SD", "El Fasher", "RSF", "Khartoum"),
    ("NG", "Maiduguri", "Boko Haram", "Abuja"),
    ("IQ", "Ramadi", "Islamic State", "Baghdad"),
    ("BF", "Dori", "JNIM", "Ouagadougou"),
    ("MZ", "Pemba", "ISIS", "Maputo"),
]


def sentences() -> list[tuple[str, str, str, str]]:
    """(country, capital, label, sentence) for every template and setting."""
    rows = []
    for line in TEMPLATES.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        label, template = line.split("\t", 1)
        for country, capital, actor, base in SETTINGS:
            text = template.replace("{A}", actor).replace("{C}", capital).replace("{B}", base)
            rows.append((country, capital, label, text[0].upper() + text[1:]))
    return rows


def article(text: str) -> Article:
    return Article(
        article_id="bench", url="https://bench.example/a", canonical_url="https://bench.example/a",
        feed_url="https://bench.example/feed", source="Bench", title=None, text=text,
        published=PUBLISHED, published_source="page", fetched_at=PUBLISHED,
        extraction=Extraction(status="ok"),
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--errors", action="store_true", help="list every error")
    args = parser.parse_args()
    gazetteer = Gazetteer.load()
    tp = fp = fn = kind_right = 0
    by_label: Counter[str] = Counter()
    missed_by_label: Counter[str] = Counter()
    countries: set[str] = set()
    errors: list[str] = []
    rows = sentences()
    for country, capital, label, text in rows:
        countries.add(country)
        by_label[label] += 1
        places = seats_for_capital_phrases(tag_places(text, gazetteer).places, gazetteer)
        found = detect_incursions(article(text), places, DEFAULT_ACTORS)
        hits = [inc for inc in found if inc.capital.matched == capital]
        others = [inc for inc in found if inc.capital.matched != capital]
        fp += len(others)
        if label == "none":
            fp += len(hits)
            if found:
                errors.append(f"FP   none -> {[i.kind for i in found]}: {text}")
            continue
        if not hits:
            fn += 1
            missed_by_label[label] += 1
            errors.append(f"MISS {label}: {text}")
            continue
        tp += 1
        if any(inc.kind == label for inc in hits):
            kind_right += 1
        else:
            errors.append(f"KIND {label} -> {[i.kind for i in hits]}: {text}")
        if others:
            errors.append(f"FP   other capital {[i.capital.name for i in others]}: {text}")
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    kind = kind_right / tp if tp else 0.0
    events = sum(n for label, n in by_label.items() if label != "none")
    print(
        f"{len(rows)} sentences ({events} events, {by_label['none']} not events), "
        f"{len(countries)} countries, {len({s[2] for s in SETTINGS})} actor spellings"
    )
    print(f"{'measure':<28} {'value':>6}  target")
    print(f"{'precision (events)':<28} {precision:>6.3f}  >= 0.95")
    print(f"{'recall (events)':<28} {recall:>6.3f}  >= 0.90")
    print(f"{'kind correct (found events)':<28} {kind:>6.3f}  >= 0.90")
    for label in ("threatened", "entered", "captured", "repelled", "retaken"):
        n = by_label[label]
        print(f"  recall {label:<19} {(n - missed_by_label[label]) / n:>6.3f}  ({n})")
    print(f"false positives {fp}, misses {fn}, wrong kind {tp - kind_right}")
    if args.errors:
        print("\n".join(errors))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "sentences": len(rows),
                "events": events,
                "not_events": by_label["none"],
                "countries": sorted(countries),
                "precision": round(precision, 4),
                "recall": round(recall, 4),
                "kind_correct": round(kind, 4),
                "false_positives": fp,
                "misses": fn,
                "wrong_kind": tp - kind_right,
                "by_label": dict(by_label),
            },
            indent=1,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
