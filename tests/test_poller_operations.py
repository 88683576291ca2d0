"""A running `news-ingest worker poller` as an operator sees it: bad feeds among good ones,
its log lines, `/metrics`, `/healthz`, `feeds status`, and a feed added at run time.

One poller process runs for the whole module against a real broker and a loopback
server holding four good feeds (three in the config file, one added with
`news-ingest feeds add` while it runs) and six bad ones.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from kafka import KafkaConsumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from ingest.core.embedded_broker import free_port, start_broker
from ingest.core.kafka_clients import ensure_topics
from ingest.core.settings import Settings, load_settings
from ingest.core.topics import ITEMS

GOOD_IN_CONFIG = ("/good/0", "/good/1", "/good/2")
GOOD_ADDED = "/good/3"
BAD = {  # path: what its log line and status reason must say
    "/bad/malformed": "malformed feed XML",
    "/bad/html": "not a feed: the body is an HTML page",
    "/bad/empty": "empty body",
    "/bad/500": "HTTP 500",
    "/bad/drip": "total timeout after 2.0 s",
    "/bad/loop": "redirect loop",
}


def good_body(path: str) -> bytes:
    n = path.rsplit("/", 1)[1]
    items = "".join(f"<item><guid>desk{n}-{k}</guid><link>/news/desk{n}-{k}.html</link>"
                    f"<title>Road to the valley reopens, part {k}</title></item>"
                    for k in (1, 2))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Desk {n}</title>'
            f"{items}</channel></rss>").encode()


async def good(request: web.Request) -> web.Response:
    if request.headers.get("If-None-Match") == '"v1"':
        return web.Response(status=304, headers={"ETag": '"v1"'})
    return web.Response(body=good_body(request.path), content_type="application/rss+xml",
                        headers={"ETag": '"v1"'})


async def bad(request: web.Request) -> web.StreamResponse:
    which = request.path
    if which == "/bad/malformed":
        return web.Response(body=b'<?xml version="1.0"?><rss version="2.0"><channel><title>'
                                 b"Half a feed</ti", content_type="application/rss+xml")
    if which == "/bad/html":
        return web.Response(text="<!doctype html><html><body><p>Our new website</p></body>"
                                 "</html>", content_type="text/html")
    if which == "/bad/empty":
        return web.Response(body=b"", content_type="application/rss+xml")
    if which == "/bad/500":
        return web.Response(status=500, text="the database is down")
    if which == "/bad/loop":
        raise web.HTTPFound(location="/bad/loop")
    resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
    await resp.prepare(request)
    for byte in b'<?xml version="1.0"?><rss version="2.0">':  # one byte at a time, slowly
        await resp.write(bytes([byte]))
        await asyncio.sleep(0.5)
    return resp


class Server:
    """The loopback feed server, in its own thread and event loop."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/good/{n}", good)
        app.router.add_get("/bad/{what}", bad)
        runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.SockSite(runner, self._sock).start())
        self._ready.set()
        self._loop.run_forever()

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@dataclass
class Running:
    base: str
    config: Path
    settings: Settings
    metrics: str
    log: Path

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for raw in self.log.read_text().splitlines():
            if raw.startswith("{"):
                lines.append(json.loads(raw))
        return lines


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ingest", *args], capture_output=True,
                          text=True, timeout=60, check=False)


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.2)
    return found


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def scrape(running: Running) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    _, body = get(running.metrics + "/metrics")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode())
            for s in family.samples}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("operations")
    broker = start_broker()
    server = Server()
    port = free_port()
    feeds = "".join(f'[[feeds]]\nurl = "{server.base}{p}"\ninterval = "1s"\n\n'
                    for p in (*GOOD_IN_CONFIG, *BAD))
    config = tmp / "poller.toml"
    config.write_text(
        f'data_dir = "{tmp / "data"}"\n\n'
        f'[kafka]\nbootstrap_servers = "{broker.bootstrap_servers}"\nstartup_timeout = "5s"\n\n'
        '[http]\nallow_private_networks = true\nread_timeout = "1s"\ntotal_timeout = "2s"\n\n'
        f'[poller]\nmin_interval = "1s"\nfailing_after = 1\nmetrics_port = {port}\n\n'
        '[log]\nlevel = "info"\nformat = "json"\n\n' + feeds
    )
    settings = load_settings(config)
    ensure_topics(settings.kafka)
    log = tmp / "poller.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ingest", "worker", "poller", "--config", str(config)],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        added = cli("feeds", "add", f"{server.base}{GOOD_ADDED}", "--interval", "1s",
                    "--config", str(config))
        assert added.returncode == 0, added.stderr
        yield Running(server.base, config, settings, f"http://127.0.0.1:{port}", log)
    finally:
        proc.terminate()
        proc.wait(30)
        server.close()
        broker.stop()


