"""The delivery engine: sends due ledger rows, retries with backoff, dead-letters at the deadline.

`Dispatcher` lives in one asyncio event loop (its own thread in the notify
process). Each `step()` settles the attempts finished since the last step,
folds due digests, leases due rows and starts one task per subscription with
due rows: its lane. A lane claims up to `lane` rows: a subscription that
matches most alerts (100/s in the benchmark) would otherwise wait a whole
step, ~15-30 ms, between two requests, and fall behind for good. It splits
them into up to `streams` streams by alert, so an alert and its updates stay
in one stream, in order; each stream sends its rows one after another. So a
subscription has at most `streams` requests in flight (a slow or dead receiver
only ever occupies its own), and a busy one is not held to one round trip at a
time. A subscription whose last attempt failed gets one stream until an
attempt succeeds: a dead receiver is probed with one request at a time, not
`streams` timeouts at once. A stream has the attempts finished so far recorded
before it sends its next row (so a crash repeats at most the requests in
flight), stops at a failure or once half its lease has passed (the lease must
cover the request in flight), and gives its unsent rows back.

Finished attempts are settled in batches: one ledger transaction, one
`news.deliveries` record each; a log line per failed attempt, and one a second
that counts the outcomes (at 1,000+ deliveries/s, a line per batch was ~1,000
lines/s, each walking the stack for its caller). A subscription stays busy
while its lane runs, and each step records the finished attempts before it
claims, so a subscription's next rows are planned from the recorded outcomes.
A crash after a send and before its batch is written sends that delivery
again, with the same idempotency key, as a crash mid-request would. The clock
is injected, so tests decide what time it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii as _quote

import structlog

from ingest.core.envelope import event_id
from ingest.core.models import Subscription
from workers.notify.channels import Senders, SendResult
from workers.notify.ledger import Delivery, Ledger, Outcome

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter, bounded by a deadline from the delivery's creation."""

    base: float = 2.0
    max_delay: float = 600.0
    deadline: float = 86_400.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Delay after the `attempt`-th failure: half fixed, half random (equal jitter)."""
        full = min(self.max_delay, self.base * 2.0 ** (attempt - 1))
        return full / 2 + rng.uniform(0, full / 2)


def digest_id(subscription_id: str, due: float) -> str:
    return event_id("digest", subscription_id, f"{due:.3f}")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def record_json(d: Delivery, status: str, attempts: int, error: str | None, now: float) -> bytes:
    """The `news.delivery.v1` value (a `DeliveryRecord`) of one attempt's outcome, as JSON.

    Formatted, not built as a model and dumped: this runs once per delivery, and
    the model's validation and serialisation were most of settling's cost.
    A retry still to come is published as `failed`.
    """
    published = "failed" if status == "pending" and attempts else status
    return (
        f'{{"delivery_id":{_quote(d.delivery_id)},"subscription_id":{_quote(d.subscription_id)},'
        f'"channel":{_quote(d.channel)},"kind":{_quote(d.kind)},'
        f'"alert_ids":[{",".join(map(_quote, d.alert_ids))}],"status":"{published}",'
        f'"attempts":{int(attempts)},"last_error":{"null" if error is None else _quote(error)},'
        f'"created_at":"{_iso(d.created)}","updated_at":"{_iso(now)}"}}'
    ).encode()


def split_by_alert(rows: list[Delivery], streams: int) -> list[list[Delivery]]:
    """At most `streams` lists of `rows`, each in the rows' order; the rows of one alert
    (the alert and its updates; a digest counts as the set of alerts it lists) share one."""
    slot: dict[tuple[str, ...], int] = {}
    for d in rows:
        slot.setdefault(d.alert_ids, len(slot) % max(streams, 1))
    split: list[list[Delivery]] = [[] for _ in range(min(streams, len(slot)) or 1)]
    for d in rows:
        split[slot[d.alert_ids]].append(d)
    return split


def pause_until(due: float | None, now: float, least: float, most: float) -> float:
    """Seconds to wait for the row due at `due` (None: no row), kept within [least, most]."""
    if due is None:
        return most
    return min(most, max(least, due - now))


class Dispatcher:
    """Sends what the ledger says is due. Create and use inside one event loop."""

    def __init__(
        self,
        ledger: Ledger,
        subscription: Callable[[str], Subscription | None],
        senders: Senders,
        policy: RetryPolicy,
        *,
        publish: Callable[[list[tuple[str, bytes]]], None] | None = None,
        clock: Callable[[], float] = time.time,
        owner: str = "notify",
        max_in_flight: int = 256,
        lease_s: float = 60.0,
        lane: int = 16,
        streams: int = 4,
        rng: random.Random | None = None,
    ) -> None:
        self.ledger = ledger
        self.subscription = subscription
        self.senders = senders
        self.policy = policy
        self.publish = publish
        self.clock = clock
        self.owner = owner
        self.max_in_flight = max_in_flight
        self.lease_s = lease_s
        self.rng = rng or random.Random()
        self._busy: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self.lane = lane
        self.streams = streams
        self._failing: set[str] = set()  # subscriptions whose last attempt failed
        self._finished: list[tuple[Delivery, SendResult, float]] = []
        self._settles = 0  # settle() calls that recorded something
        self._settling: asyncio.Future[None] | None = None  # a settle lanes wait for
        self._tally: dict[str, int] = {}  # outcomes settled since the last summary line
        self._tallied_at = time.monotonic()
        self.on_result: Callable[[Delivery, SendResult], None] | None = None

    def wake(self) -> None:
        """Ask for a step soon; call from the loop's own thread."""
        self._wake.set()

    async def step(self) -> int:
        """Release due digests and start the due deliveries; return how many started."""
        self.settle()
        now = self.clock()
        self.ledger.release_digests(now, digest_id, self.policy.deadline)
        free = self.max_in_flight - len(self._tasks)
        if free <= 0:
            return 0
        due = self.ledger.claim_due(
            now, self.owner, self.lease_s, sorted(self._busy), free, per_subscription=self.lane
        )
        lanes: dict[str, list[Delivery]] = {}
        for d in due:
            lanes.setdefault(d.subscription_id, []).append(d)
        for sub_id, rows in lanes.items():
            self._busy.add(sub_id)
            task = asyncio.create_task(self._deliver(rows, now + self.lease_s / 2))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(due)

    async def run(
        self, stop: asyncio.Event, idle: float = 0.05, gather: float = 0.01,
        most_idle: float = 0.5,
    ) -> None:
        """Step until `stop` is set, then wait for the deliveries in flight.

        Between steps it waits for a wake-up (new rows, a lane ending) or for the
        next row to come due, so that an idle process does not take the ledger's
        write lock every `idle` seconds: at least `idle` seconds, at most
        `most_idle` (rows that a process sharing the ledger file adds wake that
        process, not this one). After a wake-up it lets `gather` seconds pass, so
        that one step settles and claims the work of many finished deliveries (a
        few ms of latency for far fewer ledger transactions under load).
        """
        while not stop.is_set():
            started = await self.step()
            self._wake.clear()
            pause = idle if started else pause_until(self.ledger.next_due(), self.clock(),
                                                     idle, most_idle)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=pause)
            await asyncio.sleep(gather)
        await self.drain()

    async def drain(self) -> None:
        """Wait for the deliveries in flight and settle them."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        self.settle()
        self._summarise(force=True)

    async def _deliver(self, rows: list[Delivery], send_until: float) -> None:
        """Send one subscription's claimed rows, in streams; free the subscription after."""
        sub_id = rows[0].subscription_id
        try:
            streams = split_by_alert(rows, 1 if sub_id in self._failing else self.streams)
            # Every stream ends (and gives its unsent rows back) before the subscription is free.
            ended = await asyncio.gather(
                *(self._send_in_order(stream, send_until) for stream in streams),
                return_exceptions=True,
            )
            for outcome in ended:
                if isinstance(outcome, BaseException):
                    raise outcome
        finally:
            # Free at once: the next step records this lane's attempts before it claims.
            self._busy.discard(sub_id)
            self._wake.set()

    async def _send_in_order(self, rows: list[Delivery], send_until: float) -> None:
        """Send rows one after another; a row is only sent before `send_until` (half its
        lease), so the lease outlasts the request. Unsent rows are given back."""
        done = 0
        settled_mark = -1
        try:
            for d in rows:
                sub = self.subscription(d.subscription_id)
                now = self.clock()
                if sub is not None and sub.paused:
                    self.ledger.postpone_many([r.delivery_id for r in rows[done:]], now + 30.0)
                    done = len(rows)
                    return
                if done and now >= send_until:
                    return
                if done and self._settles == settled_mark:
                    # The row before is recorded before this one is sent: a crash repeats
                    # at most the requests in flight, as without lanes.
                    await self._settle_soon()
                if sub is None:
                    result = SendResult(ok=False, error="subscription removed", permanent=True)
                else:
                    result = await self.senders.send(sub, d, datetime.fromtimestamp(now, UTC))
                done += 1
                self._finished.append((d, result, self.clock()))
                settled_mark = self._settles
                if not result.ok:
                    return  # the rest is given back, due at once, as after any failed row
        finally:
            if done < len(rows):
                self.ledger.postpone_many([r.delivery_id for r in rows[done:]], self.clock())

    async def _settle_soon(self) -> None:
        """Settle once the lanes resumed in this turn of the loop have finished their rows.

        Lanes whose responses arrive together resume together; settling for the
        first of them at once would write one row per transaction. One settle,
        run after the callbacks already scheduled, records them all (a lane
        waits one turn of the loop for it).
        """
        if self._settling is None:
            loop = asyncio.get_running_loop()
            self._settling = loop.create_future()
            loop.call_soon(self._settle_waited)
        # shielded: a lane cancelled while waiting must not cancel the others' settle
        await asyncio.shield(self._settling)

    def _settle_waited(self) -> None:
        waiting, self._settling = self._settling, None
        assert waiting is not None
        try:
            self.settle()
        except Exception as exc:  # each waiting lane raises it, as a direct settle() would
            waiting.set_exception(exc)
        else:
            waiting.set_result(None)

    def settle(self) -> int:
        """Write the finished attempts to the ledger in one transaction, then publish them;
        return how many were settled."""
        if not self._finished:
            return 0
        finished, self._finished = self._finished, []
        self._settles += 1
        outcomes = []
        for d, result, now in finished:
            next_attempt: float | None = None
            if not result.ok and not result.permanent:
                wait = max(self.policy.backoff(d.attempts + 1, self.rng), result.retry_after or 0.0)
                if now + wait <= d.deadline:
                    next_attempt = now + wait
            outcomes.append(Outcome(d, now, result.ok, result.status, result.error, next_attempt))
        statuses = self.ledger.record_attempts(outcomes)
        counts: dict[str, int] = {}
        records: list[tuple[str, bytes]] = []
        for (d, result, now), status in zip(finished, statuses, strict=True):
            counts[status] = counts.get(status, 0) + 1
            if result.ok:
                self._failing.discard(d.subscription_id)
            else:
                self._failing.add(d.subscription_id)
            attempt = d.attempts + 1
            if not result.ok:  # successes are counted in the batch line; failures one by one
                (log.warning if status == "dead" else log.info)(
                    "delivery_attempted", delivery_id=d.delivery_id,
                    subscription_id=d.subscription_id, channel=d.channel, kind=d.kind,
                    attempt=attempt, ok=False, http_status=result.status, error=result.error,
                    outcome=status,
                )
            if self.publish is not None:
                records.append((d.delivery_id, record_json(d, status, attempt, result.error, now)))
            if self.on_result is not None:
                self.on_result(d, result)
        if self.publish is not None:
            self.publish(records)
        for status, n in counts.items():
            self._tally[status] = self._tally.get(status, 0) + n
        self._summarise()
        return len(finished)

    def _summarise(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if self._tally and (force or now - self._tallied_at >= 1.0):
            log.info("deliveries_settled", attempts=sum(self._tally.values()),
                     seconds=round(now - self._tallied_at, 3), **self._tally)
            self._tally = {}
            self._tallied_at = now
