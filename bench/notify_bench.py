"""Notify: matching cost, topic → webhook latency, throughput with 10% of receivers timing out.

Run: `.venv/bin/python bench/notify_bench.py [--seconds 10] [--rate 100]
[--province-share 0.2] [--scenarios latency,timeouts_10pct] [--out FILE] 2>log`.
Prints a table and writes `bench/results/notify_bench.json` (or `--out`).

- matching: 1,000 subscriptions with mixed filters (10 countries, provinces,
  kinds, minimum severity, actors, minimum sources), `SubscriptionIndex.match`
  over 2,000 alerts, CPU time per alert for all 1,000 subscriptions;
- latency: an embedded broker, the notify stage in this process (the real
  `StreamRunner`, production JSON logging at info on stderr), 1,000 webhook
  subscriptions spread over 20 loopback receivers (aiohttp, in a separate
  process so they do not share the notify process's interpreter lock); alerts
  produced at `--rate` per second for `--seconds`; latency = receiver arrival
  time - time the alert was sent to the topic, per delivery, p50/p99;
  throughput = deliveries that arrived while alerts were being produced, per
  second (a saturated run shows it below the offered rate);
- timeouts: the same with 2 of the 20 receivers (10%) never answering
  (request timeout 1 s): deliveries per second to the healthy receivers, and
  their latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from ingest.core.embedded_broker import start_broker
from ingest.core.envelope import encode, event_id
from ingest.core.kafka_clients import ensure_topics, make_producer
from ingest.core.logs import configure_logging
from ingest.core.models import Alert, Capital, Evidence, Subscription, SubscriptionFilter
from ingest.core.runtime import StreamRunner
from ingest.core.settings import load_settings
from ingest.core.topics import ALERTS, SUBSCRIPTIONS
from workers.notify.filters import SubscriptionIndex
from workers.notify.keyed_view import KeyedWriter
from workers.notify.signing import new_secret
from workers.notify.stage import NotifyStage

# 50 countries: a subscription watches one of them (99%) or all (1%).
COUNTRIES = [
    "AF", "ML", "SO", "YE", "NG", "CD", "SD", "BF", "NE", "MZ", "SY", "IQ", "LY", "ET", "CF",
    "CM", "TD", "SS", "PK", "MM", "CO", "MX", "HT", "UA", "PS", "LB", "KE", "UG", "BI", "RW",
    "AO", "ZW", "ER", "DJ", "MR", "DZ", "TN", "EG", "IR", "TJ", "KG", "UZ", "PH", "ID", "TH",
    "IN", "BD", "NP", "LK", "VE",
]
KINDS = ["threatened", "entered", "captured"]
RESULTS = Path(__file__).parent / "results" / "notify_bench.json"
T0 = time.time()


def make_subs(
    n: int, urls: list[str], rng: random.Random, province_share: float = 0.2
) -> list[Subscription]:
    """`province_share` of the subscriptions also watch one of 30 provinces (fewer matches)."""
    subs = []
    for i in range(n):
        r = rng.random()
        f = SubscriptionFilter(
            countries=[rng.choice(COUNTRIES)] if r < 0.99 else [],
            provinces=[f"Province{rng.randrange(30)}"] if r < province_share else [],
            min_kind=rng.choice([None, "entered", "captured"]),
            actors=["Taliban"] if rng.random() < 0.3 else [],
            min_sources=rng.choice([1, 1, 1, 2]),
        )
        subs.append(Subscription(
            subscription_id=f"sub-{i:04d}", name=f"bench {i}", channel="webhook",
            target=urls[i % len(urls)], secret=new_secret(), filters=f,
            created_at=_dt(), updated_at=_dt(),
        ))
    return subs


def _dt() -> Any:
    from datetime import UTC, datetime  # noqa: PLC0415

    return datetime.now(UTC)


def make_alert(i: int, rng: random.Random, sent_at: float | None = None) -> Alert:
    country = rng.choice(COUNTRIES)
    sources = rng.choice([1, 2, 3])
    return Alert(
        alert_id=f"bench-{i}", kind=rng.choice(KINDS), actor=rng.choice(["Taliban", "JNIM"]),
        capital=Capital(place_id=f"p-{country}-{i % 30}", name=f"City{i % 30}",
                        province=f"Province{i % 30}", country=country, lat=0.0, lon=0.0),
        confidence=0.9, reported_at=_dt(), detected_at=_dt(),
        evidence=[Evidence(article_id=f"a{i}-{s}", url=f"https://o{s}.example/{i}",
                           source=f"Outlet {s}", sentence=f"sent_at={sent_at}",
                           published=_dt()) for s in range(sources)],
    )


def bench_matching(rng: random.Random, province_share: float = 0.2) -> dict[str, float]:
    subs = make_subs(1000, ["https://x.example/hook"], rng, province_share)
    index = SubscriptionIndex(subs)
    alerts = [make_alert(i, rng) for i in range(2000)]
    times, matched = [], 0
    for alert in alerts:
        t = time.perf_counter()
        matched += len(index.match(alert))
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {"mean_ms": statistics.fmean(times), "p99_ms": times[int(len(times) * 0.99)],
            "matches_per_alert": matched / len(alerts)}


def _serve_receivers(n: int, dead: int, conn: Any) -> None:
    """The receivers' process: `n` aiohttp servers; answers the parent's "stop" with results."""
    arrivals: list[tuple[int, float, float]] = []  # (receiver, arrival time, latency s)
    peers: set[tuple[str, int]] = set()

    def handler(i: int) -> Any:
        async def handle(request: web.Request) -> web.Response:
            body = await request.json()
            if request.transport is not None:
                peers.add(request.transport.get_extra_info("peername"))
            if i < dead:
                await asyncio.sleep(3600)
            sentence = body["data"]["evidence"][0]["sentence"]
            sent = float(sentence.split("=", 1)[1])
            now = time.time()
            arrivals.append((i, now, now - sent))
            return web.Response(text="ok")
        return handle

    async def main() -> None:
        urls = []
        for i in range(n):
            app = web.Application()
            app.router.add_post("/hook", handler(i))
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            urls.append(f"http://127.0.0.1:{runner.addresses[0][1]}/hook")
        conn.send(urls)
        await asyncio.to_thread(conn.recv)  # "stop"
        conn.send({"arrivals": arrivals, "connections": len(peers)})

    asyncio.run(main())


class Receivers:
    """Loopback webhook receivers in a child process; `finish()` returns what arrived."""

    def __init__(self, n: int, dead: int) -> None:
        self.dead = dead
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve_receivers, args=(n, dead, child), daemon=True)
        self._proc.start()
        self.urls: list[str] = self._conn.recv()

    def finish(self) -> dict[str, Any]:
        self._conn.send("stop")
        result: dict[str, Any] = self._conn.recv()
        self._proc.kill()
        self._proc.join(10)
        return result


def _produce_alerts(bootstrap: str, n: int, rate: float, seed: int, conn: Any) -> None:
    """The alert worker's stand-in, in its own process: `n` alerts at `rate` per second."""
    kafka = load_settings(None, kafka={"bootstrap_servers": bootstrap}).kafka
    producer = make_producer(kafka, "bench")
    rng = random.Random(seed)
    conn.send("ready")
    conn.recv()
    start = time.time()
    for i in range(n):
        if (pause := start + i / rate - time.time()) > 0:
            time.sleep(pause)
        alert = make_alert(i, rng, sent_at=time.time())
        headers, value = encode(alert, source="/bench", id=event_id("b", alert.alert_id))
        producer.send(ALERTS.name, key=alert.capital.place_id.encode(), value=value,
                      headers=headers)
    producer.flush()
    conn.send((start, time.time()))


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bench_delivery(
    seconds: float, rate: float, dead: int, rng: random.Random, *,
    province_share: float = 0.2, drain: float = 5.0,
) -> dict[str, Any]:
    broker = start_broker()
    tmp = Path(tempfile.mkdtemp(prefix="notify-bench-"))
    try:
        settings = load_settings(None, data_dir=tmp, kafka={
            "bootstrap_servers": broker.bootstrap_servers, "max_poll_records": 500},
            notify={"stdout": False, "allow_private_targets": True,
                    "request_timeout": "1s", "retry_base": "1s", "delivery_deadline": "60s"})
        ensure_topics(settings.kafka)
        rx = Receivers(20, dead)
        dead_ports = {int(u.rsplit(":", 1)[1].split("/")[0]) for u in rx.urls[:dead]}
        writer = KeyedWriter(settings.kafka, "/bench")
        subs = make_subs(1000, rx.urls, rng, province_share)
        index = SubscriptionIndex(subs)
        for sub in subs:
            writer.put(SUBSCRIPTIONS, sub.subscription_id, sub, wait=False)
        writer.flush()
        stage = NotifyStage(settings)
        runner = StreamRunner(settings, stage, install_signals=False)
        thread = threading.Thread(target=runner.run, daemon=True)
        thread.start()
        time.sleep(8)  # group join and subscriptions view
        n = int(seconds * rate)
        seed = rng.randrange(1 << 30)
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_produce_alerts,
                           args=(broker.bootstrap_servers, n, rate, seed, child), daemon=True)
        proc.start()
        parent.recv()  # the producer is connected
        cpu0 = _cpu_s()
        parent.send("go")
        start, end = parent.recv()
        proc.join(30)
        replay = random.Random(seed)  # the same alerts again, to count who should get them
        expected = sum(
            1 for i in range(n) for sub in index.match(make_alert(i, replay))
            if int(sub.target.rsplit(":", 1)[1].split("/")[0]) not in dead_ports)
        time.sleep(max(0.0, end + drain - time.time()))
        cpu = _cpu_s() - cpu0
        runner.stop()
        thread.join(60)
        got = rx.finish()
        healthy = [(at, lat) for r, at, lat in got["arrivals"] if r >= dead]
        in_window = sum(1 for at, _ in healthy if at <= end)
        lat = sorted(lat for _, lat in healthy)
        return {
            "alerts": n, "deliveries_expected_to_healthy": expected,
            "deliveries_to_healthy": len(healthy),
            "deliveries_per_s": in_window / (end - start),
            "produce_s": end - start,
            "offered_per_s": expected / (end - start),
            "p50_ms": lat[len(lat) // 2] * 1000 if lat else None,
            "p99_ms": lat[int(len(lat) * 0.99)] * 1000 if lat else None,
            "max_ms": lat[-1] * 1000 if lat else None,
            "receiver_connections": got["connections"],
            # CPU of this process (notify stage, its threads, the alert producer) per delivery:
            # a figure the other load on a shared machine does not change much
            "cpu_ms_per_delivery": cpu * 1000 / max(len(healthy), 1),
        }
    finally:
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--province-share", type=float, default=0.2,
                        help="share of subscriptions that also filter on one province")
    parser.add_argument("--scenarios", default="latency,timeouts_10pct")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--switch-interval", type=float, default=None,
                        help="sys.setswitchinterval for this process (default: Python's 5 ms)")
    args = parser.parse_args()
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    configure_logging("info", "json")
    rng = random.Random(7)
    results: dict[str, Any] = {
        "matching": bench_matching(rng, args.province_share),
        "seconds": args.seconds, "rate": args.rate, "province_share": args.province_share,
    }
    scenarios = args.scenarios.split(",")
    for name, dead in (("latency", 0), ("timeouts_10pct", 2)):
        if name in scenarios:
            results[name] = bench_delivery(args.seconds, args.rate, dead, rng,
                                           province_share=args.province_share)
    m = results["matching"]
    print(f"{'measure':<44}{'value':>12}")
    print(f"{'match 1,000 subs, mean ms/alert':<44}{m['mean_ms']:>12.3f}")
    print(f"{'match 1,000 subs, p99 ms/alert':<44}{m['p99_ms']:>12.3f}")
    print(f"{'matching subscriptions per alert':<44}{m['matches_per_alert']:>12.1f}")
    for name in ("latency", "timeouts_10pct"):
        if name not in results:
            continue
        r = results[name]
        print(f"{name + ': offered deliveries/s (healthy)':<44}{r['offered_per_s']:>12.1f}")
        print(f"{name + ': deliveries/s (healthy receivers)':<44}{r['deliveries_per_s']:>12.1f}")
        print(f"{name + ': p50 ms':<44}{r['p50_ms'] or float('nan'):>12.1f}")
        print(f"{name + ': p99 ms':<44}{r['p99_ms'] or float('nan'):>12.1f}")
        print(f"{name + ': CPU ms per delivery (notify process)':<44}"
              f"{r['cpu_ms_per_delivery']:>12.3f}")
        print(f"{name + ': delivered / expected':<44}"
              f"{r['deliveries_to_healthy']:>6}/{r['deliveries_expected_to_healthy']:<5}")
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
