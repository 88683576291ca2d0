"""End-to-end throughput: real pages through every stage, as a ratio to raw trafilatura.

    .venv/bin/python bench/e2e_throughput.py [--pages 200]

Baseline, measured in the same run: `trafilatura.extract` on the same pages
with one process per core (the cleaner's own setting). Pipeline: the pages
are served from a loopback HTTP server with one RSS feed listing them all;
`news-ingest run` (every stage as its own process, embedded Tansu broker)
polls, fetches, cleans, dedupes, geotags and checks them for alerts. The
clock runs from the first item on `news.items` to the moment every stage has
committed everything (the alert stage included), so the stages' start-up
(group joins) is left out, while everything after the first poll is counted.

Prints a table and writes bench/results/e2e_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trafilatura

from ingest.core.embedded_broker import start_broker
from ingest.core.kafka_clients import ensure_topics
from ingest.core.models import utc_now
from ingest.core.progress import topic_size
from ingest.core.settings import load_settings
from ingest.core.status import drained
from ingest.core.topics import ITEMS

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATA = ROOT.parent / "shared" / "bench-data" / "extraction"
RESULTS = ROOT / "bench" / "results"


def load_pages(limit: int) -> list[bytes]:
    pages = sorted((BENCH_DATA / "pages").glob("*.html"))
    if not pages:
        sys.exit(f"no benchmark pages under {BENCH_DATA}/pages (the shared bench-data folder)")
    return [p.read_bytes() for p in pages[:limit]]


def _extract(page: bytes) -> int:
    return len(trafilatura.extract(page) or "")


def baseline(pages: list[bytes], cores: int) -> float:
    """Pages per second of raw trafilatura with `cores` processes."""
    with multiprocessing.get_context("spawn").Pool(cores) as pool:
        pool.map(_extract, pages[: cores * 2])  # warm the workers' imports
        started = time.perf_counter()
        pool.map(_extract, pages, chunksize=1)
        return len(pages) / (time.perf_counter() - started)


class Site:
    """A loopback server: /feed.xml lists every page, /p/N serves page N."""

    def __init__(self, pages: list[bytes]) -> None:
        self.pages = pages
        now = format_datetime(utc_now())
        handler = self._handler(pages, now)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _handler(self, pages: list[bytes], now: str) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/feed.xml":
                    items = "".join(
                        f"<item><title>page {n}</title><link>{site.base}/p/{n}</link>"
                        f"<guid>{n}</guid><pubDate>{now}</pubDate></item>"
                        for n in range(len(pages))
                    )
                    body = (f"<rss version='2.0'><channel><title>bench</title><link>{site.base}"
                            f"</link><description>{escape('bench')}</description>{items}"
                            "</channel></rss>").encode()
                    ctype = "application/rss+xml"
                elif self.path.startswith("/p/"):
                    body, ctype = pages[int(self.path.rsplit("/", 1)[1])], "text/html"
                else:  # robots.txt and anything else
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


def pipeline(pages: list[bytes], folder: Path) -> dict[str, float]:
    broker = start_broker()
    site = Site(pages)
    config = folder / "bench.toml"
    config.write_text(
        f'data_dir = "{folder / "data"}"\n'
        f'[kafka]\nbootstrap_servers = "{broker.bootstrap_servers}"\n'
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
        while topic_size(settings.kafka, ITEMS.name) == 0:
            time.sleep(0.05)
        started = time.perf_counter()
        while not drained(settings, len(pages)):
            time.sleep(0.25)
        elapsed = time.perf_counter() - started
    finally:
        run.send_signal(signal.SIGTERM)
        run.wait(timeout=60)
        site.server.shutdown()
        broker.stop()
    return {"seconds": elapsed, "pages_per_s": len(pages) / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    args = parser.parse_args()
    pages = load_pages(args.pages)
    cores = os.cpu_count() or 1
    raw = baseline(pages, cores)
    with tempfile.TemporaryDirectory(prefix="news-ingest-bench-") as tmp:
        result = pipeline(pages, Path(tmp))
    ratio = result["pages_per_s"] / raw
    rows = [
        ("pages (mean KB)", f"{len(pages)} ({sum(map(len, pages)) / len(pages) / 1024:.0f})"),
        ("cores", str(cores)),
        ("raw trafilatura.extract, pages/s", f"{raw:.1f}"),
        ("pipeline feed -> news.alerts, pages/s", f"{result['pages_per_s']:.1f}"),
        ("pipeline wall time, s", f"{result['seconds']:.1f}"),
        ("ratio (target >= 0.85)", f"{ratio:.2f}"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "e2e_throughput.json").write_text(json.dumps({
        "pages": len(pages), "cores": cores, "raw_pages_per_s": raw,
        "pipeline_pages_per_s": result["pages_per_s"], "pipeline_seconds": result["seconds"],
        "ratio": ratio,
    }, indent=2))


if __name__ == "__main__":
    main()
