"""Slow downstream: a webhook that takes 10 s per request, a feed that drips a byte a second
and a page stuck in extraction far past the per-page limit each hold up only themselves;
the rest flows on.

Each test runs `news-ingest run --stages ...` (the supervisor and real stage processes) on a
real broker, against loopback servers. Nothing here measures a duration: each test checks
what has arrived while the slow part is still in progress.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ingest.core.embedded_broker import EmbeddedBroker
from ingest.core.envelope import decode
from ingest.core.kafka_clients import ensure_topics
from ingest.core.models import Item
from ingest.core.topics import ALERTS, ARTICLES, ITEMS, RAW, SUBSCRIPTIONS
from tests.kafka_helpers import produce, read_topic
from tests.newsroom import Newsroom
from tests.test_cleaner_stage import pathological_html
from tests.test_notify_receivers import KUNDUZ, MAIMANA, Receiver, make_alert, make_sub
from tests.test_notify_receivers import receivers as receivers  # noqa: PLC0414 - fixture
from tests.test_pipeline import Pipeline
from workers.notify.keyed_view import KeyedWriter

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

HANGING_STORY = 9001  # its page is answered only once the test releases it
STUCK_STORY = 9002  # its page needs seconds of trafilatura: far over a short per-page limit
DRIP_STORY = 9003  # the one item of the dripping feed
DRIP_FEED = "drip"


class TroubledNewsroom(Newsroom):
    """A `Newsroom` with a page that hangs, a page that is slow to extract and a dripping feed.

    The dripping feed sends its body one byte a second (a few hundred seconds in all),
    so it is still in progress when a test ends unless the client hangs up first.
    """

    def __init__(self, feeds: dict[str, Sequence[int | str]], **kwargs: Any) -> None:
        super().__init__({**feeds, DRIP_FEED: [DRIP_STORY]}, **kwargs)
        self.hanging_requested = threading.Event()
        self.release_hanging = threading.Event()
        self.drip_started = threading.Event()
        self.drip_ended = threading.Event()  # sent in full, or the client hung up

    def __enter__(self) -> TroubledNewsroom:
        super().__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release_hanging.set()  # the server cannot close while a handler waits
        super().__exit__(*exc)

    async def _article(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name == f"story-{HANGING_STORY}":
            self.hanging_requested.set()
            while not self.release_hanging.is_set():
                await asyncio.sleep(0.05)
        if name == f"story-{STUCK_STORY}":
            return web.Response(text=pathological_html(), content_type="text/html")
        return await super()._article(request)

    async def _feed(self, request: web.Request) -> web.StreamResponse:  # type: ignore[override]
        whole = await super()._feed(request)
        if request.match_info["name"] != DRIP_FEED:
            return whole
        assert isinstance(whole.body, bytes)
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        response.content_length = len(whole.body)
        await response.prepare(request)
        self.drip_started.set()
        try:
            for byte in whole.body:
                await response.write(bytes([byte]))
                await asyncio.sleep(1.0)
            await response.write_eof()
        except ConnectionError:
            pass  # the client gave up on the drip
        finally:
            self.drip_ended.set()
        return response


class StagedRun(Pipeline):
    """`news-ingest run [--stages a,b]`, with extra settings from the environment."""

    def __init__(
        self, tmp: Path, broker: EmbeddedBroker, feeds: dict[str, str],
        stages: Sequence[str], env: dict[str, str],
    ) -> None:
        super().__init__(tmp, broker, feeds)
        self.stages = list(stages)
        self.env = env

    def start(self) -> None:
        self.runs += 1
        command = [sys.executable, "-m", "ingest", "run", "--config", str(self.config)]
        if self.stages:
            command += ["--stages", ",".join(self.stages)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=out,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
            )

    def log_events(self, event: str) -> list[dict[str, Any]]:
        """The JSON log lines (of the supervisor and every stage) for one event name."""
        found = []
        for line in self.log.read_text(errors="replace").splitlines():
            if f'"{event}"' in line and line.startswith("{"):
                parsed = json.loads(line)
                if parsed.get("event") == event:
                    found.append(parsed)
        return found


StagedRunFactory = Callable[..., StagedRun]


@pytest.fixture
def staged_run(broker: EmbeddedBroker, tmp_path: Path) -> Iterator[StagedRunFactory]:
    made: list[StagedRun] = []

    def make(
        feeds: dict[str, str], stages: Sequence[str] = (), env: dict[str, str] | None = None
    ) -> StagedRun:
        run = StagedRun(tmp_path, broker, feeds, stages, env or {})
        ensure_topics(run.settings.kafka)
        made.append(run)
        return run

    yield make
    for run in made:
        if run.process and run.process.poll() is None:
            run.process.kill()
            run.process.wait()


def items_by_url(run: StagedRun) -> dict[str, bytes]:
    """Each item's URL → its key (the item id), from news.items."""
    found = {}
    for record in read_topic(run.settings, ITEMS.name):
        item = decode(record.value, record.headers).payload
        assert isinstance(item, Item)
        found[item.url] = record.key
    return found


