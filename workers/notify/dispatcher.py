"""The delivery engine: sends due ledger rows, retries with backoff, dead-letters at the deadline.

`Dispatcher` lives in one asyncio event loop (its own thread in the notify
process). Each `step()` settles the attempts finished since the last step,
folds due digests, leases due rows (at most one in flight per subscription, so
a slow or dead receiver only ever occupies its own slot) and starts one task
per row. Finished attempts are settled in batches: one ledger transaction, one
`news.deliveries` record each, one log line per batch. A subscription stays
busy until its attempt is in the ledger, so its next row is planned from the
recorded outcome. A crash after a send and before its batch is written sends
that delivery again, with the same idempotency key, as a crash mid-request would.
The clock is injected, so tests decide what time it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from ingest.core.envelope import event_id
from ingest.core.models import DeliveryRecord, Subscription
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


def record_of(
    d: Delivery, status: str, attempts: int, error: str | None, now: float
) -> DeliveryRecord:
    published = "failed" if status == "pending" and attempts else status
    return DeliveryRecord(
        delivery_id=d.delivery_id, subscription_id=d.subscription_id,
        channel=d.channel, kind=d.kind, alert_ids=list(d.alert_ids), status=published,
        attempts=attempts, last_error=error,
        created_at=datetime.fromtimestamp(d.created, UTC),
        updated_at=datetime.fromtimestamp(now, UTC),
    )


class Dispatcher:
    """Sends what the ledger says is due. Create and use inside one event loop."""

    def __init__(
        self,
        ledger: Ledger,
        subscription: Callable[[str], Subscription | None],
        senders: Senders,
        policy: RetryPolicy,
        *,
        publish: Callable[[DeliveryRecord], None] | None = None,
        clock: Callable[[], float] = time.time,
        owner: str = "notify",
        max_in_flight: int = 256,
        lease_s: float = 60.0,
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
        self._finished: list[tuple[Delivery, SendResult, float]] = []
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
        due = self.ledger.claim_due(now, self.owner, self.lease_s, sorted(self._busy), free)
        for d in due:
            self._busy.add(d.subscription_id)
            task = asyncio.create_task(self._deliver(d))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(due)

    async def run(self, stop: asyncio.Event, idle: float = 0.05, gather: float = 0.01) -> None:
        """Step until `stop` is set, then wait for the deliveries in flight.

        After a wake-up it lets `gather` seconds pass, so that one step settles and
        claims the work of many finished deliveries (a few ms of latency for far
        fewer ledger transactions under load).
        """
        while not stop.is_set():
            await self.step()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=idle)
            await asyncio.sleep(gather)
        await self.drain()

    async def drain(self) -> None:
        """Wait for the deliveries in flight and settle them."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        self.settle()

    async def _deliver(self, d: Delivery) -> None:
        settled = False
        try:
            sub = self.subscription(d.subscription_id)
            now = self.clock()
            if sub is not None and sub.paused:
                self.ledger.postpone(d.delivery_id, now + 30.0)
                return
            if sub is None:
                result = SendResult(ok=False, error="subscription removed", permanent=True)
            else:
                result = await self.senders.send(sub, d, datetime.fromtimestamp(now, UTC))
            self._finished.append((d, result, self.clock()))
            settled = True
        finally:
            if not settled:  # nothing to record: the slot is free at once
                self._busy.discard(d.subscription_id)
            self._wake.set()

    def settle(self) -> int:
        """Write the finished attempts to the ledger in one transaction, then publish them.

        Frees their subscriptions' slots; returns how many were settled.
        """
        if not self._finished:
            return 0
        finished, self._finished = self._finished, []
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
        for (d, result, now), status in zip(finished, statuses, strict=True):
            self._busy.discard(d.subscription_id)
            counts[status] = counts.get(status, 0) + 1
            attempt = d.attempts + 1
            # Successes are counted in the batch line; failures stay visible one by one.
            level = log.debug if result.ok else log.warning if status == "dead" else log.info
            level(
                "delivery_attempted", delivery_id=d.delivery_id, subscription_id=d.subscription_id,
                channel=d.channel, kind=d.kind, attempt=attempt, ok=result.ok,
                http_status=result.status, error=result.error, outcome=status,
            )
            if self.publish is not None:
                self.publish(record_of(d, status, attempt, result.error, now))
            if self.on_result is not None:
                self.on_result(d, result)
        log.info("deliveries_settled", attempts=len(finished), **counts)
        return len(finished)
