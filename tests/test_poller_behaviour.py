"""Polite polling against real loopback servers: validators, redirects, health, hosts, formats."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import random
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ingest.core.http_client import HttpClient
from ingest.core.settings import FeedConfig, HttpSettings
from ingest.poller.feeds import PARSE_STATS, parse_feed
from ingest.poller.loop import PollLoop
from ingest.poller.poll import NOTHING_DELIVERED, PollResult, poll_feed
from ingest.poller.schedule import PollSchedule
from ingest.poller.state import FeedState, FeedStateStore

SCHEDULE = PollSchedule(min_interval=timedelta(seconds=1), jitter=0.0)
INTERVAL = timedelta(seconds=60)


def rss(*slugs: str, extra: str = "") -> bytes:
    items = "".join(f"<item><guid>g-{s}</guid><link>/news/{s}.html</link></item>" for s in slugs)
    return (f'<?xml version="1.0"?><rss version="2.0" '
            f'xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel><title>Desk'
            f"</title>{extra}{items}</channel></rss>").encode()


Handler = Any


@asynccontextmanager
async def serving(routes: dict[str, Handler]) -> AsyncIterator[tuple[TestServer, HttpClient]]:
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    client = HttpClient(HttpSettings(allow_private_networks=True))
    try:
        yield server, client
    finally:
        await client.close()
        await server.close()


def run(coro: Awaitable[Any]) -> Any:
    async def main() -> Any:
        return await coro

    return asyncio.run(main())


async def poll(client: HttpClient, url: str, state: FeedState | None = None,
               schedule: PollSchedule = SCHEDULE) -> PollResult:
    feed = FeedConfig(url=url, interval=INTERVAL)
    return await poll_feed(client, feed, state or FeedState(url), schedule=schedule,
                           rng=random.Random(1))


def test_server_that_keeps_answering_304_for_a_changed_feed_is_caught_and_distrusted() -> None:
    """After `unconditional_every` 304s the poller asks without validators; a changed body
    then shows the validator was stale, and validators are no longer sent."""
    body = {"now": rss("a", "b")}
    seen: list[str | None] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers.get("If-None-Match"))
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304)  # stale: the feed did change
        return web.Response(body=body["now"], headers={"ETag": '"v1"'},
                            content_type="application/rss+xml")

    async def scenario() -> None:
        schedule = replace(SCHEDULE, unconditional_every=2)
        async with serving({"/f": handler}) as (server, client):
            url = str(server.make_url("/f"))
            first = await poll(client, url, schedule=schedule)
            body["now"] = rss("a", "b", "c")
            second = await poll(client, url, first.state, schedule)
            third = await poll(client, url, second.state, schedule)
            fourth = await poll(client, url, third.state, schedule)
            fifth = await poll(client, url, fourth.state, schedule)
        assert [r.outcome for r in (first, second, third)] == [
            "new_items", "not_modified", "not_modified"]
        assert fourth.outcome == "new_items"
        assert [i.url.rsplit("/", 1)[1] for i in fourth.new_items] == ["c.html"]
        assert seen[:4] == [None, '"v1"', '"v1"', None]
        assert fourth.state.validators_trusted is False
        assert fourth.state.health == "degraded"
        assert "stale validator" in (fourth.state.health_reason or "")
        assert seen[4] is None
        assert fifth.outcome == "unchanged"

    run(scenario())


def test_permanent_redirect_updates_the_stored_url_and_a_temporary_one_does_not() -> None:
    async def moved(_: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/new")

    async def temporary(_: web.Request) -> web.Response:
        raise web.HTTPFound("/new")

    async def new(_: web.Request) -> web.Response:
        return web.Response(body=rss("a"), content_type="application/rss+xml")

    async def scenario() -> None:
        async with serving({"/old": moved, "/tmp": temporary, "/new": new}) as (server, client):
            permanent = await poll(client, str(server.make_url("/old")))
            again = await poll(client, str(server.make_url("/old")), permanent.state)
            temp = await poll(client, str(server.make_url("/tmp")))
            new_url = str(server.make_url("/new"))
        assert permanent.state.url == new_url
        assert permanent.state.feed_url.endswith("/old")  # the identity stays
        assert again.state.current_url == new_url
        assert temp.state.url is None

    run(scenario())


def test_410_parks_the_feed_at_once_and_a_later_success_revives_it() -> None:
    status = {"code": 410}

    async def handler(_: web.Request) -> web.Response:
        if status["code"] != 200:
            return web.Response(status=status["code"])
        return web.Response(body=rss("a"), content_type="application/rss+xml")

    async def scenario() -> None:
        schedule = replace(SCHEDULE, park_interval=timedelta(days=3))
        async with serving({"/f": handler}) as (server, client):
            url = str(server.make_url("/f"))
            gone = await poll(client, url, schedule=schedule)
            status["code"] = 200
            back = await poll(client, url, gone.state, schedule)
        assert gone.state.health == "gone"
        # Parked: probed after the park interval, beyond the 24 h max interval.
        assert gone.next_poll - gone.polled_at == timedelta(days=3)
        assert back.state.health == "ok"
        assert back.state.consecutive_errors == 0

    run(scenario())


def test_repeated_404_degrades_then_fails_then_parks_the_feed() -> None:
    async def handler(_: web.Request) -> web.Response:
        return web.Response(status=404)

    async def scenario() -> None:
        schedule = replace(SCHEDULE, gone_after_404s=4, failing_after=3)
        async with serving({"/f": handler}) as (server, client):
            url = str(server.make_url("/f"))
            results: list[PollResult] = []
            state = None
            for _ in range(4):
                results.append(await poll(client, url, state, schedule))
                state = results[-1].state
        assert [r.state.health for r in results] == ["degraded", "degraded", "failing", "gone"]
        assert [r.state.not_found for r in results] == [1, 2, 3, 4]
        assert "404" in (results[-1].state.health_reason or "")
        assert results[-1].state.errors == 4

    run(scenario())


def test_a_success_after_failures_is_ok_again_and_counts_are_kept() -> None:
    calls = {"n": 0}

    async def handler(_: web.Request) -> web.Response:
        calls["n"] += 1
        if calls["n"] <= 3:
            return web.Response(status=500)
        return web.Response(body=rss("a"), content_type="application/rss+xml")

    async def scenario() -> None:
        async with serving({"/f": handler}) as (server, client):
            url = str(server.make_url("/f"))
            state = None
            for _ in range(4):
                result = await poll(client, url, state)
                state = result.state
        assert result.state.health == "ok"
        assert (result.state.polls, result.state.errors) == (4, 3)
        assert result.state.items_emitted == 1

    run(scenario())


def test_old_items_republished_under_new_guids_are_not_emitted_again(tmp_path: Path) -> None:
    body = {"now": rss("a", "b")}

    async def handler(_: web.Request) -> web.Response:
        return web.Response(body=body["now"], content_type="application/rss+xml")

    async def scenario() -> None:
        async with serving({"/f": handler}) as (server, client):
            url = str(server.make_url("/f"))
            feed = FeedConfig(url=url, interval=INTERVAL)
            with FeedStateStore(tmp_path) as store:
                first = await poll_feed(client, feed, FeedState(url), schedule=SCHEDULE,
                                        known=store)
                store.commit_poll(first)
                body["now"] = body["now"].replace(b"<guid>g-", b"<guid>new-guid-")
                second = await poll_feed(client, feed, store.load(url), schedule=SCHEDULE,
                                         known=store)
        assert len(first.new_items) == 2
        assert second.new_items == ()
        assert len(second.adopted) == 2
        assert second.state.health == "degraded"
        assert "re-published" in (second.state.health_reason or "")

    run(scenario())


def test_rss_ttl_and_expires_are_floors_of_the_next_poll() -> None:
    expires = (datetime.now(UTC) + timedelta(hours=3)).strftime("%a, %d %b %Y %H:%M:%S GMT")

    async def ttl(_: web.Request) -> web.Response:
        return web.Response(body=rss("a", extra="<ttl>90</ttl>"),
                            content_type="application/rss+xml")

    async def sy(_: web.Request) -> web.Response:
        extra = "<sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>4</sy:updateFrequency>"
        return web.Response(body=rss("a", extra=extra), content_type="application/rss+xml")

    async def exp(_: web.Request) -> web.Response:
        return web.Response(body=rss("a"), content_type="application/rss+xml",
                            headers={"Expires": expires})

    async def scenario() -> None:
        async with serving({"/ttl": ttl, "/sy": sy, "/exp": exp}) as (server, client):
            by_ttl = await poll(client, str(server.make_url("/ttl")))
            by_sy = await poll(client, str(server.make_url("/sy")))
            by_expires = await poll(client, str(server.make_url("/exp")))
        assert by_ttl.next_poll - by_ttl.polled_at == timedelta(minutes=90)
        assert by_sy.next_poll - by_sy.polled_at == timedelta(hours=6)  # a day / 4
        # Expires is ~3 h ahead (whole seconds): the delay lies within a second of it.
        delay = by_expires.next_poll - by_expires.polled_at
        assert timedelta(hours=3) - timedelta(seconds=2) <= delay <= timedelta(hours=3)

    run(scenario())


def test_adaptive_interval_grows_while_nothing_changes_and_shrinks_when_most_items_are_new(
) -> None:
    schedule = replace(SCHEDULE, stretch=4.0)
    nominal = timedelta(seconds=100)
    quiet = schedule.adapt(nominal, None, changed=False)
    assert quiet == pytest.approx(110.0)
    all_seen = schedule.adapt(nominal, 100.0, changed=True, new=0, total=10)
    assert all_seen == pytest.approx(150.0)
    mostly_new = schedule.adapt(nominal, 100.0, changed=True, new=8, total=10)
    assert mostly_new == 50.0
    assert schedule.adapt(nominal, 390.0, changed=False) == 400.0  # nominal x stretch
    assert schedule.adapt(nominal, 30.0, changed=True, new=9, total=10) == 25.0
    # 1,728 items a day is one every 50 s: never wait longer than that.
    assert schedule.adapt(nominal, 100.0, changed=False, item_rate=1728.0) == 50.0


def test_jitter_only_brings_a_poll_forward() -> None:
    schedule = replace(SCHEDULE, jitter=0.2)
    rng = random.Random(3)
    delays = [schedule.after_success(timedelta(seconds=100), rng=rng) for _ in range(200)]
    assert all(timedelta(seconds=80) <= d <= timedelta(seconds=100) for d in delays)
    assert len(set(delays)) > 100


def test_json_feed_items_are_parsed_with_ids_dates_and_relative_links() -> None:
    body = json.dumps({
        "version": "https://jsonfeed.org/version/1.1", "title": "Wire",
        "home_page_url": "https://wire.example.net/",
        "items": [
            {"id": "w-1", "url": "/2021/06/north.html?utm_medium=feed",
             "title": "Clashes near a northern city", "content_text": "Residents  fled.",
             "date_published": "2021-06-22T09:30:00+04:30"},
            {"id": "w-2", "title": "No link here"},
            "not an object",
        ],
    }).encode()
    parsed = parse_feed(body, feed_url="https://wire.example.net/feed.json",
                        now=datetime(2021, 6, 23, tzinfo=UTC))
    assert parsed.version == "json1.1"
    (item,) = parsed.items
    assert item.url == "https://wire.example.net/2021/06/north.html"
    assert item.guid == "w-1"
    assert item.summary == "Residents fled."
    assert item.published == datetime(2021, 6, 22, 5, 0, tzinfo=UTC)
    assert item.feed_name == "Wire"
    assert parsed.skipped == 2


def test_google_news_sitemap_entries_become_items() -> None:
    body = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url><loc>https://daily.example.com/a/1?fbclid=x</loc>
    <news:news><news:publication><news:name>The Daily Example</news:name>
      <news:language>en</news:language></news:publication>
      <news:publication_date>2021-06-22T07:15:00Z</news:publication_date>
      <news:title>Governor speaks on security</news:title></news:news></url>
  <url><loc>https://daily.example.com/a/2</loc></url>
</urlset>"""
    parsed = parse_feed(body, feed_url="https://daily.example.com/news-sitemap.xml",
                        now=datetime(2021, 6, 23, tzinfo=UTC))
    assert parsed.version == "sitemap-news"
    first, second = parsed.items
    assert first.url == "https://daily.example.com/a/1"
    assert first.title == "Governor speaks on security"
    assert first.published == datetime(2021, 6, 22, 7, 15, tzinfo=UTC)
    assert first.feed_name == "The Daily Example"
    assert second.published is None


