"""Prometheus metrics and `/healthz` over HTTP, for the poller and the fetcher.

Each daemon builds its own `CollectorRegistry` (several pollers in one test
process must not share counters) and, when its port setting is not 0, serves
it with `ingest.core.observability.MetricsServer`, passing a health check
whose details become the JSON body of `/healthz`.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ingest.poller.health import HEALTH_STATES, Health

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class _FeedsByHealth(Collector):
    """`news_ingest_feeds{health=...}`, counted from the live states at scrape time."""

    def __init__(self, healths: Callable[[], Iterable[Health]]) -> None:
        self._healths = healths

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("news_ingest_feeds", "feeds owned, by health", labels=["health"])
        tally = Tally(self._healths())
        for state in HEALTH_STATES:
            family.add_metric([state], tally.get(state, 0))
        yield family


class PollerMetrics:
    """The poller's counters, histogram and health gauge, in their own registry."""

    def __init__(self, healths: Callable[[], Iterable[Health]]) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = Counter("news_ingest_polls", "feed polls by outcome", ["outcome"], registry=r)
        self.items = Counter("news_ingest_items_emitted", "items produced", registry=r)
        self.bytes = Counter("news_ingest_feed_bytes", "feed body bytes received", registry=r)
        self.latency = Histogram("news_ingest_poll_seconds", "feed request latency",
                                 buckets=LATENCY_BUCKETS, registry=r)
        r.register(_FeedsByHealth(healths))


class FetcherMetrics:
    """The fetcher's page counters and fetch-latency histogram."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.pages = Counter("news_ingest_pages", "article pages by outcome", ["outcome"],
                             registry=r)
        self.bytes = Counter("news_ingest_page_chars", "characters of pages fetched", registry=r)
        self.latency = Histogram("news_ingest_page_fetch_seconds", "page fetch latency",
                                 buckets=LATENCY_BUCKETS, registry=r)
