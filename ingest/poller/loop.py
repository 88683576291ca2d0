"""The poller's scheduling loop: poll owned feeds when due, deliver results in batches.

`PollLoop` lives in one asyncio event loop. It keeps, for each feed it owns,
the feed's config and its state in memory (without emitted keys, which stay
in SQLite and are read only when a changed body is parsed), and a heap of
due times. Up to `concurrency` polls run at once; a slow or hanging feed
holds one slot, never the others. Finished polls are delivered in batches by
the `deliver` callback, run in a worker thread: it must produce the items,
flush them and only then commit the polls' states. A feed is rescheduled
only after its poll was delivered, so it is never polled twice at once, and
`release()` waits for in-flight polls of feeds being given up.

A 429/503 pauses the whole host: its other feeds wait until the pause ends.
"""

from __future__ import annotations

import asyncio
import heapq
import random
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import replace

import structlog
from yarl import URL

from ingest.core.http_client import HttpClient
from ingest.core.settings import FeedConfig
from ingest.poller.health import Health
from ingest.poller.poll import DeliveredEntries, PollResult, poll_feed
from ingest.poller.schedule import PollSchedule
from ingest.poller.state import FeedState

log = structlog.get_logger(__name__)

Deliver = Callable[[list[PollResult]], None]
LoadStates = Callable[[Collection[str]], dict[str, FeedState]]
MAX_BATCH = 2000