def test_retry_after_pauses_the_whole_host_for_every_feed_on_it() -> None:
    """A 429 with Retry-After on one feed holds back the host's other feeds; a feed on
    another host (by IP literal 127.0.0.1 vs name localhost) goes on."""
    hits: list[str] = []

    async def limited(request: web.Request) -> web.Response:
        hits.append(request.path)
        if request.path == "/busy":
            return web.Response(status=429, headers={"Retry-After": "3600"})
        return web.Response(body=rss("a"), content_type="application/rss+xml")

    async def scenario() -> None:
        delivered: list[PollResult] = []
        async with serving({"/busy": limited, "/calm": limited}) as (server, client):
            busy = str(server.make_url("/busy"))
            calm = str(server.make_url("/calm"))
            other = calm.replace("127.0.0.1", "localhost")
            loop = PollLoop(
                client, SCHEDULE, deliver=delivered.extend, load_states=lambda urls: {},
                known=NOTHING_DELIVERED, concurrency=1,
            )
            # The busy feed goes first (concurrency 1, due earliest); the others are due later.
            loop.assign({busy: FeedConfig(url=busy, interval=INTERVAL)})
            stop = asyncio.Event()
            task = asyncio.create_task(loop.run(stop.is_set))
            while not delivered:
                await asyncio.sleep(0.01)
            loop.assign({u: FeedConfig(url=u, interval=INTERVAL) for u in (busy, calm, other)})
            while len(delivered) < 2:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.3)  # would-be polls of the paused host have had their chance
            stop.set()
            await task
        assert [r.feed_url for r in delivered] == [busy, other]
        assert delivered[0].host_pause_s == 3600
        assert hits == ["/busy", "/calm"]
        assert loop.states[calm].polls == 0  # never polled: its host is paused

    run(scenario())


