"""Cleaner throughput through Kafka as a ratio to raw trafilatura, same pages, same cores, same run.

Pages: the 200 pages of `../shared/bench-data/extraction/`, decoded once with
trafilatura's `decode_file`, repeated `--rounds` times (each copy its own item
id), so both sides see the same strings in the same order.

baseline: `trafilatura.extract(html, url=url)` with default options over every
          page in a pool of `--cores` processes (forked, warmed up first);
          wall-clock pages per second; measured before and after each
          cleaner run, and that run's ratio is to the mean of the two. For
          reference, also `extract(..., fast=True)` (the mode the cleaner
          uses) at the end.
cleaner:  every page is produced as a `RawPage` to `news.raw` on the embedded
          broker (lz4, the default, before the clock starts); then the real
          `CleanerStage` (its pool of `--cores` extraction processes) runs
          under the real `StreamRunner`, consuming `news.raw` and producing `news.articles`,
          logging at info level as JSON (to /dev/null). The clock runs from
          the first committed batch to the last, so the group join and the
          first batch (workers forking, first-use costs) are left out; pages
          counted are those of the batches after the first. Outputs are
          checked with `topic_size` on `news.articles` and `news.raw.dlq`.

The machine is shared: other benchmarks may run at the same time, and the
baseline itself moves by up to 20 % between runs a minute apart, so the
cleaner runs `--repeats` times, each between two baseline runs, and the
median of the ratios is the figure to read.

Run: .venv/bin/python bench/cleaner_throughput.py [--rounds 5] [--cores 2] [--repeats 3]
Writes bench/results/cleaner_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import statistics
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


def cleaner_round(pages: list[tuple[str, str]], cores: int) -> dict[str, Any]:
    """One run of the real stage on a fresh broker, with its outputs counted."""
    broker = start_broker()
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            settings = load_settings(
                None,
                data_dir=Path(data_dir),
                kafka={"bootstrap_servers": broker.bootstrap_servers},
                cleaner={"workers": cores},
            )
            ensure_topics(settings.kafka)
            produce(settings, raw_pages(pages))
            cleaner: dict[str, Any] = run_cleaner(settings, len(pages))
            cleaner["articles"] = topic_size(settings.kafka, ARTICLES.name)
            cleaner["dead_letters"] = topic_size(settings.kafka, RAW.dlq)
            return cleaner
    finally:
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=5, help="times each page is repeated")
    parser.add_argument("--cores", type=int, default=2, help="extraction processes, both sides")
    parser.add_argument(
        "--repeats", type=int, default=3, help="cleaner runs, each between two baseline runs"
    )
    args = parser.parse_args()
    configure_logging("info", "json")
    # The same JSON rendering as in service, written to /dev/null instead of stderr.
    root = logging.getLogger()
    quiet = logging.StreamHandler(Path(os.devnull).open("w"))  # noqa: SIM115 - for the whole run
    quiet.setFormatter(root.handlers[0].formatter)
    root.handlers = [quiet]
    pages = load_pages() * args.rounds
    load_before = os.getloadavg()[0]
    baselines = [baseline(pages, args.cores)]
    runs: list[dict[str, Any]] = []
    for number in range(1, args.repeats + 1):
        print(f"raw trafilatura.extract, {args.cores} processes: {baselines[-1]:.1f} pages/s")
        runs.append(cleaner_round(pages, args.cores))
        baselines.append(baseline(pages, args.cores))
        runs[-1]["ratio"] = runs[-1]["pages_per_s"] / ((baselines[-2] + baselines[-1]) / 2)
        print(f"cleaner run {number}: {runs[-1]['pages_per_s']:.1f} pages/s")
    fast = baseline(pages, args.cores, fast=True)
    load_after = os.getloadavg()[0]
    ratios = [run["ratio"] for run in runs]
    print(f"\n{len(pages)} pages, {args.cores} processes on each side; pages/s (wall clock)\n")
    print("| run | raw extract before, after | cleaner through Kafka | articles, dead letters "
          "| ratio (target >= 0.9) |")
    print("| --- | --- | --- | --- | --- |")
    for number, run in enumerate(runs, 1):
        before, after = baselines[number - 1], baselines[number]
        print(f"| {number} | {before:.1f}, {after:.1f} | {run['pages_per_s']:.1f} | "
              f"{run['articles']}, {run['dead_letters']} | {run['ratio']:.3f} |")
    print(f"\nmedian ratio {statistics.median(ratios):.3f}; raw extract(fast=True) "
          f"{fast:.1f} pages/s; load average {load_before:.1f} before, {load_after:.1f} after")
    result = {
        "pages": len(pages),
        "cores": args.cores,
        "baselines_pages_per_s": [round(b, 2) for b in baselines],
        "baseline_fast": round(fast, 2),
        "load_average_before_after": [round(load_before, 2), round(load_after, 2)],
        "cleaner_runs": [{k: round(v, 3) for k, v in run.items()} for run in runs],
        "ratios": [round(r, 3) for r in ratios],
        "median_ratio": round(statistics.median(ratios), 3),
        "os_cpu_count": os.cpu_count(),
    }
    RESULT.parent.mkdir(exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
