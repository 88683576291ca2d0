"""Speed of event extraction and control-state update together, per core.

2,000 articles of about 4 KB: every article of the replay campaign (most of
them report an incursion, a reset or a corroboration) repeated with new ids
and later publication times, each padded with place-rich background
paragraphs. Places are tagged beforehand (that is the geotag stage's cost);
the timed loop is `detect_incursions` + `AlertBook.decide` (SQLite, WAL,
synchronous=FULL, on the temp folder's disk), measured as process CPU time
and wall time. Writes `bench/results/alert_speed.json`.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from alert_campaign import BACKGROUND  # type: ignore[import-not-found]  # bench/ is not a package

from ingest.core.logs import configure_logging
from ingest.core.models import Article
from ingest.core.settings import DEFAULT_ACTORS
from ingest.replay import load_archive, to_message
from workers.alert.book import AlertBook
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


def main() -> int:
    configure_logging("warning")
    gazetteer = Gazetteer.load()
    articles = workload()
    tagged = [seats_for_capital_phrases(tag_places(a.text, gazetteer).places, gazetteer)
              for a in articles]  # fmt: skip
    incursions = messages = 0
    with (
        tempfile.TemporaryDirectory() as tmp,
        AlertBook(Path(tmp) / "alerts.sqlite3", gazetteer.capital) as book,
    ):
        cpu, wall = time.process_time(), time.perf_counter()
        for article, places in zip(articles, tagged, strict=True):
            found = detect_incursions(article, places, DEFAULT_ACTORS)
            incursions += len(found)
            messages += len(book.decide(article, found, article.article_id))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    size = sum(len(a.text) for a in articles) / len(articles)
    rate_cpu, rate_wall = len(articles) / cpu, len(articles) / wall
    print(
        f"{len(articles)} articles, mean {size / 1024:.1f} KB, {incursions} incursions, "
        f"{messages} messages"
    )
    print(f"{'measure':<44} {'value':>8}  target")
    print(f"{'articles/s per core (CPU time)':<44} {rate_cpu:>8.0f}  >= 500")
    print(f"{'articles/s (wall, incl. fsync)':<44} {rate_wall:>8.0f}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "articles": len(articles),
                "mean_bytes": round(size),
                "incursions": incursions,
                "messages": messages,
                "articles_per_cpu_second": round(rate_cpu),
                "articles_per_wall_second": round(rate_wall),
            },
            indent=1,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
