"""End-to-end throughput: real pages through every stage, as a ratio to raw trafilatura.

    .venv/bin/python bench/e2e_throughput.py [--pages 200] [--rounds 3] [--repeats 3]
        [--processes 1,2]

`--processes 1,2` runs the pipeline twice in the same run, with one and then
two processes per stage (`[supervisor] processes`; dedupe and alert always
run one), and reports the scale-out ratio.

Baseline, measured in the same run: `trafilatura.extract` on the same pages
(each repeated `--rounds` times, in the same order) with one process per core
(the cleaner's own setting). The host's speed drifts by 10 % and more within
minutes, so each pipeline run (`--repeats` of them) sits between two baseline
runs and is compared with their mean; the ratios reported are the medians.

Pipeline: the pages are served from a loopback HTTP server with one RSS feed
listing them all, each page `--rounds` times under distinct URLs (a longer
window, so that start-up weighs less; dedupe marks the repeats as copies of
the first round, so only the first round's articles go on to geotag and
alert); `news-ingest run` (every stage as its own process, embedded Tansu
broker) polls, fetches, cleans, dedupes, geotags and checks them for alerts.
The feed first lists one warm-up article of the bench's own, and the pages
only once that article has gone through every stage: the stages' start-up
(group joins, first connections) is left out, as the baseline's is (its
workers are warmed too). The clock runs from the first page's item on
`news.items` to the last record a stage wrote (their CreateTimes, read back
once every stage, the alert stage included, has committed everything; the
time the bench's progress checks noticed the end is shown too). From the
first item it noticed to the end it noticed, it reads the CPU time of every
process (each stage process with its children, the broker, this process
serving the pages) from /proc, to show where the two cores went.

Prints a table and writes bench/results/e2e_throughput.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any

import trafilatura
from aiohttp import web
from kafka import KafkaConsumer, TopicPartition

from ingest.core.embedded_broker import start_broker
from ingest.core.kafka_clients import ensure_topics
from ingest.core.models import utc_now
from ingest.core.progress import ends_of_topics, topic_size
from ingest.core.settings import KafkaSettings, Settings, load_settings
from ingest.core.stages import PIPELINE_ORDER, SINGLE_PROCESS_STAGES
from ingest.core.status import drained
from ingest.core.topics import ALERTS, ARTICLES, DUPLICATES, GEOTAGGED, ITEMS, RAW, UNIQUE

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATA = ROOT.parent / "shared" / "bench-data" / "extraction"
RESULTS = ROOT / "bench" / "results"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (not its children), or 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(root: int) -> dict[int, tuple[int, str]]:
    """pid → (parent pid, short command line) for `root` and all its descendants."""
    table: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            table[int(entry.name)] = (ppid, " ".join(a.decode() for a in argv if a))
    tree, frontier = {}, [root]
    while frontier:
        pid = frontier.pop()
        if pid in table:
            tree[pid] = table[pid]
            frontier += [child for child, (parent, _) in table.items() if parent == pid]
    return tree


def cpu_by_component(run_pid: int, broker_pid: int) -> dict[str, float]:
    """CPU seconds so far of each stage (its worker process and that one's children)."""
    tree = process_tree(run_pid)
    totals: dict[str, float] = {"broker (tansu)": cpu_seconds(broker_pid)}
    for pid, (parent, argv) in tree.items():
        words, parent_words = argv.split(), tree.get(parent, (0, ""))[1].split()
        if pid == run_pid:
            name = "supervisor (run)"
        elif "worker" in parent_words:  # a forked pool process: same command line as its parent
            name = parent_words[parent_words.index("worker") + 1] + " pool"
        elif "worker" in words:
            name = words[words.index("worker") + 1]
        else:
            name = "other"
        totals[name] = totals.get(name, 0.0) + cpu_seconds(pid)
    return totals


def load_pages(limit: int) -> list[bytes]:
    pages = sorted((BENCH_DATA / "pages").glob("*.html"))
    if not pages:
        sys.exit(f"no benchmark pages under {BENCH_DATA}/pages (the shared bench-data folder)")
    return [p.read_bytes() for p in pages[:limit]]


def _extract(page: bytes) -> float:
    """CPU seconds of one `trafilatura.extract` in this worker."""
    started = time.process_time()
    trafilatura.extract(page)
    return time.process_time() - started


def baseline(pages: list[bytes], cores: int) -> tuple[float, float]:
    """Pages per second of raw trafilatura with `cores` processes, and its CPU s per page."""
    with multiprocessing.get_context("spawn").Pool(cores) as pool:
        pool.map(_extract, pages[: cores * 2])  # warm the workers' imports
        started = time.perf_counter()
        cpu = pool.map(_extract, pages, chunksize=1)
        return len(pages) / (time.perf_counter() - started), sum(cpu) / len(pages)


# Unlike any bench page, so that dedupe does not take one of them for its copy.
WARM_UP_PAGE = "<html><head><title>Orchard cooperative opens a cider press</title></head><body>" + (
    "<article><h1>Orchard cooperative opens a cider press</h1>"
    + "".join(
        f"<p>Growers from {n} valley farms brought apples to the new press on its first "
        f"morning; the cooperative expects to bottle {n * 40} litres a week this autumn and "
        "to sell most of it at the Saturday market by the old bridge.</p>"
        for n in range(3, 9)
    )
    + "</article></body></html>"
)


class Site:
    """A loopback server: /feed.xml lists every page, /p/N serves page N.

    aiohttp on its own event loop thread, keep-alive as news sites serve. Its CPU
    comes out of the same two cores as the pipeline's (a real site's would not):
    http.server cost 0.74 ms a page, aiohttp about a third of that.
    """

    def __init__(self, pages: list[bytes]) -> None:
        self.pages = pages
        self.listing = False  # True: the feed lists the pages after the warm-up article
        self.loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_get("/feed.xml", self._feed)
        app.router.add_get("/p/{n}", self._page)
        app.router.add_get("/warm-up", self._warm_up)
        self.runner = web.AppRunner(app, access_log=None)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        port = self.runner.addresses[0][1]
        self.base = f"http://127.0.0.1:{port}"
        self.now = format_datetime(utc_now())
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    async def _feed(self, _request: web.Request) -> web.Response:
        items = (f"<item><title>warm-up</title><link>{self.base}/warm-up</link>"
                 f"<guid>warm-up</guid><pubDate>{self.now}</pubDate></item>")
        items += "".join(
            f"<item><title>page {n}</title><link>{self.base}/p/{n}</link>"
            f"<guid>{n}</guid><pubDate>{self.now}</pubDate></item>"
            for n in range(len(self.pages) if self.listing else 0)
        )
        body = (f"<rss version='2.0'><channel><title>bench</title><link>{self.base}"
                f"</link><description>{escape('bench')}</description>{items}"
                "</channel></rss>")
        return web.Response(text=body, content_type="application/rss+xml")

    async def _page(self, request: web.Request) -> web.Response:
        return web.Response(body=self.pages[int(request.match_info["n"])],
                            content_type="text/html")

    async def _warm_up(self, _request: web.Request) -> web.Response:
        return web.Response(text=WARM_UP_PAGE, content_type="text/html")

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)