class SlowWebhook:
    """A webhook receiver on 127.0.0.1 that takes 10 s per request (or less once released)."""

    def __init__(self, seconds_per_request: float = 10.0) -> None:
        self.seconds = seconds_per_request
        self.arrived = 0
        self.answered: list[bytes] = []  # bodies of the requests answered so far
        self.release = threading.Event()
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.arrived += 1
        for _ in range(int(self.seconds * 20)):
            if self.release.is_set():
                break
            await asyncio.sleep(0.05)
        self.answered.append(body)
        return web.Response(text="ok")

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/hook"

    def __enter__(self) -> SlowWebhook:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def alert_ids(bodies: Sequence[bytes]) -> list[str]:
    return sorted(json.loads(body)["data"]["alert_id"] for body in bodies)


def test_a_slow_webhook_does_not_hold_up_another_subscriptions_alerts(
    staged_run: StagedRunFactory, receivers: Callable[..., Receiver]
) -> None:
    fast = receivers()
    alerts = [
        make_alert(KUNDUZ),
        make_alert(MAIMANA, alert_id="alert-maimana-entered"),
        make_alert(MAIMANA, kind="captured", alert_id="alert-maimana-captured"),
    ]
    expected = sorted(a.alert_id for a in alerts)
    with SlowWebhook() as slow:
        run = staged_run({}, stages=["notify"], env={
            "NEWS_INGEST_NOTIFY__ALLOW_PRIVATE_TARGETS": "true",
            # longer than the slow receiver takes: its deliveries succeed, none is retried
            "NEWS_INGEST_NOTIFY__REQUEST_TIMEOUT": "30s",
            "NEWS_INGEST_NOTIFY__RETRY_BASE": "0.2s",
        })
        writer = KeyedWriter(run.settings.kafka, "/tests")
        for sub in (make_sub("slow-desk", "webhook", slow.url),
                    make_sub("fast-desk", "webhook", fast.url)):
            writer.put(SUBSCRIPTIONS, sub.subscription_id, sub)
        writer.close()
        for alert in alerts:
            produce(run.settings, ALERTS.name, alert.capital.place_id, alert)
        run.start()
        run.wait(lambda: len(fast.ok()) >= 3 and slow.arrived >= 1,
                 "the fast receiver's three alerts", timeout=60)
        # Meanwhile the slow receiver, busy with its first request, has answered none.
        assert slow.answered == []
        assert alert_ids([r.body for r in fast.ok()]) == expected

        slow.release.set()  # from now on it answers at once; every alert still arrives once
        run.wait(lambda: len(slow.answered) >= 3, "the slow receiver's three alerts", timeout=60)
        assert run.signal(signal.SIGINT) == 0  # a clean stop, as from a terminal
    assert alert_ids(slow.answered) == expected
    assert alert_ids([r.body for r in fast.ok()]) == expected


def test_a_dripping_feed_does_not_hold_up_the_other_feeds(staged_run: StagedRunFactory) -> None:
    feeds: dict[str, Sequence[int | str]] = {"ledger": [1, 2, 3, 4], "courier": [11, 12, 13]}
    with TroubledNewsroom(feeds) as newsroom:
        run = staged_run(
            {"Ledger": newsroom.feed_url("ledger"), "Courier": newsroom.feed_url("courier"),
             "Drip": newsroom.feed_url(DRIP_FEED)},
            stages=["poller"],
            # The poller finishes its polls in flight before it stops, and the drip's lasts
            # until the 60 s total timeout: a short grace period ends the test promptly.
            env={"NEWS_INGEST_SUPERVISOR__GRACE_PERIOD": "3s"},
        )
        run.start()
        normal_urls = {newsroom.url_of(n) for entries in feeds.values() for n in entries}
        run.wait(lambda: newsroom.drip_started.is_set() and normal_urls <= set(items_by_url(run)),
                 "the normal feeds' items")
        assert not newsroom.drip_ended.is_set(), "the drip should still be in progress"
        assert newsroom.url_of(DRIP_STORY) not in items_by_url(run)
        assert run.signal(signal.SIGTERM) == 0
    assert set(items_by_url(run)) == normal_urls


def test_a_page_stuck_in_extraction_is_dead_lettered_and_the_rest_flows_on(
    staged_run: StagedRunFactory,
) -> None:
    stories: list[int | str] = [1, 2, 3, STUCK_STORY, 4, 5, 6]
    with TroubledNewsroom({"bulletin": stories}) as newsroom:
        run = staged_run(
            {"Bulletin": newsroom.feed_url("bulletin")},
            stages=["poller", "fetcher", "cleaner"],
            env={"NEWS_INGEST_CLEANER__PAGE_TIMEOUT": "1.5s"},
        )
        run.start()
        run.wait(lambda: len(read_topic(run.settings, ARTICLES.name)) >= 6
                 and len(read_topic(run.settings, RAW.dlq)) >= 1,
                 "six articles and one dead letter")
        assert run.signal(signal.SIGTERM) == 0

    items = items_by_url(run)
    stuck_url = newsroom.url_of(STUCK_STORY)
    assert len(items) == 7
    articles = {r.key for r in read_topic(run.settings, ARTICLES.name)}
    assert articles == {key for url, key in items.items() if url != stuck_url}
    (dead,) = read_topic(run.settings, RAW.dlq)
    assert dead.key == items[stuck_url]
    headers = dict(dead.headers)
    assert headers["dlq_stage"] == b"cleaner"
    assert headers["dlq_reason"].decode() == (
        f"extraction of {stuck_url} took over the 1.5 s per-page limit; its worker was stopped"
    )