class PollLoop:
    """Owns the schedule of the feeds assigned to this process; one event loop only."""

    def __init__(
        self, client: HttpClient, schedule: PollSchedule, *, deliver: Deliver,
        load_states: LoadStates, known: DeliveredEntries, concurrency: int,
        on_delivered: Callable[[list[PollResult]], None] | None = None,
        rng: random.Random | None = None, stop_wait_s: float = 5.0,
    ) -> None:
        self.client, self.schedule = client, schedule
        # At stop, how long polls in flight may finish; a slower one (a dripping
        # server) is abandoned unrecorded, so it is simply polled again at the next
        # start, instead of holding the stop for up to the HTTP total timeout.
        self._stop_wait_s = stop_wait_s
        self._deliver, self._load, self._known = deliver, load_states, known
        self._on_delivered = on_delivered
        self._concurrency = concurrency
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._failure: BaseException | None = None
        self._rng = rng or random.Random()
        self.feeds: dict[str, FeedConfig] = {}
        self.states: dict[str, FeedState] = {}
        self._targets: dict[str, tuple[str, URL | None]] = {}
        """feed → its current URL and that URL parsed (parsing takes 15 microseconds)"""
        self._heap: list[tuple[float, str]] = []
        self._due: dict[str, float] = {}
        self._host_pause: dict[str, float] = {}
        self._in_flight: set[str] = set()
        self._done: list[PollResult] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.last_tick = time.monotonic()

    def healths(self) -> list[Health]:
        return [s.health for s in list(self.states.values())]

    def assign(self, feeds: dict[str, FeedConfig]) -> None:
        """Own exactly `feeds` from now on: new ones are loaded and scheduled, others dropped.

        Call `release()` first for feeds that another process may take over.
        """
        for url in [u for u in self.feeds if u not in feeds]:
            self._drop(url)
        fresh = [u for u in feeds if u not in self.feeds]
        self.feeds.update((u, feeds[u]) for u in feeds)  # a changed config applies next poll
        if fresh:
            loaded = self._load(fresh)
            now = time.time()
            for url in fresh:
                state = loaded.get(url) or FeedState(url)
                self.states[url] = state
                self._target(url)
                when = state.next_poll.timestamp() if state.next_poll else now
                self._push(url, when)
            log.info("feeds_assigned", added=len(fresh), owned=len(self.feeds))
        self._wake.set()

    async def release(self, urls: Iterable[str]) -> None:
        """Stop polling `urls`; return once none of them is being polled or delivered."""
        gone = set(urls)
        for url in gone:
            self._drop(url)
        while self._in_flight & gone:
            self._idle.clear()
            await self._idle.wait()

    def _drop(self, url: str) -> None:
        self.feeds.pop(url, None)
        self.states.pop(url, None)
        self._targets.pop(url, None)
        self._due.pop(url, None)  # its heap entry becomes stale and is skipped

    def _push(self, url: str, when: float) -> None:
        self._due[url] = when
        heapq.heappush(self._heap, (when, url))

    async def run(self, stopping: Callable[[], bool]) -> None:
        """Poll until `stopping()`; then let the polls in flight finish (for at most
        `stop_wait_s`, abandoning the rest) and deliver them."""
        delivering: asyncio.Task[None] | None = None
        while not stopping():
            if self._failure is not None:
                raise self._failure
            self.last_tick = time.monotonic()
            self._dispatch()
            if self._done and (delivering is None or delivering.done()):
                if delivering is not None:
                    delivering.result()  # a failed delivery is a crash, not a retry
                delivering = asyncio.create_task(self._deliver_batch())
            self._wake.clear()
            # A timer that sets the event, not `wait_for`: this runs about once per poll,
            # and `wait_for` makes a task and a timeout scope each time.
            timer = asyncio.get_running_loop().call_later(self._next_wait(), self._wake.set)
            await self._wake.wait()
            timer.cancel()
        abandon_at = time.monotonic() + self._stop_wait_s
        while self._in_flight or self._done:
            if self._tasks and time.monotonic() >= abandon_at:
                log.info("polls_abandoned_at_stop", feeds=len(self._tasks),
                         waited_s=self._stop_wait_s)
                running = list(self._tasks)
                for task in running:
                    task.cancel()
                await asyncio.gather(*running, return_exceptions=True)
            if delivering is not None:
                await delivering
                delivering = None
            if self._done:
                delivering = asyncio.create_task(self._deliver_batch())
            else:
                await asyncio.sleep(0.05)
        if delivering is not None:
            await delivering

    def _next_wait(self) -> float:
        if self._done:
            return 0.02  # let results gather into a batch, then deliver
        if not self._heap or self._running >= self._concurrency:
            # Every slot busy: a finished poll wakes the loop. Waiting 0 for an overdue
            # feed here spun the loop, burning CPU exactly when the poller was behind.
            return 0.5
        return min(max(self._heap[0][0] - time.time(), 0.0), 0.5)

    def _dispatch(self) -> None:
        now = time.time()
        while self._heap and self._heap[0][0] <= now and self._running < self._concurrency:
            when, url = heapq.heappop(self._heap)
            if self._due.get(url) != when or url in self._in_flight:
                continue  # stale entry: dropped or rescheduled since
            target = self._target(url)
            if self._host_pause and self._paused(url, target, now):
                continue
            del self._due[url]
            self._in_flight.add(url)
            self._running += 1
            task = asyncio.get_running_loop().create_task(
                self._poll(self.feeds[url], self.states[url], target)
            )
            self._tasks.add(task)
            task.add_done_callback(self._finished)

    def _target(self, url: str) -> URL | None:
        """The feed's current URL, parsed once (None if it does not parse: the client
        then refuses it with the reason)."""
        current = self.states[url].current_url
        known = self._targets.get(url)
        if known is not None and known[0] == current:
            return known[1]
        try:
            target: URL | None = URL(current)
        except (ValueError, TypeError):
            target = None
        self._targets[url] = (current, target)
        return target

    def _paused(self, url: str, target: URL | None, now: float) -> bool:
        """Whether `url`'s host is paused; if so the feed is put back for after the pause."""
        host = (target.host if target is not None else None) or ""
        paused = self._host_pause.get(host, 0.0)
        if paused > now:
            self._push(url, paused + self._rng.uniform(0, 1.0))
            return True
        if host in self._host_pause:
            del self._host_pause[host]  # over: no host lookup per poll once none is paused
        return False

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._failure = task.exception()  # a bug in polling: crash the loop
            self._wake.set()

    async def _poll(self, feed: FeedConfig, state: FeedState, target: URL | None) -> None:
        url = feed.url
        try:
            result = await poll_feed(
                self.client, feed, state, schedule=self.schedule, known=self._known,
                target=target,
            )
        except asyncio.CancelledError:
            self._in_flight.discard(url)  # abandoned at stop: nothing to record
            raise
        finally:
            self._running -= 1
        if result.host_pause_s:
            until = time.time() + result.host_pause_s
            self._host_pause[result.host] = max(self._host_pause.get(result.host, 0.0), until)
            log.warning("host_paused", host=result.host, seconds=round(result.host_pause_s),
                        feed=url, status=result.status)
        self._done.append(result)
        self._wake.set()

    async def _deliver_batch(self) -> None:
        batch, self._done = self._done[:MAX_BATCH], self._done[MAX_BATCH:]
        await asyncio.to_thread(self._deliver, batch)
        for result in batch:
            url = result.feed_url
            self._in_flight.discard(url)
            if url in self.feeds:
                state = result.state
                self.states[url] = replace(state, emitted=frozenset()) if state.emitted else state
                self._push(url, result.next_poll.timestamp())
        if self._on_delivered is not None:
            self._on_delivered(batch)
        self._idle.set()
        self._wake.set()