def record_times(kafka: KafkaSettings) -> tuple[float, float]:
    """CreateTime (s) of the first page's item and of the last record any stage wrote.

    Read back once every stage has committed everything: the progress checks
    notice the end only up to half a second late, and the start a few checks
    late; the records' own timestamps say when the work began and ended.
    """
    topics = [t.name for t in (ITEMS, RAW, ARTICLES, UNIQUE, DUPLICATES, GEOTAGGED, ALERTS)]
    ends = ends_of_topics(kafka, topics)
    reader = KafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, enable_auto_commit=False,
                           max_partition_fetch_bytes=16 * 1024 * 1024)
    try:
        wanted = {TopicPartition(t, p): end for t in topics for p, end in ends[t].items() if end}
        reader.assign(list(wanted))
        for tp, end in wanted.items():  # every item (small); the last record of the rest
            reader.seek(tp, 0 if tp.topic == ITEMS.name else end - 1)
        first_item, last_output = float("inf"), 0.0
        pending = set(wanted)
        while pending:
            for tp, records in reader.poll(timeout_ms=1000).items():
                for record in records:
                    if tp.topic == ITEMS.name:
                        if b"/warm-up" not in record.value:
                            first_item = min(first_item, record.timestamp / 1000)
                    else:
                        last_output = max(last_output, record.timestamp / 1000)
                    if record.offset == wanted[tp] - 1:
                        pending.discard(tp)
        return first_item, last_output
    finally:
        reader.close()


