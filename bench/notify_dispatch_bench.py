"""Notify's delivery path alone: the `Dispatcher` sending planned ledger rows, no broker.

Run: `.venv/bin/python bench/notify_dispatch_bench.py [--deliveries 10000] [--subs 1000]
[--out FILE]`. Plans `--deliveries` webhook deliveries (each alert to 17 of `--subs`
subscriptions) into a fresh ledger, then lets one dispatcher send them all to 20
loopback receivers in a child process. Prints a table (deliveries per second, CPU ms
per delivery of this process, which separates the delivery path from the Kafka
consumer and producer) and writes it to `bench/results/notify_dispatch_bench.json`.
An A/B against another version of `workers/`: run it again with `PYTHONPATH`
pointing at that version (e.g. `git archive HEAD workers | tar -x -C /tmp/base`).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from notify_bench import Receivers, _cpu_s, make_alert, make_subs

from ingest.core.logs import configure_logging
from ingest.core.settings import NotifySettings
from workers.notify.channels import Senders
from workers.notify.dispatcher import Dispatcher, RetryPolicy
from workers.notify.ledger import Ledger
from workers.notify.plan import plan_deliveries


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--subs", type=int, default=1000)
    parser.add_argument("--fanout", type=int, default=17)
    parser.add_argument("--in-flight", type=int, default=256)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "notify_dispatch_bench.json")
    args = parser.parse_args()
    configure_logging("info", "json")
    rng = random.Random(7)
    rx = Receivers(20, 0)
    subs = make_subs(args.subs, rx.urls, rng)
    by_id = {s.subscription_id: s for s in subs}
    ledger = Ledger(Path(tempfile.mkdtemp(prefix="notify-dispatch-")) / "l.sqlite3")
    now = datetime.now(UTC)
    rows = []
    for i in range(args.deliveries // args.fanout):
        alert = make_alert(i, rng, sent_at=time.time())
        rows += plan_deliveries(alert, "news.alert.v1", rng.sample(subs, args.fanout), now=now,
                                deadline_s=600, already_told=lambda _s, _a: False)
    ledger.add(rows)
    settings = NotifySettings(allow_private_targets=True, request_timeout=5,
                              max_in_flight=args.in_flight)

    async def run() -> tuple[float, float]:
        senders = Senders(settings)
        d = Dispatcher(ledger, by_id.get, senders, RetryPolicy(1, 5, 600),
                       max_in_flight=args.in_flight)
        stop = asyncio.Event()
        task = asyncio.create_task(d.run(stop))
        cpu0, t0 = _cpu_s(), time.perf_counter()
        while ledger.counts().get("delivered", 0) < len(rows):
            await asyncio.sleep(0.2)
        wall, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
        stop.set()
        await task
        await senders.close()
        return wall, cpu

    load_start = os.getloadavg()
    wall, cpu = asyncio.run(run())
    got = rx.finish()
    result = {
        "deliveries": len(rows), "received": len(got["arrivals"]),
        "receiver_connections": got["connections"], "duplicates": got["duplicates"],
        "deliveries_per_s": len(rows) / wall, "cpu_ms_per_delivery": cpu * 1000 / len(rows),
        "workers_from": str(Path(inspect.getfile(Senders)).parents[2]),  # which version ran
        "load_average_start": load_start, "load_average_end": os.getloadavg(),
    }
    print(f"{'measure':<40}{'value':>12}")
    print(f"{'deliveries sent / received':<40}{len(rows):>6}/{len(got['arrivals']):<5}")
    print(f"{'receiver connections':<40}{got['connections']:>12}")
    print(f"{'deliveries/s (wall clock)':<40}{result['deliveries_per_s']:>12.0f}")
    print(f"{'CPU ms per delivery (this process)':<40}{result['cpu_ms_per_delivery']:>12.3f}")
    print(f"{'load average at the end (1, 5, 15 min)':<40}"
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg()):>16}")
    print(f"workers/ from {result['workers_from']}")
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
