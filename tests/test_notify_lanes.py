"""Lanes: one subscription's due rows sent one after another from one claim, in order,
stopping at a failure or at half the lease, with the unsent rows given back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests import test_notify_receivers
from tests.test_notify_receivers import (
    Receiver,
    make_alert,
    make_sub,
    notify_settings,
    plan,
)
from workers.notify.channels import Senders
from workers.notify.dispatcher import Dispatcher, RetryPolicy
from workers.notify.ledger import Ledger

pytestmark = pytest.mark.timeout(60)
receivers = test_notify_receivers.receivers  # the loopback receivers fixture, shared


def plan_five(ledger: Ledger, rx: Receiver, t: float) -> list[str]:
    """Five alerts for one subscription, planned one second apart (their order)."""
    sub = make_sub("s1", "webhook", rx.url)
    ids = []
    for n in range(5):
        ids += plan(ledger, make_alert(alert_id=f"alert-{n}"), [sub],
                    now=datetime.fromtimestamp(t + n, UTC), deadline_s=3600.0)
    return ids


def one_step(
    ledger: Ledger, rx: Receiver, clock: Callable[[], float], *, lease_s: float = 60.0,
) -> int:
    """Run one dispatcher step and its lanes to the end; return the rows it claimed."""
    sub = make_sub("s1", "webhook", rx.url)

    async def main() -> int:
        senders = Senders(notify_settings())
        d = Dispatcher(ledger, {"s1": sub}.get, senders, RetryPolicy(10.0, 20.0, 3600.0),
                       clock=clock, lease_s=lease_s)
        try:
            started = await d.step()
            await d.drain()
        finally:
            await senders.close()
        return started

    return asyncio.run(main())


def test_a_subscriptions_due_rows_go_out_in_order_from_one_claim(
    tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    rx = receivers()
    ledger = Ledger(tmp_path / "l.sqlite3")
    t = time.time() - 60
    ids = plan_five(ledger, rx, t)
    assert one_step(ledger, rx, time.time) == 5
    assert [r.headers["webhook-id"] for r in rx.requests] == ids
    assert ledger.counts() == {"delivered": 5}


def test_a_lane_stops_at_a_failure_and_gives_the_rest_back_due_at_once(
    tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    rx = receivers(script=[200, 503])
    ledger = Ledger(tmp_path / "l.sqlite3")
    t = time.time() - 60
    ids = plan_five(ledger, rx, t)
    now = time.time()
    assert one_step(ledger, rx, lambda: now) == 5
    assert [r.headers["webhook-id"] for r in rx.requests] == ids[:2]
    rows = [ledger.get(i) for i in ids]
    assert [(r.status, r.attempts) for r in rows if r] == [
        ("delivered", 1), ("pending", 1), ("pending", 0), ("pending", 0), ("pending", 0)]
    assert all(r.next_attempt == now for r in rows[2:] if r)  # given back, due now
    assert rows[1] is not None
    assert rows[1].next_attempt >= now + 5  # the failed one waits for its backoff
    # the given-back rows are claimable again at once
    assert {d.delivery_id for d in ledger.claim_due(now, "other", 60.0, [], 10,
                                                    per_subscription=5)} == set(ids[2:])


def test_a_lane_sends_only_in_the_first_half_of_its_lease(
    tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    rx = receivers()
    ledger = Ledger(tmp_path / "l.sqlite3")
    t = time.time() - 60
    ids = plan_five(ledger, rx, t)
    start = time.time()

    def clock() -> float:
        # each request seen by the receiver moves the clock on by 20 s: the second row
        # would start 20 s into a 30 s lease, past its half
        return start + 20.0 * len(rx.requests)

    assert one_step(ledger, rx, clock, lease_s=30.0) == 5
    assert [r.headers["webhook-id"] for r in rx.requests] == ids[:1]
    assert ledger.counts() == {"delivered": 1, "pending": 4}
    (again, *_) = ledger.claim_due(start + 20.0, "other", 30.0, [], 10, per_subscription=5)
    assert again.delivery_id == ids[1]
