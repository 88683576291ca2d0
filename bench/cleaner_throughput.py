"""Cleaner throughput through Kafka as a ratio to raw trafilatura, same pages, same cores, same run.

Pages: the 200 pages of `../shared/bench-data/extraction/`, decoded once with
trafilatura's `decode_file`, repeated `--rounds` times (each copy its own item
id), so both sides see the same strings in the same order.

baseline: `trafilatura.extract(html, url=url)` with default options over every
          page in a pool of `--cores` processes (forked, warmed up first);
          wall-clock pages per second; measured before and again after the
          cleaner, and the ratio is to their mean. For reference, also
          `extract(..., fast=True)` (the mode the cleaner uses) after it.
cleaner:  every page is produced as a `RawPage` to `news.raw` on the embedded
          broker (gzip, before the clock starts); then the real `CleanerStage`
          (its pool of `--cores` extraction processes) runs under the real
          `StreamRunner`, consuming `news.raw` and producing `news.articles`,
          logging at info level as JSON (to /dev/null). The clock runs from
          the first committed batch to the last, so the group join and the
          first batch (workers forking, first-use costs) are left out; pages
          counted are those of the batches after the first. Outputs are
          checked with `topic_size` on `news.articles` and `news.raw.dlq`.

The machine is shared: other benchmarks may run at the same time, so the
ratio (both measured in this run, close together) is the figure to read.

Run: .venv/bin/python bench/cleaner_throughput.py [--rounds 5] [--cores 2]
Writes bench/results/cleaner_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import trafilatura
from trafilatura.utils import decode_file

from ingest.cleaner.stage import CleanerStage
from ingest.core.embedded_broker import start_broker
from ingest.core.envelope import encode, event_id
from ingest.core.kafka_clients import ensure_topics, make_producer
from ingest.core.logs import configure_logging
from ingest.core.models import Item, RawPage
from ingest.core.progress import topic_size
from ingest.core.runtime import StreamRunner
from ingest.core.settings import Settings, load_settings
from ingest.core.topics import ARTICLES, RAW

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "bench-data" / "extraction"
RESULT = Path(__file__).resolve().parent / "results" / "cleaner_throughput.json"


def load_pages() -> list[tuple[str, str]]:
    expected: dict[str, dict[str, Any]] = json.loads((DATA / "expected.json").read_text())
    return [
        (url, decode_file((DATA / "pages" / item["file"]).read_bytes()))
        for url, item in expected.items()
    ]


def _extract(page: tuple[str, str]) -> int:
    url, html = page
    return len(trafilatura.extract(html, url=url) or "")


def _extract_fast(page: tuple[str, str]) -> int:
    url, html = page
    return len(trafilatura.extract(html, url=url, fast=True) or "")


def baseline(pages: list[tuple[str, str]], cores: int, *, fast: bool = False) -> float:
    """Pages per second of raw `trafilatura.extract` in `cores` processes."""
    work = _extract_fast if fast else _extract
    with multiprocessing.get_context("fork").Pool(cores) as pool:
        pool.map(work, pages[: cores * 4])  # first-use costs in each worker
        started = time.perf_counter()
        pool.map(work, pages, chunksize=1)
        return len(pages) / (time.perf_counter() - started)


def raw_pages(pages: list[tuple[str, str]]) -> list[RawPage]:
    from datetime import UTC, datetime  # noqa: PLC0415 - only the payloads need it

    now = datetime(2024, 1, 1, tzinfo=UTC)
    made = []
    for number, (url, html) in enumerate(pages):
        item = Item(
            item_id=f"{number:032x}",
            url=url,
            feed_url="https://feeds.example/bench.xml",
            feed_name="bench",
            discovered_at=now,
        )
        made.append(
            RawPage(
                item=item,
                final_url=url,
                status=200,
                content_type="text/html",
                encoding="utf-8",
                html=html,
                fetched_at=now,
                elapsed_ms=0.0,
            )
        )
    return made


def produce(settings: Settings, pages: list[RawPage]) -> None:
    producer = make_producer(settings.kafka, "bench")
    for raw in pages:
        key = raw.item.item_id
        headers, value = encode(raw, source="/bench", id=event_id(raw.ce_type, key))
        producer.send(RAW.name, key=key.encode(), value=value, headers=headers)
    producer.flush()
    producer.close()


def run_cleaner(settings: Settings, total: int) -> dict[str, float]:
    commits: list[tuple[float, int]] = []
    runner = StreamRunner(settings, CleanerStage(settings), install_signals=False)
    runner.on_batch_committed = lambda count: commits.append((time.perf_counter(), count))
    thread = threading.Thread(target=runner.run)
    started = time.perf_counter()
    thread.start()
    while sum(count for _, count in commits) < total:
        time.sleep(0.05)
    runner.stop()
    thread.join(timeout=60)
    (first_at, first_count), (last_at, _) = commits[0], commits[-1]
    timed = total - first_count
    return {
        "batches": len(commits),
        "first_batch_pages": first_count,
        "timed_pages": timed,
        "timed_seconds": round(last_at - first_at, 2),
        "pages_per_s": timed / (last_at - first_at),
        "pages_per_s_including_start": total / (last_at - started),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=5, help="times each page is repeated")
    parser.add_argument("--cores", type=int, default=2, help="extraction processes, both sides")
    args = parser.parse_args()
    configure_logging("info", "json")
    handler = logging.getLogger().handlers[0]
    if isinstance(handler, logging.StreamHandler):
        handler.setStream(Path(os.devnull).open("w"))  # noqa: SIM115 - lives as long as the run
    pages = load_pages() * args.rounds
    load_before = os.getloadavg()[0]
    before = baseline(pages, args.cores)
    print(f"raw trafilatura.extract, {args.cores} processes, before: {before:.1f} pages/s")
    broker = start_broker()
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            settings = load_settings(
                None,
                data_dir=Path(data_dir),
                kafka={"bootstrap_servers": broker.bootstrap_servers},
                cleaner={"workers": args.cores},
            )
            ensure_topics(settings.kafka)
            produce(settings, raw_pages(pages))
            cleaner = run_cleaner(settings, len(pages))
            outputs = topic_size(settings.kafka, ARTICLES.name)
            dead = topic_size(settings.kafka, RAW.dlq)
    finally:
        broker.stop()
    after = baseline(pages, args.cores)
    fast = baseline(pages, args.cores, fast=True)
    load_after = os.getloadavg()[0]
    base = (before + after) / 2
    print(f"raw trafilatura.extract, after: {after:.1f} pages/s; with fast=True: {fast:.1f}")
    ratio = cleaner["pages_per_s"] / base
    print(
        f"cleaner stage through Kafka, {args.cores} processes: "
        f"{cleaner['pages_per_s']:.1f} pages/s ({cleaner['timed_pages']} pages timed; "
        f"{outputs} articles, {dead} dead letters)"
    )
    print(
        f"ratio: {ratio:.3f} (target >= 0.9); to extract(fast=True): "
        f"{cleaner['pages_per_s'] / fast:.3f}"
    )
    print(f"load average: {load_before:.1f} before, {load_after:.1f} after")
    result = {
        "pages": len(pages),
        "cores": args.cores,
        "baseline_pages_per_s": round(base, 2),
        "baseline_before": round(before, 2),
        "baseline_after": round(after, 2),
        "baseline_fast": round(fast, 2),
        "ratio_to_fast": round(cleaner["pages_per_s"] / fast, 3),
        "load_average_before_after": [round(load_before, 2), round(load_after, 2)],
        "cleaner": {k: round(v, 2) for k, v in cleaner.items()},
        "articles": outputs,
        "dead_letters": dead,
        "ratio": round(ratio, 3),
        "os_cpu_count": os.cpu_count(),
    }
    RESULT.parent.mkdir(exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
