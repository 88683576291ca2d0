"""robots.txt, host pacing and SSRF refusal for article pages, against loopback servers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ingest.core.http_client import HttpClient
from ingest.core.models import Item
from ingest.core.settings import HttpSettings
from ingest.fetcher.fetch import FetchError, fetch_page
from ingest.fetcher.pacing import HostPacer
from ingest.fetcher.robots import RobotsCache
from ingest.poller.opml import read_opml, write_opml
from ingest.poller.urls import item_id

ROBOTS = "User-agent: *\nDisallow: /private/\n\nUser-agent: news-ingest\nDisallow: /no-bots/\n"


def run(coro: Awaitable[Any]) -> Any:
    async def main() -> Any:
        return await coro

    return asyncio.run(main())


def item(url: str) -> Item:
    return Item(item_id=item_id(url), url=url, feed_url="http://127.0.0.1/feed",
                feed_name="Desk", discovered_at=datetime(2021, 6, 22, tzinfo=UTC))


def test_robots_txt_is_fetched_once_per_host_and_disallowed_pages_are_permanent_errors() -> None:
    robots_hits: list[str] = []

    async def robots(_: web.Request) -> web.Response:
        robots_hits.append("robots")
        return web.Response(text=ROBOTS)

    async def page(_: web.Request) -> web.Response:
        return web.Response(text="<html><body><p>Story text.</p></body></html>",
                            content_type="text/html")

    async def scenario() -> None:
        app = web.Application()
        app.router.add_get("/robots.txt", robots)
        app.router.add_get("/{tail:.*}", page)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        client = HttpClient(HttpSettings(allow_private_networks=True))
        cache = RobotsCache(client, ttl_s=3600)
        try:
            ok = await fetch_page(client, item(str(server.make_url("/news/a"))), 100_000,
                                  robots=cache)
            # RFC 9309: the group naming our product token replaces the `*` group.
            ours_private = await fetch_page(client, item(str(server.make_url("/private/b"))),
                                            100_000, robots=cache)
            with pytest.raises(FetchError) as ours:
                await fetch_page(client, item(str(server.make_url("/no-bots/c"))), 100_000,
                                 robots=cache)
            other = RobotsCache(client, ttl_s=60, agent="otherbot")
            with pytest.raises(FetchError) as private:
                await fetch_page(client, item(str(server.make_url("/private/b"))), 100_000,
                                 robots=other)
            allowed = await fetch_page(client, item(str(server.make_url("/no-bots/c"))),
                                       100_000, robots=other)
        finally:
            await client.close()
            await server.close()
        assert ok.status == 200
        assert ours_private.status == 200
        assert allowed.status == 200
        assert private.value.permanent
        assert "robots.txt" in str(private.value)
        assert ours.value.permanent
        assert robots_hits == ["robots", "robots"]  # one per cache, not one per page

    run(scenario())


def test_missing_robots_txt_allows_and_a_failing_one_refuses_for_now() -> None:
    async def broken(_: web.Request) -> web.Response:
        return web.Response(status=503)

    async def page(_: web.Request) -> web.Response:
        return web.Response(text="<html><body>x</body></html>", content_type="text/html")

    async def scenario() -> None:
        plain = web.Application()
        plain.router.add_get("/a", page)
        failing = web.Application()
        failing.router.add_get("/robots.txt", broken)
        failing.router.add_get("/a", page)
        s1, s2 = TestServer(plain, host="127.0.0.1"), TestServer(failing, host="127.0.0.1")
        await s1.start_server()
        await s2.start_server()
        client = HttpClient(HttpSettings(allow_private_networks=True))
        cache = RobotsCache(client, ttl_s=3600)
        try:
            page_ok = await fetch_page(client, item(str(s1.make_url("/a"))), 10_000,
                                       robots=cache)
            with pytest.raises(FetchError) as refused:
                await fetch_page(client, item(str(s2.make_url("/a"))), 10_000, robots=cache)
        finally:
            await client.close()
            await s1.close()
            await s2.close()
        assert page_ok.status == 200
        assert not refused.value.permanent  # retried later, when robots.txt may be back

    run(scenario())


def test_private_addresses_are_refused_unless_allowed() -> None:
    async def scenario() -> None:
        client = HttpClient(HttpSettings(allow_private_networks=False))
        try:
            for url in ("http://127.0.0.1:9/a", "http://10.1.2.3/a", "http://169.254.169.254/x",
                        "http://[::1]/a"):
                with pytest.raises(FetchError) as refused:
                    await fetch_page(client, item(url), 10_000)
                assert refused.value.permanent
                assert "non-public address" in str(refused.value)
        finally:
            await client.close()

    run(scenario())


def test_host_pacer_reserves_slots_spaced_per_host_and_honours_pauses() -> None:
    pacer = HostPacer(spacing_s=5.0)

    async def scenario() -> None:
        await pacer.wait("a.example")  # first request: no wait
        first = pacer._next["a.example"]
        pacer.pause("b.example", 100.0)
        waiter = asyncio.create_task(pacer.wait("a.example", crawl_delay=12.0))
        await asyncio.sleep(0)
        # The second request to a.example was given the slot 5 s after the first,
        # and reserved the next one 12 s (its Crawl-delay) after that.
        assert pacer._next["a.example"] == first + 12.0
        assert pacer._next["b.example"] - pacer._next["a.example"] > 80.0
        waiter.cancel()

    run(scenario())


def test_opml_round_trip_keeps_every_feed_and_name() -> None:
    source = b"""<?xml version="1.0"?>
<opml version="1.0"><head><title>Mine</title></head><body>
  <outline text="Regional">
    <outline text="Provincial Desk" type="rss" xmlUrl="https://desk.example.org/rss.xml"/>
    <outline title="Wire &amp; Co" text="w" type="rss" xmlUrl="https://wire.example.net/feed"/>
  </outline>
  <outline text="dup" xmlUrl="https://desk.example.org/rss.xml"/>
  <outline text="not a feed" xmlUrl="ftp://files.example.org/x"/>
</body></opml>"""
    feeds = read_opml(source)
    assert [(f.url, f.name) for f in feeds] == [
        ("https://desk.example.org/rss.xml", "Provincial Desk"),
        ("https://wire.example.net/feed", "Wire & Co"),
    ]
    again = read_opml(write_opml(feeds))
    assert [(f.url, f.name) for f in again] == [(f.url, f.name) for f in feeds]
