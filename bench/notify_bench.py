"""Notify: matching cost, topic → webhook latency, throughput with 10% of receivers timing out.

Run: `.venv/bin/python bench/notify_bench.py [--seconds 10] [--rate 100] [--processes 1]
[--province-share 0.2] [--scenarios latency,timeouts_10pct] [--out FILE] 2>log`.
Prints a table and writes `bench/results/notify_bench.json` (or `--out`).

- matching: 1,000 subscriptions with mixed filters (10 countries, provinces,
  kinds, minimum severity, actors, minimum sources), `SubscriptionIndex.match`
  over 2,000 alerts, CPU time per alert for all 1,000 subscriptions;
- latency: an embedded broker, `--processes` notify processes (each the real
  `StreamRunner` with the notify stage, production JSON logging at info on
  stderr, one consumer group, one shared ledger file), 1,000 webhook
  subscriptions spread over 20 loopback receivers (aiohttp, in a separate
  process so they do not share the notify process's interpreter lock); alerts
  produced at `--rate` per second for `--seconds`; latency = receiver arrival
  time - time the alert was sent to the topic, per delivery, p50/p99;
  throughput = deliveries that arrived while alerts were being produced, per
  second (a saturated run shows it below the offered rate); CPU = the notify
  processes' CPU time per delivery; duplicates = requests to a healthy
  receiver with a webhook-id it had already received (a request that timed
  out on the sender's side and was sent again; never a second delivery id);
- timeouts: the same with 2 of the 20 receivers (10%) never answering
  (request timeout 1 s): deliveries per second to the healthy receivers, and
  their latency;
- backlog (`--backlog N`, e.g. `--scenarios none --backlog 500`): capacity. N alerts
  are on the topic before the notify processes start; CPU per delivery and
  deliveries per CPU second until all have arrived (request timeout 10 s),
  which a shared machine's other load disturbs least.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import re
import resource
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from kafka import KafkaAdminClient

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


_SENT_AT = re.compile(rb"sent_at=([0-9.]+)")


def _serve_receivers(n: int, dead: int, conn: Any) -> None:
    """The receivers' process: `n` aiohttp servers; answers the parent's "stop" with results."""
    arrivals: list[tuple[int, float, float]] = []  # (receiver, arrival time, latency s)
    peers: set[tuple[str, int]] = set()
    ids: list[str] = []

    def handler(i: int) -> Any:
        async def handle(request: web.Request) -> web.Response:
            # The send time is read from the raw body: receivers share the two
            # cores with the notify processes, and decoding every alert's JSON
            # here would take CPU from what is being measured.
            body = await request.read()
            if i >= dead:  # a dead receiver's requests are retried by design
                ids.append(request.headers.get("webhook-id", ""))
            if request.transport is not None:
                peers.add(request.transport.get_extra_info("peername"))
            if i < dead:
                await asyncio.sleep(3600)
            found = _SENT_AT.search(body)
            sent = float(found.group(1)) if found else float("nan")
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
        while await asyncio.to_thread(conn.recv) == "count":  # until "stop"
            conn.send(len(arrivals))
        conn.send({"arrivals": arrivals, "connections": len(peers),
                   "duplicates": len(ids) - len(set(ids)), "cpu_s": _cpu_s()})

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

    def count(self) -> int:
        self._conn.send("count")
        return int(self._conn.recv())

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


def _run_notify(overrides: dict[str, Any], start_on_go: bool, conn: Any) -> None:
    """One notify process: the stage on the real `StreamRunner`; reports its CPU seconds
    between the parent's "go" and "stop". The runner starts at once, or at "go"."""
    configure_logging("info", "json")
    settings = load_settings(None, **overrides)
    stage = NotifyStage(settings)
    runner = StreamRunner(settings, stage, install_signals=False)
    thread = threading.Thread(target=runner.run, daemon=True)
    if not start_on_go:
        thread.start()
    conn.send("started")
    conn.recv()  # "go"
    cpu0 = _cpu_s()
    if start_on_go:
        thread.start()
    conn.recv()  # "stop"
    cpu = _cpu_s() - cpu0
    runner.stop()
    thread.join(60)
    conn.send(cpu)