def test_an_unchanged_body_is_not_parsed_again() -> None:
    async def handler(_: web.Request) -> web.Response:
        return web.Response(body=rss("a"), content_type="application/rss+xml")

    async def scenario() -> None:
        async with serving({"/f": handler}) as (server, client):
            url = str(server.make_url("/f"))
            first = await poll(client, url)
            parses = PARSE_STATS.calls
            second = await poll(client, url, first.state)
            assert PARSE_STATS.calls == parses
        assert second.outcome == "unchanged"

    run(scenario())


def test_stopping_abandons_a_poll_still_dripping_after_the_stop_wait_and_records_nothing() -> None:
    released = asyncio.Event()
    started = asyncio.Event()

    async def drip(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await response.prepare(request)
        started.set()
        for byte in rss("a"):
            if released.is_set():
                break
            await response.write(bytes([byte]))
            await asyncio.sleep(1.0)
        return response

    async def scenario() -> None:
        delivered: list[PollResult] = []
        async with serving({"/drip": drip}) as (server, client):
            url = str(server.make_url("/drip"))
            loop = PollLoop(
                client, SCHEDULE, deliver=delivered.extend, load_states=lambda urls: {},
                known=NOTHING_DELIVERED, concurrency=4, stop_wait_s=0.5,
            )
            loop.assign({url: FeedConfig(url=url, interval=INTERVAL)})
            stop = asyncio.Event()
            task = asyncio.create_task(loop.run(stop.is_set))
            await started.wait()
            stop.set()
            # Without the stop wait, the loop would wait for the client's 60 s total timeout.
            await asyncio.wait_for(task, timeout=20)
            released.set()
        assert delivered == []  # abandoned, not recorded: polled again at the next start
        assert loop.states[url].polls == 0

    run(scenario())


def _open_state_store(data_dir: Path, start: Any) -> None:
    start.wait(10)
    FeedStateStore(data_dir).close()


def test_poller_processes_creating_one_state_file_at_the_same_moment_all_start(
    tmp_path: Path,
) -> None:
    """Several pollers started together on a fresh data folder each open the shared file."""
    context = multiprocessing.get_context("fork")
    for round_ in range(5):
        data_dir = tmp_path / f"round-{round_}"
        start = context.Barrier(6)
        workers = [context.Process(target=_open_state_store, args=(data_dir, start))
                   for _ in range(6)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(30)
        assert [w.exitcode for w in workers] == [0] * 6
