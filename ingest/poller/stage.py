"""poller: feeds → news.items, one message per new item; a Source, not fed by a topic.

source:    the `[[feeds]]` of the settings plus the feeds added to the catalog
           topic `news.feeds`, restricted to those whose catalog partition the
           consumer group `news-ingest.poller` assigned to this process (see
           `ingest.poller.membership`); each polled when due by `PollLoop`
produce:   `news.items` (Item), keyed by item id
then:      the polls' states (validators, health, items emitted) are committed to
           the durable feed state only after the broker acknowledged the items,
           so a crash re-emits (harmless downstream) rather than loses an item

Runs until SIGINT/SIGTERM (or `stop()`); then it finishes the polls in
flight, delivers them, leaves the group and exits.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Collection
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import structlog

from ingest.core.http_client import HttpClient
from ingest.core.kafka_clients import make_producer, wait_for_broker
from ingest.core.observability import MetricsServer
from ingest.core.runtime import Output, OutputSink, ShutdownFlag
from ingest.core.settings import FeedConfig, Settings
from ingest.core.topics import ITEMS
from ingest.poller.catalog import ensure_feeds_topic, partition_for
from ingest.poller.loop import PollLoop
from ingest.poller.membership import Membership, Ownership
from ingest.poller.poll import PollResult
from ingest.poller.schedule import PollSchedule
from ingest.poller.state import FeedState, FeedStateStore
from ingest.poller.telemetry import PollerMetrics

log = structlog.get_logger()

RELEASE_TIMEOUT_S = 120.0
HEALTHY_TICK_S = 30.0


class PollerSource:
    name = "poller"

    def __init__(self, settings: Settings, *, install_signals: bool = True) -> None:
        self.settings = settings
        self.configured = {feed.url: feed for feed in settings.feeds}
        self.schedule = PollSchedule.from_settings(settings.poller)
        self.shutdown = ShutdownFlag()
        self._install_signals = install_signals
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poll_loop: PollLoop | None = None
        self._seen_version = -1
        self._partitions = 0
        self.metrics = PollerMetrics(lambda: self._poll_loop.healths() if self._poll_loop else [])
        self.observers: list[Callable[[list[PollResult]], None]] = []
        """called with each delivered batch of polls, on the event loop (benchmarks, tools)"""

    def stop(self) -> None:
        self.shutdown.requested = True

    def run(self) -> None:
        if self._install_signals:
            self.shutdown.install()
        kafka = self.settings.kafka
        cluster_id = wait_for_broker(kafka)
        ensure_feeds_topic(kafka, self.settings.poller.feed_partitions)
        sink = OutputSink(make_producer(kafka, self.name), "/news-ingest/poller")
        store = FeedStateStore(self.settings.data_dir)
        server = None
        try:
            if store.adopt_broker(cluster_id):
                log.warning("broker_changed_reemitting", cluster_id=cluster_id)
            if self.settings.poller.metrics_port:
                server = MetricsServer(
                    self.settings.poller.metrics_host, self.settings.poller.metrics_port,
                    registry=self.metrics.registry, health=self._health,
                )
            asyncio.run(self._main(sink, store))
        finally:
            if server is not None:
                server.close()
            sink.producer.close()
            store.close()
            log.info("stage_stopped", stage=self.name)

    async def _main(self, sink: OutputSink, store: FeedStateStore) -> None:
        self._loop = asyncio.get_running_loop()

        def deliver(results: list[PollResult]) -> None:
            for result in results:
                for item in result.new_items:
                    sink.send(Output(ITEMS, item.item_id, item))
            sink.flush()  # every item acknowledged before any poll is recorded as done
            store.commit_polls(results)

        def load(urls: Collection[str]) -> dict[str, FeedState]:
            return store.load_all(urls)

        async with HttpClient(self.settings.http) as client:
            poll_loop = PollLoop(
                client, self.schedule, deliver=deliver, load_states=load,
                known=store, concurrency=self.settings.poller.concurrency,
                on_delivered=self._count,
            )
            self._poll_loop = poll_loop
            membership = Membership(self.settings.kafka, self._release)
            membership.start()
            try:
                watcher = asyncio.create_task(self._follow(membership, poll_loop))
                await poll_loop.run(lambda: self.shutdown.requested or not membership.alive)
                watcher.cancel()
            finally:
                await asyncio.to_thread(membership.stop)
            if membership.error is not None:
                raise RuntimeError("poller group membership failed") from membership.error

    async def _follow(self, membership: Membership, poll_loop: PollLoop) -> None:
        """Apply each new ownership snapshot to the loop."""
        while True:
            snapshot = membership.snapshot()
            if snapshot.version != self._seen_version:
                self._seen_version = snapshot.version
                self._partitions = snapshot.partition_count
                poll_loop.assign(self._owned_feeds(snapshot))
            await asyncio.sleep(0.2)

    def _owned_feeds(self, snapshot: Ownership) -> dict[str, FeedConfig]:
        if not snapshot.partitions or not snapshot.partition_count:
            return {}
        owned: dict[str, FeedConfig] = {}
        for added in snapshot.added.values():
            owned.update(added)
        for url, feed in self.configured.items():  # the config file wins over the catalog
            if partition_for(url, snapshot.partition_count) in snapshot.partitions:
                owned[url] = feed
        return {u: f for u, f in owned.items()
                if partition_for(u, snapshot.partition_count) in snapshot.partitions}

    def _release(self, partitions: frozenset[int]) -> None:
        """Called by the membership thread before giving up partitions: waits for polls."""
        loop, poll_loop = self._loop, self._poll_loop
        if loop is None or poll_loop is None or loop.is_closed():
            return
        count = self._partitions
        urls = [u for u in list(poll_loop.feeds)
                if not count or partition_for(u, count) in partitions]
        future = asyncio.run_coroutine_threadsafe(poll_loop.release(urls), loop)
        try:
            future.result(timeout=RELEASE_TIMEOUT_S)
        except FutureTimeout:
            log.warning("feed_release_timed_out", feeds=len(urls), timeout_s=RELEASE_TIMEOUT_S)

    def _count(self, results: list[PollResult]) -> None:
        # Summed per batch: each prometheus update takes a lock, and this runs per poll.
        m = self.metrics
        outcomes = Counter(result.outcome for result in results)
        for outcome, n in outcomes.items():
            m.polls.labels(outcome).inc(n)
        m.items.inc(sum(len(result.new_items) for result in results))
        m.bytes.inc(sum(result.bytes for result in results))
        for result in results:
            m.latency.observe(result.elapsed_ms / 1000.0)
        for observe in self.observers:
            observe(results)

    def _health(self) -> tuple[bool, dict[str, Any]]:
        poll_loop = self._poll_loop
        if poll_loop is None:
            return False, {"reason": "starting"}
        stalled = time.monotonic() - poll_loop.last_tick
        ok = stalled < HEALTHY_TICK_S and not self.shutdown.requested
        return ok, {"feeds": len(poll_loop.feeds), "loop_idle_s": round(stalled, 1)}


def build(settings: Settings) -> PollerSource:
    return PollerSource(settings)
