"""Lanes: one subscription's due rows sent from one claim in streams (by alert), each stream
in order, stopping at a failure or at half the lease, with the unsent rows given back."""

from __future__ import annotations

import asyncio
import threading
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
from workers.notify.dispatcher import Dispatcher, RetryPolicy, split_by_alert
from workers.notify.ledger import Ledger
from workers.notify.rows import Delivery

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
    streams: int = 1,
) -> int:
    """Run one dispatcher step and its lanes to the end; return the rows it claimed."""
    sub = make_sub("s1", "webhook", rx.url)

    async def main() -> int:
        senders = Senders(notify_settings())
        d = Dispatcher(ledger, {"s1": sub}.get, senders, RetryPolicy(10.0, 20.0, 3600.0),
                       clock=clock, lease_s=lease_s, streams=streams)
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


# --- streams: several requests in flight to one subscription, an alert's in order ----


def delivery(n: int, alert: str) -> Delivery:
    return Delivery(f"d{n}", "s1", "webhook", "alert", (alert,), (), "pending", None, 0, 0.0, 1.0)


def test_rows_are_split_by_alert_into_at_most_the_given_streams_each_in_order() -> None:
    rows = [delivery(n, alert) for n, alert in enumerate("abacdbea")]
    streams = split_by_alert(rows, 3)
    assert [[d.delivery_id for d in s] for s in streams] == [
        ["d0", "d2", "d4", "d7"],  # a, a, d, a: alerts a and d
        ["d1", "d5", "d6"],  # b, b, e
        ["d3"],  # c
    ]
    assert split_by_alert(rows, 1) == [rows]
    assert split_by_alert(rows[:1] + rows[2:3], 4) == [rows[:1] + rows[2:3]]  # one alert


def test_a_busy_subscription_has_up_to_streams_requests_in_flight_and_no_more(
    tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    rx = receivers(script=[0] * 5)  # every request hangs until released
    ledger = Ledger(tmp_path / "l.sqlite3")
    ids = plan_five(ledger, rx, time.time() - 60)
    in_flight: list[int] = []

    def release_when_all_wait() -> None:
        deadline = time.monotonic() + 20
        while rx.hits < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # a fifth request, if one were allowed, would arrive by now
        in_flight.append(rx.hits)
        rx.release.set()

    watcher = threading.Thread(target=release_when_all_wait)
    watcher.start()
    assert one_step(ledger, rx, time.time, streams=4) == 5
    watcher.join()
    assert in_flight == [4]
    assert sorted(r.headers["webhook-id"] for r in rx.requests) == sorted(ids)
    assert ledger.counts() == {"delivered": 5}


SOURCES = ("ledger", "courier", "herald")


def test_an_alert_and_its_update_are_sent_in_order_while_other_alerts_go_alongside(
    tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    rx = receivers()
    ledger = Ledger(tmp_path / "l.sqlite3")
    sub = make_sub("s1", "webhook", rx.url)
    t = time.time() - 60
    planned = []  # (webhook id, alert id), in the order they were planned
    told: dict[str, int] = {}  # an update is only sent when it brings another source
    for n, (alert_id, ce_type) in enumerate([
        ("alert-0", "news.alert.v1"), ("alert-1", "news.alert.v1"),
        ("alert-0", "news.alert.updated.v1"), ("alert-2", "news.alert.v1"),
        ("alert-1", "news.alert.updated.v1"), ("alert-0", "news.alert.updated.v1"),
    ]):
        told[alert_id] = told.get(alert_id, 0) + 1
        alert = make_alert(alert_id=alert_id, sources=SOURCES[: told[alert_id]])
        (did,) = plan(ledger, alert, [sub], now=datetime.fromtimestamp(t + n, UTC),
                      ce_type=ce_type, deadline_s=3600.0)
        planned.append((did, alert_id))
    assert one_step(ledger, rx, time.time, streams=3) == 6
    sent = [r.headers["webhook-id"] for r in rx.requests]
    assert sorted(sent) == sorted(did for did, _ in planned)
    for alert_id in ("alert-0", "alert-1"):
        own = [did for did, a in planned if a == alert_id]
        assert [did for did in sent if did in own] == own, alert_id


def test_a_failing_subscription_is_probed_with_one_request_at_a_time(
    tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    rx = receivers(script=[503] * 4 + [0] * 5)  # four failures, then requests that hang
    ledger = Ledger(tmp_path / "l.sqlite3")
    ids = plan_five(ledger, rx, time.time() - 60)
    sub = make_sub("s1", "webhook", rx.url)
    now = [time.time()]
    in_flight_at_retry: list[int] = []

    def release_when_one_waits() -> None:
        deadline = time.monotonic() + 20
        while rx.hits < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # a second request of the retry, if one were allowed, arrives by now
        in_flight_at_retry.append(rx.hits - 4)
        rx.release.set()

    async def main() -> None:
        senders = Senders(notify_settings())
        d = Dispatcher(ledger, {"s1": sub}.get, senders, RetryPolicy(10.0, 20.0, 3600.0),
                       clock=lambda: now[0], streams=4)
        try:
            assert await d.step() == 5
            await d.drain()  # four streams, each failed at its first row
            assert rx.hits == 4
            now[0] += 100.0  # past every backoff
            watcher = threading.Thread(target=release_when_one_waits)
            watcher.start()
            while ledger.counts() != {"delivered": 5}:
                await d.step()
                await d.drain()
            await asyncio.to_thread(watcher.join)
        finally:
            await senders.close()

    asyncio.run(main())
    assert in_flight_at_retry == [1]
    assert {r.headers["webhook-id"] for r in rx.ok()} == set(ids)
