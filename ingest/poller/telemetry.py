"""Prometheus metrics and `/healthz` over HTTP, for the poller and the fetcher.

Each daemon builds its own `CollectorRegistry` (several pollers in one test
process must not share counters) and, when its port setting is not 0, serves
it with `TelemetryServer`: a daemon thread answering `GET /metrics` (the
Prometheus text format) and `GET /healthz` (200 and a JSON body while the
`healthy()` callback says so, else 503). `close()` stops it.
"""

from __future__ import annotations

import json
import threading
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ingest.poller.health import HEALTH_STATES, Health

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
Health_ = Callable[[], tuple[bool, dict[str, Any]]]


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


class TelemetryServer:
    """Serves `/metrics` and `/healthz` on (host, port) from a daemon thread."""

    def __init__(
        self, registry: CollectorRegistry, healthy: Health_, *, host: str, port: int
    ) -> None:
        handler = _handler(registry, healthy)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="telemetry")
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(registry: CollectorRegistry, healthy: Health_) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] == "/metrics":
                self._send(200, generate_latest(registry), "text/plain; version=0.0.4")
            elif self.path.split("?")[0] == "/healthz":
                ok, detail = healthy()
                body = json.dumps({"status": "ok" if ok else "unhealthy", **detail}).encode()
                self._send(200 if ok else 503, body, "application/json")
            else:
                self._send(404, b"not found\n", "text/plain")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return  # scrapes every few seconds are not news

    return Handler
