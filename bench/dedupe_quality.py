"""Dedupe quality on the labelled pairs in bench/data/dedupe/pairs.jsonl.

Each pair goes through a fresh `DedupeIndex`: the first article, then the
second one `hours` later. The second's verdict is compared with the label:
a "copy" must be a duplicate (of the first) in the first's story; a
"same_event" report must be unique but in the first's story; an "unrelated"
article must be unique in its own story. Prints a table and writes
bench/results/dedupe_quality.json.

With --sketches, also compares the index's sketch with datasketch's MinHash
(64 permutations, fed the same shingle hashes) on the furniture-free texts of
the pairs: the error of the estimated containment against the exact one, the
copies and non-copies on each side of the 0.6 threshold, and the CPU time to
sketch the texts (results in bench/results/dedupe_sketches.json).

Run: .venv/bin/python bench/dedupe_quality.py [--errors] [--sketches]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import structlog
from datasketch import MinHash

from ingest.core.models import Article, Extraction
from workers.dedupe.index import DEFAULT_NEAR_CONTAINMENT, DedupeIndex
from workers.dedupe.normalise import story_texts
from workers.dedupe.sketch import Sketch, containment, shingle_hashes_many, sketch_many

ROOT = Path(__file__).resolve().parent
PAIRS = ROOT / "data" / "dedupe" / "pairs.jsonl"
RESULT = ROOT / "results" / "dedupe_quality.json"
SKETCH_RESULT = ROOT / "results" / "dedupe_sketches.json"
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
    parser.add_argument("--sketches", action="store_true", help="compare with datasketch")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
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
    if args.sketches:
        compared = compare_sketches(pairs)
        print("\n| sketch | containment error (mean abs, bias) | copies >= 0.6 | others >= 0.6"
              " | CPU per text |\n| --- | --- | --- | --- | --- |")
        for name in ("ours", "datasketch"):
            row = compared[name]
            print(f"| {name} | {row['mean_abs_error']}, {row['bias']} | {row['copies_above']}/"
                  f"{row['copies_above'] + row['copies_below']} | {row['others_above']} | "
                  f"{row['us_per_text']} µs |")
        SKETCH_RESULT.write_text(json.dumps(compared, indent=2) + "\n", encoding="utf-8")


def compare_sketches(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """The index's one-permutation sketch next to datasketch's MinHash on the same shingles."""
    texts = [story_texts(pair[side]["text"])[2] for pair in pairs for side in ("a", "b")]
    hashes, owners = shingle_hashes_many(texts)
    per_text = [hashes[owners == i] for i in range(len(texts))]
    started = time.process_time()
    ours = sketch_many(texts)
    ours_cpu = time.process_time() - started
    template = MinHash(num_perm=64, seed=1, hashfunc=int)
    started = time.process_time()
    theirs: list[Sketch] = []
    for shingles in per_text:
        minhash = MinHash(num_perm=64, hashfunc=int, permutations=template.permutations,
                          scheme=template.scheme)
        minhash.update_batch((shingles & np.uint64(0xFFFFFFFF)).tolist())
        theirs.append(Sketch(minhash.hashvalues.astype(np.uint32), int(shingles.size)))
    theirs_cpu = time.process_time() - started
    out: dict[str, Any] = {"texts": len(texts)}
    for name, drawn, cpu in (("ours", ours, ours_cpu), ("datasketch", theirs, theirs_cpu)):
        errors: list[float] = []
        sides: Counter[str] = Counter()
        for at, pair in enumerate(pairs):
            first, second = per_text[2 * at], per_text[2 * at + 1]
            new, old = set(second.tolist()), set(first.tolist())
            exact = len(new & old) / max(len(new), 1)
            _, share = containment(drawn[2 * at + 1], drawn[2 * at])
            errors.append(share - exact)
            above = share >= DEFAULT_NEAR_CONTAINMENT
            label = "copy" if pair["label"] == "copy" else "other"
            sides[f"{label}:{'above' if above else 'below'}"] += 1
        out[name] = {
            "mean_abs_error": round(float(np.mean(np.abs(errors))), 4),
            "bias": round(float(np.mean(errors)), 4),
            "copies_above": sides["copy:above"], "copies_below": sides["copy:below"],
            "others_above": sides["other:above"],
            "us_per_text": round(cpu / len(texts) * 1e6, 1),
        }
    return out


def index_story(first: Article, verdict: Any) -> str:
    """The first article's story id: a fresh index gives a first article its own id."""
    del verdict
    return first.article_id


if __name__ == "__main__":
    main()