def wait_until_drained(settings: Settings, articles: int) -> None:
    """Return once `articles` are on news.articles and every stage has committed everything.

    Each check opens Kafka clients (~10 ms of CPU, taken from the pipeline's
    cores), so the count of articles is checked every 0.5 s; once they are all
    there, only the stages after the cleaner still work, and their commits are
    checked every 0.1 s, which closes the CPU window soon after the end.
    """
    while topic_size(settings.kafka, ARTICLES.name) < articles:
        time.sleep(0.5)
    while not drained(settings, articles):
        time.sleep(0.1)


def pipeline(
    pages: list[bytes], folder: Path, compression: str, processes: int = 1
) -> dict[str, Any]:
    broker = start_broker()
    site = Site(pages)
    config = folder / "bench.toml"
    scaled = [n for n in PIPELINE_ORDER if n not in SINGLE_PROCESS_STAGES]
    config.write_text(
        f'data_dir = "{folder / "data"}"\n'
        "[supervisor]\nprocesses = {"
        + ", ".join(f"{name} = {processes}" for name in scaled) + "}\n"
        f'[kafka]\nbootstrap_servers = "{broker.bootstrap_servers}"\n'
        f'compression = "{compression}"\n'
        '[http]\nallow_private_networks = true\nper_host_concurrency = 8\n'
        '[poller]\nmin_interval = "1s"\n[notify]\nstdout = false\n[log]\nlevel = "warning"\n'
        f'[[feeds]]\nurl = "{site.base}/feed.xml"\nname = "bench"\ninterval = "1s"\n'
    )
    settings = load_settings(config)
    ensure_topics(settings.kafka)
    log = (folder / "run.log").open("wb")
    run = subprocess.Popen([sys.executable, "-m", "ingest", "run", "--config", str(config)],
                           stdout=log, stderr=log)
    try:
        wait_until_drained(settings, 1)  # the warm-up article
        site.listing = True
        while topic_size(settings.kafka, ITEMS.name) <= 1:
            time.sleep(0.05)
        started = time.perf_counter()
        cpu_before = cpu_by_component(run.pid, broker.pid)
        own_before = time.process_time()
        wait_until_drained(settings, 1 + len(pages))
        cpu_after = cpu_by_component(run.pid, broker.pid)
        cpu_after["bench (page server, progress checks)"] = time.process_time() - own_before
        noticed = time.perf_counter() - started
        began, ended = record_times(settings.kafka)
        elapsed = ended - began
    finally:
        run.send_signal(signal.SIGTERM)
        run.wait(timeout=60)
        site.stop()
        broker.stop()
    cpu = {name: spent - cpu_before.get(name, 0.0) for name, spent in cpu_after.items()}
    return {"seconds": elapsed, "seconds_noticed": noticed, "pages_per_s": len(pages) / elapsed,
            "cpu_seconds": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="times each page is served")
    parser.add_argument(
        "--compression", choices=["lz4", "gzip", "none"], default="lz4", help="kafka.compression"
    )
    parser.add_argument(
        "--processes", default="1", help="processes per stage; a list (1,2) runs each in turn"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="pipeline runs per process count, each between "
        "two baseline runs; the ratios reported are the medians"
    )
    args = parser.parse_args()
    counts = [int(n) for n in args.processes.split(",")]
    pages = load_pages(args.pages) * args.rounds
    load_before = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    baselines = [baseline(pages, cores)]
    runs: dict[int, list[Run]] = {}
    for count in counts:
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory(prefix="news-ingest-bench-") as tmp:
                result = pipeline(pages, Path(tmp), args.compression, count)
            baselines.append(baseline(pages, cores))
            runs.setdefault(count, []).append(Run(result, baselines[-2], baselines[-1], len(pages)))
    load_after = os.getloadavg()[0]
    report(args, counts, pages, cores, baselines, runs, (load_before, load_after))


@dataclass
class Run:
    """One pipeline run and the baseline runs just before and after it."""

    result: dict[str, Any]
    before: tuple[float, float]  # baseline pages/s, CPU s per page
    after: tuple[float, float]
    pages: int

    @property
    def raw_pages_per_s(self) -> float:
        return (self.before[0] + self.after[0]) / 2

    @property
    def raw_cpu_ms(self) -> float:
        return (self.before[1] + self.after[1]) / 2 * 1000

    @property
    def ratio(self) -> float:
        return float(self.result["pages_per_s"]) / self.raw_pages_per_s

    @property
    def cpu_ms(self) -> dict[str, float]:
        return {n: s / self.pages * 1000 for n, s in self.result["cpu_seconds"].items()}

    @property
    def pipeline_cpu_ms(self) -> float:
        return sum(ms for name, ms in self.cpu_ms.items() if not name.startswith("bench"))

    @property
    def cpu_ratio(self) -> float:
        return self.raw_cpu_ms / self.pipeline_cpu_ms


