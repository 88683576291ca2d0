"""Article-level replay benchmark: the campaign must raise exactly the expected alerts.

In-process by default: each article of `bench/data/alert/campaign.jsonl` in
publication order through the real geotagger, `detect_incursions` and a fresh
`AlertBook` (syndicated copies get the story id of the text they copy, as
dedupe would give them). With `--pipeline`, the same file goes through
`news-ingest replay` (embedded broker, cleaner/dedupe/geotag/alert processes).
Prints the sequence and writes `bench/results/alert_replay.json`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

from ingest.core.logs import configure_logging
from ingest.core.models import Article
from ingest.core.settings import DEFAULT_ACTORS
from ingest.replay import ReplayedAlert, load_archive, run_replay, to_message
from workers.alert.book import AlertBook
from workers.alert.detect import detect_incursions
from workers.alert.stage import seats_for_capital_phrases
from workers.geotag.gazetteer import Gazetteer
from workers.geotag.tagger import tag_places

DATA = Path(__file__).parent / "data" / "alert"
RESULTS = Path(__file__).parent / "results" / "alert_replay.json"


def in_process(file: Path) -> list[ReplayedAlert]:
    gazetteer = Gazetteer.load()
    out: list[ReplayedAlert] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        AlertBook(Path(tmp) / "alerts.sqlite3", gazetteer.capital) as book,
    ):
        for archived in load_archive(file):
            _, _, article = to_message(archived, "replay:bench")
            if not isinstance(article, Article):
                raise SystemExit("the campaign holds text records only")
            # Dedupe's story id for an exact copy is the text it copies.
            story = hashlib.sha256(article.text.encode()).hexdigest()[:32]
            tagged = tag_places(article.text, gazetteer).places
            places = seats_for_capital_phrases(tagged, gazetteer)
            found = detect_incursions(article, places, DEFAULT_ACTORS)
            out += [ReplayedAlert(p.ce_type, p.alert) for p in book.decide(article, found, story)]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pipeline", action="store_true", help="run through news-ingest replay")
    args = parser.parse_args()
    configure_logging("warning")
    file = DATA / "campaign.jsonl"
    expected = [tuple(x) for x in json.loads((DATA / "campaign_expected.json").read_text())]
    started = time.perf_counter()
    if args.pipeline:
        with tempfile.TemporaryDirectory() as tmp:
            replayed = run_replay(file, Path(tmp), timeout=600, echo=lambda _: None)
    else:
        replayed = in_process(file)
    elapsed = time.perf_counter() - started
    new = [(r.alert.capital.name, r.alert.kind) for r in replayed if r.ce_type == "news.alert.v1"]
    ids = [r.alert.alert_id for r in replayed if r.ce_type == "news.alert.v1"]
    updates = sum(r.ce_type != "news.alert.v1" for r in replayed)
    width = max(len(expected), len(new))
    print(f"{'#':>3}  {'expected':<24} {'raised':<24}")
    for i in range(width):
        e = " ".join(expected[i]) if i < len(expected) else "-"
        g = " ".join(new[i]) if i < len(new) else "-"
        print(f"{i + 1:>3}  {e:<24} {g:<24} {'' if e == g else '<-- differs'}")
    exact = new == expected
    duplicates = len(ids) - len(set(ids))
    articles = sum(1 for line in file.read_text().splitlines() if line.strip())
    print(
        f"\narticles {articles}, new alerts {len(new)} (expected {len(expected)}), "
        f"updates {updates}, duplicate alert ids {duplicates}, exact sequence: {exact}, "
        f"{elapsed:.1f} s ({'pipeline' if args.pipeline else 'in-process'})"
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "mode": "pipeline" if args.pipeline else "in-process",
                "articles": articles,
                "expected": expected,
                "raised": new,
                "updates": updates,
                "duplicates": duplicates,
                "exact_sequence": exact,
                "seconds": round(elapsed, 2),
            },
            indent=1,
        )
        + "\n"
    )
    return 0 if exact and not duplicates else 1


if __name__ == "__main__":
    sys.exit(main())
