"""Notify: matching cost, topic → webhook latency, throughput with 10% of receivers timing out.

Run: `.venv/bin/python bench/notify_bench.py [--seconds 10] [--rate 100]`. Prints a
table and writes `bench/results/notify_bench.json`.

- matching: 1,000 subscriptions with mixed filters (10 countries, provinces,
  kinds, minimum severity, actors, minimum sources), `SubscriptionIndex.match`
  over 2,000 alerts, CPU time per alert for all 1,000 subscriptions;
- latency: an embedded broker, the notify stage in this process (the real
  `StreamRunner`), 1,000 webhook subscriptions spread over 20 loopback
  receivers (aiohttp, another thread); alerts produced at `--rate` per second
  for `--seconds`; latency = receiver arrival time - time the alert was sent to
  the topic, per delivery, p50/p99;
- timeouts: the same with 2 of the 20 receivers (10%) never answering
  (request timeout 1 s): deliveries per second to the healthy receivers, and
  their latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from ingest.core.embedded_broker import start_broker
from ingest.core.envelope import encode, event_id
from ingest.core.kafka_clients import ensure_topics, make_producer
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


def make_subs(n: int, urls: list[str], rng: random.Random) -> list[Subscription]:
    subs = []
    for i in range(n):
        r = rng.random()
        f = SubscriptionFilter(
            countries=[rng.choice(COUNTRIES)] if r < 0.99 else [],
            provinces=[f"Province{rng.randrange(30)}"] if r < 0.2 else [],
            min_kind=rng.choice([None, "entered", "captured"]),  # type: ignore[arg-type]
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
        alert_id=f"bench-{i}", kind=rng.choice(KINDS), actor=rng.choice(["Taliban", "JNIM"]),  # type: ignore[arg-type]
        capital=Capital(place_id=f"p-{country}-{i % 30}", name=f"City{i % 30}",
                        province=f"Province{i % 30}", country=country, lat=0.0, lon=0.0),
        confidence=0.9, reported_at=_dt(), detected_at=_dt(),
        evidence=[Evidence(article_id=f"a{i}-{s}", url=f"https://o{s}.example/{i}",
                           source=f"Outlet {s}", sentence=f"sent_at={sent_at}",
                           published=_dt()) for s in range(sources)],
    )


def bench_matching(rng: random.Random) -> dict[str, float]:
    subs = make_subs(1000, ["https://x.example/hook"], rng)
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


class Receivers:
    def __init__(self, n: int, dead: int) -> None:
        self.arrivals: list[tuple[int, float]] = []  # (receiver, latency s)
        self.n, self.dead = n, dead
        self.loop = asyncio.new_event_loop()
        self.urls: list[str] = []
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(30)

    async def _start(self) -> None:
        for i in range(self.n):
            app = web.Application()
            app.router.add_post("/hook", self._handler(i))
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.urls.append(f"http://127.0.0.1:{runner.addresses[0][1]}/hook")

    def _handler(self, i: int) -> Any:
        async def handle(request: web.Request) -> web.Response:
            body = await request.json()
            if i < self.dead:
                await asyncio.sleep(3600)
            sentence = body["data"]["evidence"][0]["sentence"]
            sent = float(sentence.split("=", 1)[1])
            self.arrivals.append((i, time.time() - sent))
            return web.Response(text="ok")
        return handle


def bench_delivery(seconds: float, rate: float, dead: int, rng: random.Random) -> dict[str, Any]:
    broker = start_broker()
    tmp = Path(tempfile.mkdtemp(prefix="notify-bench-"))
    try:
        settings = load_settings(None, data_dir=tmp, kafka={
            "bootstrap_servers": broker.bootstrap_servers, "max_poll_records": 500},
            notify={"stdout": False, "allow_private_targets": True,
                    "request_timeout": "1s", "retry_base": "1s", "delivery_deadline": "60s"})
        ensure_topics(settings.kafka)
        rx = Receivers(20, dead)
        writer = KeyedWriter(settings.kafka, "/bench")
        for sub in make_subs(1000, rx.urls, rng):
            writer.put(SUBSCRIPTIONS, sub.subscription_id, sub, wait=False)
        writer.flush()
        stage = NotifyStage(settings)
        runner = StreamRunner(settings, stage, install_signals=False)
        thread = threading.Thread(target=runner.run, daemon=True)
        thread.start()
        time.sleep(8)  # group join and subscriptions view
        producer = make_producer(settings.kafka, "bench")
        n = int(seconds * rate)
        start = time.time()
        for i in range(n):
            due = start + i / rate
            if (pause := due - time.time()) > 0:
                time.sleep(pause)
            alert = make_alert(i, rng, sent_at=time.time())
            headers, value = encode(alert, source="/bench", id=event_id("b", alert.alert_id))
            producer.send(ALERTS.name, key=alert.capital.place_id.encode(), value=value,
                          headers=headers)
        producer.flush()
        time.sleep(5)
        runner.stop()
        thread.join(60)
        healthy = [lat for r, lat in rx.arrivals if r >= dead]
        healthy.sort()
        span = max(seconds, 1.0)
        return {
            "alerts": n, "deliveries_to_healthy": len(healthy),
            "deliveries_per_s": len(healthy) / span,
            "p50_ms": healthy[len(healthy) // 2] * 1000 if healthy else None,
            "p99_ms": healthy[int(len(healthy) * 0.99)] * 1000 if healthy else None,
        }
    finally:
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=100.0)
    args = parser.parse_args()
    rng = random.Random(7)
    results = {"matching": bench_matching(rng),
               "latency": bench_delivery(args.seconds, args.rate, 0, rng),
               "timeouts_10pct": bench_delivery(args.seconds, args.rate, 2, rng),
               "seconds": args.seconds, "rate": args.rate}
    m = results["matching"]
    print(f"{'measure':<44}{'value':>12}")
    print(f"{'match 1,000 subs, mean ms/alert':<44}{m['mean_ms']:>12.3f}")
    print(f"{'match 1,000 subs, p99 ms/alert':<44}{m['p99_ms']:>12.3f}")
    print(f"{'matching subscriptions per alert':<44}{m['matches_per_alert']:>12.1f}")
    for name in ("latency", "timeouts_10pct"):
        r = results[name]
        print(f"{name + ': deliveries/s (healthy receivers)':<44}{r['deliveries_per_s']:>12.1f}")
        print(f"{name + ': p50 ms':<44}{r['p50_ms'] or float('nan'):>12.1f}")
        print(f"{name + ': p99 ms':<44}{r['p99_ms'] or float('nan'):>12.1f}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
