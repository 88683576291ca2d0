"""Prometheus metrics and health endpoints: the one HTTP server every component uses.

`GET /metrics` (Prometheus text format), `GET /healthz` (the process is
alive) and `GET /readyz` (connected to the broker, partitions assigned, and
the loop not stalled). The server runs in a daemon thread and reads only
thread-safe state: counters, and a `Readiness` object the loop updates.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import structlog
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

log = structlog.get_logger()

MESSAGES_IN = Counter(
    "news_ingest_messages_in_total", "Messages consumed by a stage", ["stage", "topic"]
)
MESSAGES_OUT = Counter(
    "news_ingest_messages_out_total", "Messages produced by a stage", ["stage", "topic"]
)
DEAD_LETTERS = Counter(
    "news_ingest_dead_letters_total", "Messages sent to a dead-letter topic", ["stage", "topic"]
)
BATCH_SECONDS = Histogram(
    "news_ingest_batch_seconds", "Time to handle, produce, flush and commit one batch",
    ["stage"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
CONSUMER_LAG = Gauge(
    "news_ingest_consumer_lag", "Records behind the partition's high watermark",
    ["stage", "topic", "partition"],
)


@dataclass
class Readiness:
    """What /readyz reports; written by the stage loop, read by the server thread."""

    stall_after: float = 120.0
    connected: bool = False
    assigned: int = 0
    last_progress: float = field(default_factory=time.monotonic)

    def progressed(self) -> None:
        self.last_progress = time.monotonic()

    def problem(self) -> str | None:
        """Why the process is not ready, or None."""
        if not self.connected:
            return "not connected to the broker"
        if self.assigned == 0:
            return "no partitions assigned"
        idle = time.monotonic() - self.last_progress
        if idle > self.stall_after:
            return f"loop stalled for {idle:.0f} s"
        return None


HealthCheck = Callable[[], tuple[bool, dict[str, Any]]]
"""Returns (healthy, details); /healthz answers 200 or 503 with the details as JSON."""


class MetricsServer:
    """`/metrics`, `/healthz` and (with a `Readiness`) `/readyz` on one port.

    Created started, in a daemon thread; `close()` stops it. `registry` lets a
    component that runs several times in one process keep its own counters.
    """

    def __init__(
        self, host: str, port: int, *, registry: CollectorRegistry = REGISTRY,
        health: HealthCheck | None = None, readiness: Readiness | None = None,
    ) -> None:
        self._server = ThreadingHTTPServer((host, port), _handler(registry, health, readiness))
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True).start()
        log.info("metrics_server_started", url=f"http://{host}:{self.port}/metrics")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(
    registry: CollectorRegistry, health: HealthCheck | None, readiness: Readiness | None
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/metrics":
                self._reply(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif path == "/healthz" and health is not None:
                ok, details = health()
                body = json.dumps({"status": "ok" if ok else "unhealthy", **details}).encode()
                self._reply(200 if ok else 503, body, "application/json")
            elif path == "/healthz":
                self._reply(200, b"ok\n")
            elif path == "/readyz" and readiness is not None:
                problem = readiness.problem()
                body = (problem or "ready").encode() + b"\n"
                self._reply(503 if problem else 200, body)
            else:
                self._reply(404, b"not found\n")

        def _reply(self, status: int, body: bytes, ctype: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return  # scrapes every few seconds are not news

    return Handler
