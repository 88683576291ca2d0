"""Speed of event extraction and control-state update together, per core.

2,000 articles of about 4 KB: every article of the replay campaign (most of
them report an incursion, a reset or a corroboration) repeated with new ids
and later publication times, each padded with place-rich background
paragraphs. Places are tagged beforehand (that is the geotag stage's cost);
the timed loop is what the stage does with each polled batch: `detect_incursions`
for each article, then `AlertBook.decide_many` for the batch (one SQLite
transaction, WAL, synchronous=FULL, on the temp folder's disk), with batches
of `--batch` articles (default: the runtime's `kafka.max_poll_records`;
`--batch 1` is a durable write per article), measured as process CPU time and
wall time. The loop runs `--rounds` times (default 3), each with a fresh
book; the best round and the median are reported, since on a shared machine
other processes inflate even CPU time (shared caches and cores).
Writes `bench/results/alert_speed.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from alert_campaign import BACKGROUND  # type: ignore[import-not-found]  # bench/ is not a package

from ingest.core.logs import configure_logging
from ingest.core.models import Article, Place
from ingest.core.settings import DEFAULT_ACTORS, KafkaSettings
from ingest.replay import load_archive, to_message
from workers.alert.book import AlertBook, Decision
from workers.alert.detect import detect_incursions
from workers.alert.stage import seats_for_capital_phrases
from workers.geotag.gazetteer import Gazetteer
from workers.geotag.tagger import tag_places

DATA = Path(__file__).parent / "data" / "alert" / "campaign.jsonl"
RESULTS = Path(__file__).parent / "results" / "alert_speed.json"
COUNT = 2000
PADDING = (
    "Officials in Kabul, Herat and Kandahar said roads between the provinces were open again. "
    "Traders from Mazar-i-Sharif and Jalalabad reported brisk sales before the holiday. "
    + " ".join(BACKGROUND)
)


def workload() -> list[Article]:
    base = [
        a for a in (to_message(r, "bench")[2] for r in load_archive(DATA)) if isinstance(a, Article)
    ]
    articles = []
    for n in range(COUNT):
        source = base[n % len(base)]
        shift = timedelta(days=30 * (n // len(base)))
        text = "\n\n".join([source.text, PADDING, PADDING, PADDING, PADDING])
        articles.append(source.model_copy(update={
            "article_id": f"{source.article_id}-{n}", "text": text,
            "published": source.published + shift,
        }))  # fmt: skip
    return articles


def timed_round(
    articles: list[Article], tagged: list[list[Place]], gazetteer: Gazetteer, batch: int
) -> tuple[float, float, int, int]:
    """(CPU seconds, wall seconds, incursions, messages) of one pass with a fresh book."""
    incursions = messages = 0
    with (
        tempfile.TemporaryDirectory() as tmp,
        AlertBook(Path(tmp) / "alerts.sqlite3", gazetteer.capital) as book,
    ):
        cpu, wall = time.process_time(), time.perf_counter()
        for first in range(0, len(articles), batch):
            decisions: list[Decision] = []
            for article, places in zip(
                articles[first : first + batch], tagged[first : first + batch], strict=True
            ):
                found = detect_incursions(article, places, DEFAULT_ACTORS)
                incursions += len(found)
                decisions.append((article, found, article.article_id))
            messages += sum(len(published) for published in book.decide_many(decisions))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu, wall, incursions, messages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="timed passes (best and median)")
    parser.add_argument(
        "--batch",
        type=int,
        default=KafkaSettings().max_poll_records,
        help="articles per book transaction, as polled by the stage (1: one per article)",
    )
    args = parser.parse_args()
    configure_logging("warning")
    gazetteer = Gazetteer.load()
    articles = workload()
    tagged = [seats_for_capital_phrases(tag_places(a.text, gazetteer).places, gazetteer)
              for a in articles]  # fmt: skip
    rounds = [
        timed_round(articles, tagged, gazetteer, max(1, args.batch))
        for _ in range(max(1, args.rounds))
    ]
    _, _, incursions, messages = rounds[0]
    cpu_best = min(r[0] for r in rounds)
    cpu_median = statistics.median(r[0] for r in rounds)
    wall_best = min(r[1] for r in rounds)
    size = sum(len(a.text) for a in articles) / len(articles)
    rate_cpu, rate_wall = len(articles) / cpu_best, len(articles) / wall_best
    rate_median = len(articles) / cpu_median
    print(
        f"{len(articles)} articles, mean {size / 1024:.1f} KB, {incursions} incursions, "
        f"{messages} messages, {len(rounds)} rounds, batches of {args.batch}"
    )
    print(f"{'measure':<44} {'value':>8}  target")
    print(f"{'articles/s per core (CPU time, best round)':<44} {rate_cpu:>8.0f}  >= 500")
    print(f"{'articles/s per core (CPU time, median)':<44} {rate_median:>8.0f}")
    print(f"{'articles/s (wall, incl. fsync, best round)':<44} {rate_wall:>8.0f}")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "articles": len(articles),
                "mean_bytes": round(size),
                "incursions": incursions,
                "messages": messages,
                "rounds": len(rounds),
                "batch": args.batch,
                "articles_per_cpu_second": round(rate_cpu),
                "articles_per_cpu_second_median": round(rate_median),
                "articles_per_wall_second": round(rate_wall),
            },
            indent=1,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
