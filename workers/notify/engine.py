"""The notify process's delivery thread: an event loop running the `Dispatcher`.

`DeliveryEngine` is started by the notify stage and stopped at its close.
Its thread owns its own ledger connection, the HTTP session, the producer of
`news.deliveries` records and a view of that topic, through which it learns
deliveries settled by other hosts and `deliveries retry` requests. When
`notify.serve_api` is set, the same loop also serves the subscriptions API.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence

import structlog

from ingest.core.models import DeliveryRecord, Subscription
from ingest.core.settings import Settings
from ingest.core.topics import DELIVERIES
from workers.notify.channels import Senders
from workers.notify.dispatcher import Dispatcher, RetryPolicy
from workers.notify.keyed_view import KeyedView, KeyedWriter
from workers.notify.ledger import Delivery, Ledger, apply_remote

log = structlog.get_logger()


def owner_is_dead(owner: str) -> bool:
    """True for a lease owner on this host whose process no longer exists.

    Owners on other hosts sharing the file cannot be checked: their leases expire.
    """
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def policy_of(settings: Settings) -> RetryPolicy:
    n = settings.notify
    return RetryPolicy(
        base=n.retry_base.total_seconds(),
        max_delay=n.retry_max_delay.total_seconds(),
        deadline=n.delivery_deadline.total_seconds(),
    )


class DeliveryEngine:
    """Owns the delivery thread. `start()` once, `wake()` after adding rows, `stop()` at close."""

    def __init__(
        self,
        settings: Settings,
        subscription: Callable[[str], Subscription | None],
        *,
        clock: Callable[[], float] = time.time,
        serve_api: Callable[[asyncio.Event], object] | None = None,
        on_tick: Callable[[], object] | None = None,
    ) -> None:
        self.settings = settings
        self.subscription = subscription
        self.clock = clock
        self.serve_api = serve_api
        self.on_tick = on_tick  # e.g. refresh the subscriptions while no alert arrives
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._dispatcher: Dispatcher | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="notify-delivery", daemon=True)
        self._error: BaseException | None = None

    def start(self, timeout: float = 60.0) -> None:
        """Start the thread; return once the ledger records of `news.deliveries` are applied."""
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            raise RuntimeError(f"delivery engine did not start: {self._error!r}")

    def wake(self) -> None:
        if self._loop is not None and self._dispatcher is not None:
            self._loop.call_soon_threadsafe(self._dispatcher.wake)

    def add(self, rows: Sequence[Delivery], timeout: float = 120.0) -> list[str]:
        """Insert planned rows through the delivery thread's ledger, wake it, return new ids.

        Blocks the caller (the stage's thread) until the rows are committed. One
        SQLite writer per process: two threads contending for the write lock lose
        up to 100 ms per collision in SQLite's busy handler.
        """
        loop, dispatcher = self._loop, self._dispatcher
        if loop is None or dispatcher is None:
            raise RuntimeError("delivery engine is not running")

        async def insert() -> list[str]:
            added = dispatcher.ledger.add(rows)
            if added:
                dispatcher.wake()
            return added

        return asyncio.run_coroutine_threadsafe(insert(), loop).result(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            log.exception("delivery_engine_failed")
            raise

    async def _run(self) -> None:
        s = self.settings
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        ledger = Ledger(s.data_dir / s.notify.ledger_file)
        # Records of every process writing this ledger file (this one included) are in it
        # already: the view skips them by their source's prefix, before decoding them.
        shared = f"/news-ingest/notify/{ledger.ledger_id}/"
        source = shared + self.owner
        # Nobody waits for these records, so they can share large batches: the producer's
        # I/O thread costs per request far more than per record.
        writer = KeyedWriter(s.kafka, source, linger_ms=200, batch_size=256 * 1024)
        policy = policy_of(s)

        inbox: list[DeliveryRecord] = []

        def remote(_key: str, record: DeliveryRecord | None) -> None:
            if record is not None and record.status not in ("pending", "failed"):
                inbox.append(record)

        def apply_inbox() -> int:
            applied, now = len(inbox), self.clock()
            rows = [
                (record.status, Delivery(
                    delivery_id=record.delivery_id, subscription_id=record.subscription_id,
                    channel=record.channel, kind=record.kind, alert_ids=tuple(record.alert_ids),
                    items=(), status=record.status, hold_until=None, attempts=record.attempts,
                    next_attempt=now, deadline=now + policy.deadline,
                    last_error=record.last_error, created=now, updated=now,
                ))
                for record in inbox
            ]
            inbox.clear()
            if rows:
                apply_remote(ledger, rows, now)
            return applied

        view = KeyedView(s.kafka, DELIVERIES, DeliveryRecord, on_change=remote,
                         skip_source=shared)
        senders = Senders(s.notify)
        dispatcher = Dispatcher(
            ledger, self.subscription, senders, policy,
            publish=lambda records: writer.put_encoded(DELIVERIES, records),
            clock=self.clock, owner=self.owner, max_in_flight=s.notify.max_in_flight,
            streams=s.notify.requests_per_subscription,
            lease_s=s.notify.request_timeout.total_seconds() * 2 + 5,
        )
        try:
            await asyncio.to_thread(view.refresh)
            apply_inbox()
            released = ledger.release_leases(owner_is_dead, self.clock())
            if released:
                log.info("leases_released", deliveries=released)
            self._dispatcher = dispatcher
            api_task = asyncio.create_task(self._serve(self._stop)) if self.serve_api else None
            self._ready.set()
            tail = asyncio.create_task(self._tail(view, apply_inbox, dispatcher, self._stop))
            await dispatcher.run(self._stop)
            await tail
            if api_task is not None:
                await api_task
        finally:
            await senders.close()
            writer.flush()
            writer.close()
            view.close()
            ledger.close()

    async def _serve(self, stop: asyncio.Event) -> None:
        assert self.serve_api is not None
        result = self.serve_api(stop)
        if asyncio.iscoroutine(result):
            await result

    async def _tail(
        self, view: KeyedView[DeliveryRecord], apply: Callable[[], int], d: Dispatcher,
        stop: asyncio.Event,
    ) -> None:
        """Apply new `news.deliveries` records (retry requests, other hosts' outcomes)."""
        while not stop.is_set():
            # The view's consumer blocks while polling, so it polls in a worker thread;
            # the ledger is only touched here, in the loop's thread.
            await asyncio.to_thread(view.refresh, 2.0)
            if self.on_tick is not None:
                await asyncio.to_thread(self.on_tick)
            if apply():
                d.wake()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.5)