class NotifyProcesses:
    """`n` notify processes in one consumer group; `cpu()` sums their CPU since `go()`."""

    def __init__(self, n: int, overrides: dict[str, Any], *, start_on_go: bool = False) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conns, self._procs = [], []
        for _ in range(n):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_run_notify, args=(overrides, start_on_go, child),
                               daemon=True)
            proc.start()
            self._conns.append(parent)
            self._procs.append(proc)
        for conn in self._conns:
            conn.recv()  # "started"

    def go(self) -> None:
        for conn in self._conns:
            conn.send("go")

    def stop(self) -> list[float]:
        """Stop them all; return each one's CPU seconds since `go()`."""
        for conn in self._conns:
            conn.send("stop")
        cpu = [float(conn.recv()) for conn in self._conns]
        for proc in self._procs:
            proc.join(30)
        return cpu


def wait_for_group(bootstrap: str, group: str, members: int, timeout: float = 90.0) -> None:
    """Until the consumer group is stable with `members` members (all partitions assigned)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    # Tansu answers with authorized-operation bits kafka-python cannot name: keep them raw.
    admin._process_acl_operations = lambda obj: obj
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            info = admin.describe_groups([group]).get(group) or {}
            state = info.get("group_state") or info.get("state")
            if state == "Stable" and len(info.get("members") or []) == members:
                return
            time.sleep(0.5)
        raise RuntimeError(f"group {group} not stable with {members} members: {info}")
    finally:
        admin.close()


def _bench_settings(bootstrap: str, data_dir: Path, **notify: str) -> dict[str, Any]:
    """Setting overrides of the notify processes: this broker and folder, loopback targets."""
    return {
        "data_dir": data_dir,
        "kafka": {"bootstrap_servers": bootstrap, "max_poll_records": 500},
        "notify": {"stdout": False, "allow_private_targets": True, **notify},
    }


def bench_delivery(
    seconds: float, rate: float, dead: int, rng: random.Random, *,
    province_share: float = 0.2, drain: float = 5.0, processes: int = 1,
) -> dict[str, Any]:
    broker = start_broker()
    tmp = Path(tempfile.mkdtemp(prefix="notify-bench-"))
    try:
        overrides = _bench_settings(broker.bootstrap_servers, tmp, request_timeout="1s",
                                    retry_base="1s", delivery_deadline="60s")
        settings = load_settings(None, **overrides)
        ensure_topics(settings.kafka)
        rx = Receivers(20, dead)
        dead_ports = {int(u.rsplit(":", 1)[1].split("/")[0]) for u in rx.urls[:dead]}
        writer = KeyedWriter(settings.kafka, "/bench")
        subs = make_subs(1000, rx.urls, rng, province_share)
        index = SubscriptionIndex(subs)
        for sub in subs:
            writer.put(SUBSCRIPTIONS, sub.subscription_id, sub, wait=False)
        writer.flush()
        notify = NotifyProcesses(processes, overrides)
        wait_for_group(broker.bootstrap_servers, f"news-ingest.{NotifyStage.name}", processes)
        n = int(seconds * rate)
        seed = rng.randrange(1 << 30)
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_produce_alerts,
                           args=(broker.bootstrap_servers, n, rate, seed, child), daemon=True)
        proc.start()
        parent.recv()  # the producer is connected
        notify.go()
        parent.send("go")
        start, end = parent.recv()
        proc.join(30)
        replay = random.Random(seed)  # the same alerts again, to count who should get them
        expected = sum(
            1 for i in range(n) for sub in index.match(make_alert(i, replay))
            if int(sub.target.rsplit(":", 1)[1].split("/")[0]) not in dead_ports)
        time.sleep(max(0.0, end + drain - time.time()))
        cpus = notify.stop()
        cpu = sum(cpus)
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
            # the receivers' process, start-up included: what the harness takes from notify
            "receivers_cpu_s": got["cpu_s"],
            "duplicates": got["duplicates"],
            "processes": processes,
            # CPU of the notify processes per delivery (during the run and its drain):
            # a figure the other load on a shared machine does not change much
            "cpu_ms_per_delivery": cpu * 1000 / max(len(healthy), 1),
            "cpu_s_per_process": cpus,
            "p99_ms_by_second_sent": _p99_by_second(healthy, start),
        }
    finally:
        broker.stop()


def _p99_by_second(arrivals: list[tuple[float, float]], start: float) -> list[float]:
    """p99 latency (ms) of the deliveries of the alerts sent in each second of the run:
    shows whether a high p99 is a start-up transient, a steady backlog or a few stalls."""
    by_second: dict[int, list[float]] = {}
    for at, latency in arrivals:
        by_second.setdefault(int(at - latency - start), []).append(latency)
    return [round(sorted(lat)[int(len(lat) * 0.99)] * 1000)
            for _, lat in sorted(by_second.items())]


def bench_backlog(
    alerts: int, rng: random.Random, *, province_share: float = 0.2, processes: int = 1,
    timeout: float = 300.0,
) -> dict[str, Any]:
    """Capacity: `alerts` already on the topic, then the notify processes start; CPU and
    wall time until every delivery has arrived (no latency: the alerts waited on purpose)."""
    broker = start_broker()
    tmp = Path(tempfile.mkdtemp(prefix="notify-bench-"))
    try:
        overrides = _bench_settings(broker.bootstrap_servers, tmp)
        settings = load_settings(None, **overrides)
        ensure_topics(settings.kafka)
        rx = Receivers(20, 0)
        writer = KeyedWriter(settings.kafka, "/bench")
        subs = make_subs(1000, rx.urls, rng, province_share)
        index = SubscriptionIndex(subs)
        for sub in subs:
            writer.put(SUBSCRIPTIONS, sub.subscription_id, sub, wait=False)
        writer.flush()
        seed = rng.randrange(1 << 30)
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_produce_alerts,
                           args=(broker.bootstrap_servers, alerts, 1e9, seed, child), daemon=True)
        proc.start()
        parent.recv()
        parent.send("go")
        parent.recv()
        proc.join(30)
        replay = random.Random(seed)
        expected = sum(len(index.match(make_alert(i, replay))) for i in range(alerts))
        notify = NotifyProcesses(processes, overrides, start_on_go=True)
        notify.go()
        t0 = time.time()
        while (got := rx.count()) < expected and time.time() - t0 < timeout:
            time.sleep(0.2)
        wall = time.time() - t0
        cpus = notify.stop()
        result = rx.finish()
        cpu_ms = sum(cpus) * 1000 / max(got, 1)
        return {
            "alerts": alerts, "deliveries_expected": expected, "deliveries": got,
            "duplicates": result["duplicates"], "processes": processes,
            "wall_s": wall, "deliveries_per_s": got / wall,
            "cpu_ms_per_delivery": cpu_ms, "cpu_s_per_process": cpus,
            "deliveries_per_cpu_s": 1000 / cpu_ms,
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
    parser.add_argument("--backlog", type=int, default=0,
                        help="also measure capacity: this many alerts queued before notify starts")
    parser.add_argument("--processes", type=int, default=1,
                        help="notify processes sharing the alerts' consumer group")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    configure_logging("info", "json")
    rng = random.Random(7)
    results: dict[str, Any] = {
        "matching": bench_matching(rng, args.province_share),
        "seconds": args.seconds, "rate": args.rate, "province_share": args.province_share,
        "processes": args.processes, "load_average": os.getloadavg(),
    }
    scenarios = args.scenarios.split(",")
    for name, dead in (("latency", 0), ("timeouts_10pct", 2)):
        if name in scenarios:
            results[name] = bench_delivery(args.seconds, args.rate, dead, rng,
                                           province_share=args.province_share,
                                           processes=args.processes)
    if args.backlog:
        results["backlog"] = bench_backlog(args.backlog, rng, province_share=args.province_share,
                                           processes=args.processes)
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
        print(f"{name + ': duplicate deliveries':<44}{r['duplicates']:>12}")
        print(f"{name + ': receivers CPU ms per delivery':<44}"
              f"{r['receivers_cpu_s'] * 1000 / max(r['deliveries_to_healthy'], 1):>12.3f}")
    if "backlog" in results:
        b = results["backlog"]
        print(f"{'backlog: deliveries / expected':<44}"
              f"{b['deliveries']:>6}/{b['deliveries_expected']:<5}")
        print(f"{'backlog: deliveries/s (wall clock)':<44}{b['deliveries_per_s']:>12.1f}")
        print(f"{'backlog: CPU ms per delivery (notify)':<44}{b['cpu_ms_per_delivery']:>12.3f}")
        print(f"{'backlog: deliveries per CPU second':<44}{b['deliveries_per_cpu_s']:>12.0f}")
        print(f"{'backlog: duplicate deliveries':<44}{b['duplicates']:>12}")
    print(f"{'notify processes':<44}{args.processes:>12}")
    print(f"{'load average at the end (1, 5, 15 min)':<44}"
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg()):>16}")
    results["load_average_end"] = os.getloadavg()
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
