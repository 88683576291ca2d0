"""Notify's delivery path alone: the `Dispatcher` sending planned ledger rows, no broker.

Run: `.venv/bin/python bench/notify_dispatch_bench.py [--deliveries 10000] [--subs 1000]`.
Plans `--deliveries` webhook deliveries (each alert to 17 of `--subs` subscriptions)
into a fresh ledger, then lets one dispatcher send them all to 20 loopback receivers
in a child process. Prints deliveries per second and CPU ms per delivery of this
process, which separates the delivery path from the Kafka consumer and producer.
"""

from __future__ import annotations

import argparse
import asyncio
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

    wall, cpu = asyncio.run(run())
    got = rx.finish()
    print(f"deliveries {len(rows)}, received {len(got['arrivals'])}, "
          f"connections {got['connections']}")
    print(f"deliveries/s {len(rows) / wall:.0f}, CPU ms per delivery {cpu * 1000 / len(rows):.3f}")


if __name__ == "__main__":
    main()
