"""Extraction quality of the cleaner next to raw `trafilatura.extract`, same pages, same run.

Pages: `../shared/bench-data/extraction/` beside the repository (200 pages of
trafilatura's evaluation set with expected `with` and unexpected `without`
segments). Each page's bytes are decoded once with trafilatura's own
`decode_file`; the same string goes to `trafilatura.extract` (default options)
and, as a `RawPage` with no feed summary, to `ingest.cleaner.extract.clean`.
Scoring as the data's README says: a `with` segment found in the output is a
true positive (else a false negative), a `without` segment found is a false
positive (else a true negative); precision, recall and F1 over all segments.
The cleaner is scored on `Article.text` (its title is a separate field).

Run: .venv/bin/python bench/cleaner_quality.py [--errors]
Writes bench/results/cleaner_quality.json.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
import trafilatura
from trafilatura.utils import decode_file

from ingest.cleaner.extract import clean
from ingest.core.models import Item, RawPage
from ingest.core.settings import CleanerSettings

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "bench-data" / "extraction"
RESULT = Path(__file__).resolve().parent / "results" / "cleaner_quality.json"
FETCHED = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass
class Score:
    tp: int = 0
    fn: int = 0
    fp: int = 0
    tn: int = 0
    seconds: float = 0.0
    misses: list[str] = field(default_factory=list)

    def add(self, output: str, expected: dict[str, Any], name: str) -> None:
        for segment in expected["with"]:
            if segment in output:
                self.tp += 1
            else:
                self.fn += 1
                self.misses.append(f"{name}: missing {segment[:60]!r}")
        for segment in expected["without"]:
            if segment in output:
                self.fp += 1
                self.misses.append(f"{name}: kept {segment[:60]!r}")
            else:
                self.tn += 1

    def summary(self) -> dict[str, float]:
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "tp": self.tp,
            "fn": self.fn,
            "fp": self.fp,
            "tn": self.tn,
            "seconds": round(self.seconds, 2),
        }


def raw_page(url: str, html: str) -> RawPage:
    item = Item(
        item_id="0" * 32,
        url=url,
        feed_url="https://feeds.example/bench.xml",
        feed_name="bench",
        discovered_at=FETCHED,
    )
    return RawPage(
        item=item,
        final_url=url,
        status=200,
        content_type="text/html",
        encoding="utf-8",
        html=html,
        fetched_at=FETCHED,
        elapsed_ms=0.0,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--errors", action="store_true", help="print every miss")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    expected: dict[str, dict[str, Any]] = json.loads((DATA / "expected.json").read_text())
    cleaner_settings = CleanerSettings()
    raw_score, cleaner_score = Score(), Score()
    kinds: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for url, item in expected.items():
        html = decode_file((DATA / "pages" / item["file"]).read_bytes())
        started = time.process_time()
        raw_output = trafilatura.extract(html, url=url) or ""
        raw_score.seconds += time.process_time() - started
        raw_score.add(raw_output, item, item["file"])
        started = time.process_time()
        article = clean(
            raw_page(url, html),
            min_text_chars=cleaner_settings.min_text_chars,
            max_page_chars=cleaner_settings.max_page_chars,
            fast=cleaner_settings.fast_extraction,
        )
        cleaner_score.seconds += time.process_time() - started
        cleaner_score.add(article.text, item, item["file"])
        kinds[article.extraction.page_kind] += 1
        statuses[article.extraction.status] += 1
    result = {
        "pages": len(expected),
        "raw_trafilatura": raw_score.summary(),
        "cleaner": cleaner_score.summary(),
        "cleaner_page_kinds": dict(kinds),
        "cleaner_statuses": dict(statuses),
        "trafilatura": trafilatura.__version__,
    }
    print(f"{'extractor':<18}{'precision':>10}{'recall':>10}{'F1':>8}{'CPU s':>8}")
    for name, score in (("raw trafilatura", raw_score), ("cleaner", cleaner_score)):
        s = score.summary()
        print(
            f"{name:<18}{s['precision']:>10.4f}{s['recall']:>10.4f}{s['f1']:>8.4f}"
            f"{s['seconds']:>8.1f}"
        )
    print(f"page kinds: {dict(kinds)}; statuses: {dict(statuses)}")
    if args.errors:
        print("\n".join(sorted(set(cleaner_score.misses) - set(raw_score.misses))))
    RESULT.parent.mkdir(exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
