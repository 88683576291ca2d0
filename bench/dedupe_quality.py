"""Dedupe quality on the labelled pairs in bench/data/dedupe/pairs.jsonl.

Each pair goes through a fresh `DedupeIndex`: the first article, then the
second one `hours` later. The second's verdict is compared with the label:
a "copy" must be a duplicate (of the first) in the first's story; a
"same_event" report must be unique but in the first's story; an "unrelated"
article must be unique in its own story. Prints a table and writes
bench/results/dedupe_quality.json.

Run: .venv/bin/python bench/dedupe_quality.py [--errors]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ingest.core.models import Article, Extraction
from workers.dedupe.index import DedupeIndex

ROOT = Path(__file__).resolve().parent
PAIRS = ROOT / "data" / "dedupe" / "pairs.jsonl"
RESULT = ROOT / "results" / "dedupe_quality.json"
T0 = datetime(2021, 6, 20, 6, 0, tzinfo=UTC)


def to_article(pair: int, side: dict[str, Any]) -> Article:
    when = T0 + timedelta(hours=side["hours"])
    article_id = f"p{pair}-{side['name']}"
    url = f"https://{side['name']}.example/{pair}"
    return Article(
        article_id=article_id, url=url, canonical_url=url, feed_url=f"https://{side['name']}.example/rss",
        source=side["name"], title=side["title"], text=side["text"], published=when,
        published_source="page", fetched_at=when, extraction=Extraction(status="ok"),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--errors", action="store_true", help="print each wrong verdict")
    args = parser.parse_args()
    pairs = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines()]
    outcome: Counter[str] = Counter()
    errors: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for pair in pairs:
            first, second = to_article(pair["pair"], pair["a"]), to_article(pair["pair"], pair["b"])
            with DedupeIndex(Path(tmp) / f"{pair['pair']}.sqlite3") as index:
                index.check_and_add(first)
                verdict = index.check_and_add(second)
            duplicate = verdict.duplicate_of == first.article_id
            same_story = verdict.story_id == index_story(first, verdict)
            label = pair["label"]
            outcome[f"{label}:duplicate" if duplicate else f"{label}:unique"] += 1
            outcome[f"{label}:same_story" if same_story else f"{label}:other_story"] += 1
            wrong = (
                (label == "copy" and not duplicate)
                or (label != "copy" and verdict.duplicate_of is not None)
                or (label in ("copy", "same_event") and not same_story)
                or (label == "unrelated" and same_story)
            )
            if wrong:
                errors.append(
                    f"pair {pair['pair']} {label} {pair['edits']}: duplicate_of="
                    f"{verdict.duplicate_of} match={verdict.match} story={verdict.story_id}"
                )
    tp = outcome["copy:duplicate"]
    fp = outcome["same_event:duplicate"] + outcome["unrelated:duplicate"]
    fn = outcome["copy:unique"]
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    story_right = (
        outcome["copy:same_story"]
        + outcome["same_event:same_story"]
        + outcome["unrelated:other_story"]
    )
    figures = {
        "pairs": len(pairs),
        "copies": outcome["copy:duplicate"] + outcome["copy:unique"],
        "same_event": outcome["same_event:duplicate"] + outcome["same_event:unique"],
        "unrelated": outcome["unrelated:duplicate"] + outcome["unrelated:unique"],
        "duplicate_precision": round(precision, 4),
        "duplicate_recall": round(recall, 4),
        "same_event_grouped": outcome["same_event:same_story"],
        "unrelated_kept_apart": outcome["unrelated:other_story"],
        "story_accuracy": round(story_right / len(pairs), 4),
        "errors": len(errors),
    }
    print("| measure | value | target |\n| --- | --- | --- |")
    print(f"| duplicate precision (copies) | {precision:.3f} | >= 0.98 |")
    print(f"| duplicate recall (copies) | {recall:.3f} | >= 0.95 |")
    grouped, apart = outcome["same_event:same_story"], outcome["unrelated:other_story"]
    print(f"| same-event reports in one story | {grouped}/{figures['same_event']} | |")
    print(f"| unrelated reports in different stories | {apart}/{figures['unrelated']} | |")
    print(f"| story_id right, all pairs | {figures['story_accuracy']:.3f} | |")
    if args.errors:
        print("\n".join(errors))
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


def index_story(first: Article, verdict: Any) -> str:
    """The first article's story id: a fresh index gives a first article its own id."""
    del verdict
    return first.article_id


if __name__ == "__main__":
    main()
