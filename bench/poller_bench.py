"""Poller benchmark: 10,000 feeds on a loopback server, one poller on one core.

Run: `.venv/bin/python bench/poller_bench.py` (about 90 s). Options:
`--busy-every S` (how often a busy feed gains an item; default 2), `--interval`
(every feed's configured interval; default 1s), `--warmup S` (at least; the
warm-up also lasts until every feed was polled twice: a first poll parses a full
body), `--out NAME` (results file).
Saturating (the defaults) measures the most polls one core can make; a longer
interval (e.g. `--interval 10s`) measures the item delay at a sustainable rate.

The feed server runs in its own process pinned to the other core: most feeds
answer 304 to their ETag, 5 % get a new item every 2 s (their ETag changes),
3 % answer after 2 s, 2 % answer 500. The poller (`PollerSource`, the real
stage with the real embedded broker) is pinned to core 0. Measured over a
steady-state window: polls per second, CPU seconds per poll (this process:
poller loop, HTTP client, Kafka producer, SQLite) and its inverse, polls per
core-second (the machine is shared, so wall-clock rates understate it), and
the delay from an item's appearance in its feed to its record's timestamp on
`news.items`. The poller's interval is adaptive (a feed's interval stretches
while it is unchanged, up to its observed item period), so each delay is also
given minus the gap the poller had planned, at the previous poll of that feed,
before polling it again (target: at most 1 s); and every poll's lateness
against its plan (how much later than planned it started) is reported.
Memory per feed is measured separately with tracemalloc: the poller's
in-memory structures for 10,000 feeds (config, state, schedule entries).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import platform
import resource
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web
from kafka import KafkaConsumer, TopicPartition

from ingest.core.embedded_broker import start_broker
from ingest.core.http_client import HttpClient
from ingest.core.kafka_clients import ensure_topics
from ingest.core.logs import configure_logging
from ingest.core.settings import FeedConfig, HttpSettings, load_settings
from ingest.poller.loop import PollLoop
from ingest.poller.poll import NOTHING_DELIVERED, PollResult
from ingest.poller.schedule import PollSchedule
from ingest.poller.stage import PollerSource
from ingest.poller.state import FeedState

FEEDS = 10_000
BUSY_EVERY_S = 2.0
WARMUP_S = 25.0
MEASURE_S = 30.0
INTERVAL = "1s"


def kind(i: int) -> str:
    r = i % 100
    if r < 5:
        return "busy"
    if r < 8:
        return "slow"
    if r < 10:
        return "failing"
    return "quiet"


def quiet_body(i: int) -> bytes:
    items = "".join(f"<item><guid>q{i}-{k}</guid><link>/a/q{i}-{k}</link><title>Story {k}"
                    f"</title></item>" for k in range(5))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {i}</title>'
            f"{items}</channel></rss>").encode()


def serve(port_holder: Any, ready: Any, busy_every: float) -> None:
    os.sched_setaffinity(0, {1})
    start = time.time()

    async def feed(request: web.Request) -> web.Response:
        i = int(request.match_info["n"])
        k = kind(i)
        if k == "failing":
            return web.Response(status=500, text="broken")
        if k == "slow":
            await asyncio.sleep(2.0)
        if k == "busy":
            # Each busy feed has its own phase, so items do not all appear at one instant.
            phase = (i % 97) / 97 * busy_every
            n = math.floor((time.time() - start - phase) / busy_every)
            etag = f'"b{n}"'
            if request.headers.get("If-None-Match") == etag:
                return web.Response(status=304, headers={"ETag": etag})
            items = "".join(
                f"<item><guid>b{i}-{m}</guid><link>/a/b{i}-{m}-{start + phase + m * busy_every:.3f}"
                f"</link></item>" for m in range(max(0, n - 10), n + 1))
            body = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>B{i}</title>'
                    f"{items}</channel></rss>").encode()
            return web.Response(body=body, headers={"ETag": etag},
                                content_type="application/rss+xml")
        etag = f'"q{i}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=quiet_body(i), headers={"ETag": etag},
                            content_type="application/rss+xml")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/f/{n}", feed)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
        await site.start()
        port_holder.value = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


def memory_per_feed(interval: str) -> float:
    """tracemalloc bytes of the poller's per-feed structures, per feed."""
    feeds = {f"http://127.0.0.1:9/f/{i}": FeedConfig(url=f"http://127.0.0.1:9/f/{i}",
                                                     interval=interval) for i in range(FEEDS)}
    stored = {u: FeedState(u, etag=f'"q{i}"', content_hash="ab" * 32,
                           last_modified="Tue, 22 Jun 2021 08:00:00 GMT", polls=3)
              for i, u in enumerate(feeds)}

    async def measure() -> int:
        client = HttpClient(HttpSettings(allow_private_networks=True))
        loop = PollLoop(client, PollSchedule(), deliver=lambda r: None,
                        load_states=lambda urls: {u: stored[u] for u in urls},
                        known=NOTHING_DELIVERED, concurrency=1)
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        # Created inside the window: a running poller holds exactly these per feed.
        copies = {u: FeedConfig(url=u, interval=interval) for u in feeds}
        states = {u: FeedState(u, etag=s.etag, content_hash=s.content_hash,
                               last_modified=s.last_modified) for u, s in stored.items()}
        loop.assign(copies)
        loop.states.update(states)  # states as they come from SQLite, not shared with `stored`
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        await client.close()
        del copies, states
        return sum(s.size_diff for s in after.compare_to(before, "filename"))

    return asyncio.run(measure()) / FEEDS


