"""poller: configured feeds → news.items, one message per new item.

source:    the `[[feeds]]` of the settings, each polled when due (conditional
           GET, unchanged bodies recognised without parsing, backoff on errors;
           see `ingest.poller.poll`)
produce:   `news.items` (Item), keyed by item id
then:      the poll's state (validators, items emitted) is committed to the
           durable feed state only after the broker acknowledged the items, so a
           crash re-emits (harmless downstream) rather than loses an item

The poller is a `Source`: it is not fed by a topic, and drives itself with an
asyncio loop until SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import structlog

from ingest.core.http_client import HttpClient
from ingest.core.kafka_clients import make_producer, wait_for_broker
from ingest.core.models import utc_now
from ingest.core.runtime import Output, OutputSink, ShutdownFlag
from ingest.core.settings import FeedConfig, Settings
from ingest.core.topics import ITEMS
from ingest.poller.poll import PollResult, poll_feed
from ingest.poller.schedule import PollSchedule
from ingest.poller.state import FeedStateStore

log = structlog.get_logger()

IDLE_TICK_S = 1.0


class PollerSource:
    name = "poller"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.feeds = {feed.url: feed for feed in settings.feeds}
        self.schedule = PollSchedule.from_settings(settings.poller)
        self.shutdown = ShutdownFlag()

    def run(self) -> None:
        self.shutdown.install()
        cluster_id = wait_for_broker(self.settings.kafka)
        sink = OutputSink(make_producer(self.settings.kafka, self.name), "/news-ingest/poller")
        store = FeedStateStore(self.settings.data_dir)
        try:
            if store.adopt_broker(cluster_id):
                log.warning("broker_changed_reemitting", cluster_id=cluster_id)
            if not self.feeds:
                log.warning("no_feeds_configured", hint="add [[feeds]] to the config file")
            asyncio.run(self._poll_forever(sink, store))
        finally:
            sink.producer.close()
            store.close()
            log.info("stage_stopped", stage=self.name)

    async def _poll_forever(self, sink: OutputSink, store: FeedStateStore) -> None:
        due: dict[str, datetime | None] = dict.fromkeys(self.feeds)
        due.update({u: t for u, t in store.next_polls().items() if u in self.feeds})
        limit = asyncio.Semaphore(self.settings.poller.concurrency)
        async with HttpClient(self.settings.http) as client:
            while not self.shutdown.requested:
                now = utc_now()
                ready = [u for u, when in due.items() if when is None or when <= now]
                if ready:
                    results = await asyncio.gather(
                        *(self._poll(client, limit, self.feeds[u], store) for u in ready)
                    )
                    self._deliver(results, sink, store)
                    due.update({r.feed_url: r.next_poll for r in results})
                await asyncio.sleep(self._idle_time(due))

    async def _poll(
        self, client: HttpClient, limit: asyncio.Semaphore, feed: FeedConfig,
        store: FeedStateStore,
    ) -> PollResult:
        async with limit:
            return await poll_feed(client, feed, store.load(feed.url), schedule=self.schedule)

    def _deliver(
        self, results: list[PollResult], sink: OutputSink, store: FeedStateStore
    ) -> None:
        for result in results:
            for item in result.new_items:
                sink.send(Output(ITEMS, item.item_id, item))
        sink.flush()  # every item acknowledged before any poll is recorded as done
        for result in results:
            store.commit_poll(result)

    def _idle_time(self, due: dict[str, datetime | None]) -> float:
        upcoming = [when for when in due.values() if when is not None]
        if not upcoming:
            return IDLE_TICK_S
        wait = min(upcoming) - utc_now()
        return max(0.05, min(wait, timedelta(seconds=IDLE_TICK_S)).total_seconds())


def build(settings: Settings) -> PollerSource:
    return PollerSource(settings)