def test_good_feeds_items_reach_news_items_while_bad_feeds_fail_beside_them(
    running: Running,
) -> None:
    """Two items from each good feed, the CLI-added one included; nothing from bad ones."""
    consumer = KafkaConsumer(bootstrap_servers=running.settings.kafka.bootstrap_servers)
    tps = [TopicPartition(ITEMS.name, p) for p in range(running.settings.kafka.partitions)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    records: list[Any] = []
    try:
        def eight() -> bool:
            for batch in consumer.poll(timeout_ms=300).values():
                records.extend(batch)
            return len(records) >= 8

        wait_for(eight, 60, "8 items on news.items")
        time.sleep(1.0)  # anything more would have to be a duplicate or a bad feed's item
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend(batch)
    finally:
        consumer.close()
    urls = sorted(json.loads(r.value)["url"] for r in records)
    expected = sorted(f"{running.base}/news/desk{n}-{k}.html" for n in range(4) for k in (1, 2))
    assert urls == expected


def test_each_bad_feed_gets_a_warning_line_naming_its_url_and_reason(running: Running) -> None:
    def warned() -> dict[str, str] | None:
        found = {line["feed"]: line["reason"] for line in running.log_lines()
                 if line.get("event") == "feed_polled" and line.get("level") == "warning"}
        return found if all(running.base + p in found for p in BAD) else None

    found = wait_for(warned, 30, "a warning for every bad feed")
    for path, reason in BAD.items():
        assert reason in found[running.base + path], path
    assert not any(running.base + p in found for p in (*GOOD_IN_CONFIG, GOOD_ADDED))


def test_metrics_count_polls_items_and_feeds_by_health(running: Running) -> None:
    def settled() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
        m = scrape(running)
        healthy = m.get(("news_ingest_feeds", (("health", "ok"),))) == 4
        failing = m.get(("news_ingest_feeds", (("health", "failing"),))) == len(BAD)
        return m if healthy and failing else None

    m = wait_for(settled, 30, "4 ok and 6 failing feeds in /metrics")
    assert m[("news_ingest_items_emitted_total", ())] == 8
    assert m[("news_ingest_polls_total", (("outcome", "error"),))] >= len(BAD)
    assert m[("news_ingest_polls_total", (("outcome", "new_items"),))] >= 4
    assert m[("news_ingest_poll_seconds_count", ())] >= 4 + len(BAD)


def test_healthz_answers_ok_with_the_number_of_feeds_owned(running: Running) -> None:
    def all_owned() -> dict[str, Any] | None:
        status, body = get(running.metrics + "/healthz")
        doc: dict[str, Any] = json.loads(body)
        return doc if status == 200 and doc.get("feeds") == 4 + len(BAD) else None

    doc = wait_for(all_owned, 30, "/healthz answering 200 with every feed owned")
    assert doc["status"] == "ok"
    assert get(running.metrics + "/nothing-here")[0] == 404


def test_feeds_status_shows_each_feed_health_and_the_reason(running: Running) -> None:
    def rows() -> dict[str, list[str]] | None:
        result = cli("feeds", "status", "--config", str(running.config))
        lines = [line.split("\t") for line in result.stdout.splitlines()[1:]]
        table = {cols[6]: cols for cols in lines if len(cols) >= 8}
        return table if len(table) == 4 + len(BAD) else None

    table = wait_for(rows, 30, "a status row for every feed")
    for path in (*GOOD_IN_CONFIG, GOOD_ADDED):
        cols = table[running.base + path]
        assert cols[0] == "ok", path
        assert cols[1] != "-", path
        assert cols[7] == "", path
    for path, reason in BAD.items():
        cols = table[running.base + path]
        assert cols[0] == "failing", path
        assert cols[1] == "-", path
        assert reason in cols[7], path
