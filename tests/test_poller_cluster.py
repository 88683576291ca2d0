"""Two real poller processes (`news-ingest worker poller`) sharing feeds over a real broker."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from ingest.core.embedded_broker import EmbeddedBroker
from ingest.core.kafka_clients import ensure_topics
from ingest.core.settings import load_settings
from ingest.poller.catalog import ensure_feeds_topic

FEEDS = 24
SETTLE_S = 3.0


class FeedFarm:
    """`/f/{n}` on 127.0.0.1 in its own thread: a small RSS feed per n, answered after a pause.

    Records, per request, when it ended, which feed and which poller (User-Agent) asked,
    and the most requests for one feed that were ever in progress at the same moment.
    """

    def __init__(self, pause_s: float = 0.05) -> None:
        self.pause_s = pause_s
        self.polls: list[tuple[float, str, str]] = []
        self.max_overlap = 0
        self._open: Counter[str] = Counter()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def url(self, n: int) -> str:
        return f"http://127.0.0.1:{self.port}/f/{n}"

    async def _handle(self, request: web.Request) -> web.Response:
        n = request.match_info["n"]
        self._open[n] += 1
        self.max_overlap = max(self.max_overlap, self._open[n])
        try:
            await asyncio.sleep(self.pause_s)  # so two pollers of one feed would overlap
            etag = f'"v-{n}"'
            if request.headers.get("If-None-Match") == etag:
                return web.Response(status=304, headers={"ETag": etag})
            body = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Desk {n}'
                    f"</title><item><guid>story-{n}</guid><link>/news/{n}.html</link>"
                    f"<title>District council meets</title></item></channel></rss>")
            return web.Response(body=body.encode(), content_type="application/rss+xml",
                                headers={"ETag": etag})
        finally:
            self._open[n] -= 1
            self.polls.append((time.monotonic(), n, request.headers.get("User-Agent", "")))

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/f/{n}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.SockSite(runner, self._sock).start())
        self._started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())

    def __enter__(self) -> FeedFarm:
        self._thread.start()
        self._started.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def pollers_by_feed(self, since: float) -> dict[str, set[str]]:
        """Which pollers polled each feed in requests that ended after `since`."""
        seen: dict[str, set[str]] = {}
        for ended, n, agent in list(self.polls):
            if ended >= since:
                seen.setdefault(n, set()).add(agent)
        return seen


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.2)


def poller_config(path: Path, broker: EmbeddedBroker, data: Path, farm: FeedFarm,
                  agent: str) -> Path:
    feeds = "".join(f'[[feeds]]\nurl = "{farm.url(n)}"\ninterval = "1s"\n\n'
                    for n in range(FEEDS))
    path.write_text(
        f'data_dir = "{data}"\n\n'
        f'[kafka]\nbootstrap_servers = "{broker.bootstrap_servers}"\n'
        # A member killed without leaving the group is noticed after the session timeout.
        "session_timeout_ms = 2000\nheartbeat_interval_ms = 500\n\n"
        f'[http]\nallow_private_networks = true\nuser_agent = "{agent}"\n\n'
        '[poller]\nmin_interval = "0.5s"\nmax_interval = "1s"\nfeed_partitions = 6\n\n'
        '[log]\nlevel = "warning"\nformat = "json"\n\n' + feeds
    )
    return path


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[[Path, str], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(config: Path, name: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "ingest", "worker", "poller", "--config", str(config)],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_two_pollers_split_the_feeds_one_poll_per_feed_at_a_time_and_the_survivor_takes_over(
    broker: EmbeddedBroker, tmp_path: Path,
    spawn: Callable[[Path, str], subprocess.Popen[bytes]],
) -> None:
    """Each feed is polled by one process; SIGKILL one and its feeds move to the other."""
    data = tmp_path / "data"
    kafka = load_settings(None, kafka={"bootstrap_servers": broker.bootstrap_servers}).kafka
    ensure_topics(kafka)
    ensure_feeds_topic(kafka, 6)
    with FeedFarm() as farm:
        first = spawn(poller_config(tmp_path / "a.toml", broker, data, farm, "poller-a"), "a")
        second = spawn(poller_config(tmp_path / "b.toml", broker, data, farm, "poller-b"), "b")
        every_feed = {str(n) for n in range(FEEDS)}

        def split_settled() -> bool:
            seen = farm.pollers_by_feed(time.monotonic() - SETTLE_S)
            owners = list(seen.values())
            return (set(seen) == every_feed and all(len(a) == 1 for a in owners)
                    and set().union(*owners) == {"poller-a", "poller-b"})

        wait_for(split_settled, 60, "both pollers polling, each feed by exactly one")
        seen = farm.pollers_by_feed(time.monotonic() - SETTLE_S)
        of_second = {n for n, agents in seen.items() if agents == {"poller-b"}}
        assert of_second
        assert of_second != every_feed

        second.send_signal(signal.SIGKILL)
        second.wait(10)
        killed_at = time.monotonic()

        def survivor_polls_them() -> bool:
            later = farm.pollers_by_feed(killed_at)
            return all("poller-a" in later.get(n, set()) for n in of_second)

        wait_for(survivor_polls_them, 60, "the survivor polling the dead poller's feeds")
        assert farm.max_overlap == 1
        first.send_signal(signal.SIGTERM)
        assert first.wait(30) == 0