def report(
    args: argparse.Namespace,
    counts: list[int],
    pages: list[bytes],
    cores: int,
    baselines: list[tuple[float, float]],
    runs: dict[int, list[Run]],
    load: tuple[float, float],
) -> None:
    rows = [
        ("pages (mean KB)", f"{len(pages)} ({sum(map(len, pages)) / len(pages) / 1024:.0f})"),
        ("rounds; kafka.compression", f"{args.rounds}; {args.compression}"),
        ("cores", str(cores)),
        ("raw trafilatura.extract, pages/s (each run)",
         ", ".join(f"{rate:.1f}" for rate, _ in baselines)),
        ("CPU ms/page: raw trafilatura.extract (each run)",
         ", ".join(f"{cpu * 1000:.1f}" for _, cpu in baselines)),
        ("load average before, after", f"{load[0]:.1f}, {load[1]:.1f}"),
    ]
    summary: dict[str, Any] = {
        "pages": len(pages), "cores": cores, "rounds": args.rounds, "repeats": args.repeats,
        "compression": args.compression,
        "raw_pages_per_s": [round(rate, 2) for rate, _ in baselines],
        "raw_cpu_ms_per_page": [round(cpu * 1000, 3) for _, cpu in baselines],
        "load_average_before_after": [round(load[0], 2), round(load[1], 2)],
        "runs": {},
    }
    for count, repeats in runs.items():
        label = f"[{count} process{'es' if count > 1 else ''} per stage]"
        ratio = statistics.median(run.ratio for run in repeats)
        cpu_ratio = statistics.median(run.cpu_ratio for run in repeats)
        names = sorted({n for run in repeats for n in run.cpu_ms},
                       key=lambda n: -statistics.mean(run.cpu_ms.get(n, 0.0) for run in repeats))
        cpu_ms = {n: statistics.mean(run.cpu_ms.get(n, 0.0) for run in repeats) for n in names}
        rows += [
            (f"{label} pipeline feed -> news.alerts, pages/s (each run)",
             ", ".join(f"{run.result['pages_per_s']:.1f}" for run in repeats)),
            (f"{label} seconds, first item -> last output (noticed by the checks)",
             ", ".join(f"{run.result['seconds']:.2f} ({run.result['seconds_noticed']:.2f})"
                       for run in repeats)),
            (f"{label} ratio to the baseline runs around it (each run)",
             ", ".join(f"{run.ratio:.2f}" for run in repeats)),
            (f"{label} ratio to raw, median (target >= 0.85)", f"{ratio:.2f}"),
        ]
        rows += [(f"{label} CPU ms/page, mean: {name}", f"{ms:.2f}") for name, ms in cpu_ms.items()]
        rows += [
            (f"{label} CPU ratio raw / pipeline (each run)",
             ", ".join(f"{run.cpu_ratio:.2f}" for run in repeats)),
            (f"{label} CPU ratio raw / pipeline, median", f"{cpu_ratio:.2f}"),
        ]
        if count != counts[0]:
            first = statistics.median(run.result["pages_per_s"] for run in runs[counts[0]])
            scale = statistics.median(run.result["pages_per_s"] for run in repeats) / first
            rows.append((f"{label} throughput / {counts[0]} per stage (medians)", f"{scale:.2f}"))
        summary["runs"][str(count)] = {
            "pipeline_pages_per_s": [run.result["pages_per_s"] for run in repeats],
            "pipeline_seconds": [run.result["seconds"] for run in repeats],
            "ratios": [round(run.ratio, 3) for run in repeats],
            "ratio_median": round(ratio, 3),
            "cpu_ms_per_page_mean": {n: round(ms, 3) for n, ms in cpu_ms.items()},
            "cpu_ratios": [round(run.cpu_ratio, 3) for run in repeats],
            "cpu_ratio_median": round(cpu_ratio, 3),
        }
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.compression == "lz4" else f"_{args.compression}"
    suffix += "" if counts == [1] else "_processes_" + "_".join(map(str, counts))
    (RESULTS / f"e2e_throughput{suffix}.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
