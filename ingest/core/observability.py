"""Prometheus metrics and health endpoints, one small HTTP server per process.

`GET /metrics` (Prometheus text format), `GET /healthz` (the process is
alive) and `GET /readyz` (connected to the broker, partitions assigned, and
the loop not stalled). The server runs in a daemon thread and reads only
thread-safe state: counters, and a `Readiness` object the loop updates.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

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


def serve(host: str, port: int, readiness: Readiness) -> ThreadingHTTPServer:
    """Start the metrics and health server in a daemon thread; returns the server."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._reply(200, generate_latest(), CONTENT_TYPE_LATEST)
            elif self.path == "/healthz":
                self._reply(200, b"ok\n")
            elif self.path == "/readyz":
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

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.info("metrics_server_started", url=f"http://{host}:{server.server_address[1]}/metrics")
    return server