class PollLog:
    """Every delivered poll's timing, from the stage's observer hook (on the event loop)."""

    def __init__(self) -> None:
        self.planned: dict[str, tuple[float, float]] = {}
        """feed → (when its next poll was planned, the gap planned at its last poll)"""
        self.lateness: list[tuple[float, float]] = []
        """(poll start, start minus planned) for every poll that had a plan"""
        self.found: dict[str, tuple[float, float, float]] = {}
        """new item URL → (poll start, gap planned at the previous poll, that poll's lateness)"""

    def __call__(self, results: list[PollResult]) -> None:
        for r in results:
            done = r.polled_at.timestamp()
            start = done - r.elapsed_ms / 1000.0
            plan = self.planned.get(r.feed_url)
            if plan is not None:
                self.lateness.append((start, start - plan[0]))
                for item in r.new_items:
                    self.found[item.url] = (start, plan[1], start - plan[0])
            nxt = r.next_poll.timestamp()
            self.planned[r.feed_url] = (nxt, nxt - done)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))], 3)


def item_delays(bootstrap: str, since: float, until: float) -> dict[str, tuple[float, float]]:
    """news.items records of busy feeds' items that appeared in [since, until]:
    URL → (appeared, record timestamp)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    tps = [TopicPartition("news.items", p)
           for p in sorted(consumer.partitions_for_topic("news.items") or ())]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    delays: dict[str, tuple[float, float]] = {}
    idle = time.monotonic()
    while time.monotonic() - idle < 3:
        for records in consumer.poll(timeout_ms=300, max_records=5000).values():
            idle = time.monotonic()
            for r in records:
                url = json.loads(r.value)["url"]
                if "/a/b" not in url:
                    continue
                appeared = float(url.rsplit("-", 1)[1])
                if since <= appeared <= until:
                    delays[url] = (appeared, r.timestamp / 1000.0)
    consumer.close()
    return delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--busy-every", type=float, default=BUSY_EVERY_S)
    parser.add_argument("--interval", default=INTERVAL)
    parser.add_argument("--warmup", type=float, default=WARMUP_S, help="at least, seconds")
    parser.add_argument("--out", default="poller_bench.json")
    args = parser.parse_args()
    configure_logging("warning", "console")
    per_feed = memory_per_feed(args.interval)
    port, ready = multiprocessing.Value("i", 0), multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(port, ready, args.busy_every),
                                     daemon=True)
    server.start()
    ready.wait(30)
    broker = start_broker()
    data = Path(tempfile.mkdtemp(prefix="poller-bench-"))
    feeds = [{"url": f"http://127.0.0.1:{port.value}/f/{i}", "interval": args.interval}
             for i in range(FEEDS)]
    settings = load_settings(
        None, data_dir=data, feeds=feeds,
        kafka={"bootstrap_servers": broker.bootstrap_servers},
        http={"allow_private_networks": True, "per_host_concurrency": 256,
              "global_concurrency": 256, "total_timeout": "10s"},
        poller={"min_interval": "0.25s", "concurrency": 256},
    )
    ensure_topics(settings.kafka)
    os.sched_setaffinity(0, {0})
    source = PollerSource(settings, install_signals=False)
    polls_log = PollLog()
    source.observers.append(polls_log)
    runner = threading.Thread(target=source.run, name="poller")
    runner.start()

    def polls() -> float:
        return sum(s.value for m in source.metrics.polls.collect() for s in m.samples
                   if s.name.endswith("_total"))

    # Steady state: past every feed's first poll (a full body, parsed), whatever it takes.
    started = time.monotonic()
    while time.monotonic() - started < args.warmup or polls() < 2 * FEEDS:
        time.sleep(1.0)
    warmup_s = time.monotonic() - started

    p0, c0, w0 = polls(), resource.getrusage(resource.RUSAGE_SELF), time.time()
    time.sleep(MEASURE_S)
    p1, c1, w1 = polls(), resource.getrusage(resource.RUSAGE_SELF), time.time()
    rss_kb = c1.ru_maxrss
    source.stop()
    runner.join(60)
    records = item_delays(settings.kafka.bootstrap_servers or "", w0, w1 - 5)
    delays = [ts - appeared for appeared, ts in records.values()]
    # Each item against the gap the poller had planned before the poll that found it.
    matched = [(ts - appeared, polls_log.found[url])
               for url, (appeared, ts) in records.items() if url in polls_log.found]
    excess = [delay - gap for delay, (_, gap, _) in matched]
    gaps = [gap for _, (_, gap, _) in matched]
    late = [lag for start, lag in polls_log.lateness if w0 <= start <= w1]
    broker.stop()
    server.terminate()
    cpu = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
    done = p1 - p0
    result = {
        "feeds": FEEDS, "feed_interval": args.interval, "busy_every_s": args.busy_every,
        "warmup_s": round(warmup_s), "window_s": MEASURE_S,
        "polls_per_s": round(done / (w1 - w0), 1),
        "cpu_ms_per_poll": round(cpu / max(done, 1) * 1000, 3),
        "polls_per_core_s": round(done / cpu) if cpu else None,
        "cpu_utilisation_core0": round(cpu / (w1 - w0), 2),
        "memory_bytes_per_feed": round(per_feed),
        "process_max_rss_mb": round(rss_kb / 1024),
        "item_delay_s": {
            "n": len(delays), "p50": pct(delays, 0.5), "p99": pct(delays, 0.99),
            "max": round(max(delays), 3) if delays else None,
        },
        "planned_gap_s": {"n": len(gaps), "p50": pct(gaps, 0.5), "p99": pct(gaps, 0.99)},
        "item_delay_minus_planned_gap_s": {
            "n": len(excess), "p50": pct(excess, 0.5), "p99": pct(excess, 0.99),
            "max": round(max(excess), 3) if excess else None,
        },
        "poll_lateness_s": {
            "n": len(late), "p50": pct(late, 0.5), "p99": pct(late, 0.99),
            "max": round(max(late), 3) if late else None,
        },
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} vCPU",
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }
    print(f"{'metric':32} value")
    for key, value in result.items():
        print(f"{key:32} {value}")
    out = Path(__file__).resolve().parent / "results" / args.out
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
