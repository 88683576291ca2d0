"""poll_feed against a real feed server on 127.0.0.1, and the durable feed state."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from ingest.core.http_client import HttpClient
from ingest.core.models import Item
from ingest.core.settings import FeedConfig, HttpSettings
from ingest.poller.feeds import PARSE_STATS, entry_key
from ingest.poller.poll import PollResult, poll_feed
from ingest.poller.schedule import PollSchedule, max_age_seconds
from ingest.poller.state import FeedState, FeedStateStore
from ingest.poller.urls import item_id

INTERVAL = timedelta(seconds=60)
ETAG = '"feed-v1"'
LAST_MODIFIED = "Tue, 22 Jun 2021 08:00:00 GMT"


def rss(*slugs: str, title: str = "Provincial Desk") -> bytes:
    items = "".join(
        f"<item><title>Story {slug}</title><link>/news/{slug}.html?utm_source=rss</link>"
        f"<pubDate>Tue, 22 Jun 2021 07:00:00 GMT</pubDate></item>"
        for slug in slugs
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>https://desk.example.org/</link>{items}</channel></rss>"
    ).encode()


@dataclass
class FeedServer:
    """A feed endpoint whose answer each test sets; it honours validators when it has them."""

    body: bytes = b""
    status: int = 200
    etag: str | None = None
    last_modified: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    seen: list[dict[str, str]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append(dict(request.headers))
        if self.delay:
            await asyncio.sleep(self.delay)
        validators = {"ETag": self.etag, "Last-Modified": self.last_modified}
        sent = {k: v for k, v in validators.items() if v is not None}
        if (self.etag and request.headers.get("If-None-Match") == self.etag) or (
            self.last_modified and request.headers.get("If-Modified-Since") == self.last_modified
        ):
            return web.Response(status=304, headers=sent)
        return web.Response(
            status=self.status,
            body=self.body,
            headers={"Content-Type": "application/rss+xml", **sent, **self.headers},
        )


@dataclass
class Rig:
    server: TestServer
    client: HttpClient
    feed: FeedConfig

    async def poll(self, state: FeedState | None = None, **kwargs: Any) -> PollResult:
        kwargs.setdefault("schedule", PollSchedule(jitter=0.0))
        return await poll_feed(
            self.client,
            self.feed,
            state or FeedState(feed_url=self.feed.url),
            rng=random.Random(7),
            **kwargs,
        )


@asynccontextmanager
async def rig(feed_server: FeedServer, **http: Any) -> AsyncIterator[Rig]:
    app = web.Application()
    app.router.add_get("/feeds/desk.xml", feed_server.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    client = HttpClient(HttpSettings(**{"allow_private_networks": True, **http}))
    feed = FeedConfig(url=str(server.make_url("/feeds/desk.xml")), interval=INTERVAL)
    try:
        yield Rig(server, client, feed)
    finally:
        await client.close()
        await server.close()


def run(coro: Awaitable[Any]) -> Any:
    async def main() -> Any:
        return await coro

    return asyncio.run(main())


def test_first_poll_returns_every_item_with_validators_and_the_interval() -> None:
    async def scenario() -> None:
        server = FeedServer(body=rss("a", "b"), etag=ETAG, last_modified=LAST_MODIFIED)
        async with rig(server) as r:
            result = await r.poll()
            base = str(r.server.make_url("/news/"))
        assert result.outcome == "new_items"
        assert result.status == 200
        # Relative links resolved against the feed URL, tracking parameter gone.
        assert [i.url for i in result.new_items] == [f"{base}a.html", f"{base}b.html"]
        assert result.state.etag == ETAG
        assert result.state.last_modified == LAST_MODIFIED
        assert result.state.content_hash is not None
        assert result.state.consecutive_errors == 0
        assert result.next_poll == result.polled_at + INTERVAL
        assert result.state.emitted == {entry_key(i) for i in result.new_items}

    run(scenario())


def test_stored_validators_are_sent_and_304_is_not_parsed() -> None:
    async def scenario() -> None:
        server = FeedServer(body=rss("a"), etag=ETAG, last_modified=LAST_MODIFIED)
        async with rig(server) as r:
            first = await r.poll()
            parses = PARSE_STATS.calls
            second = await r.poll(first.state)
        assert server.seen[1]["If-None-Match"] == ETAG
        assert server.seen[1]["If-Modified-Since"] == LAST_MODIFIED
        assert (second.outcome, second.status, second.new_items) == ("not_modified", 304, ())
        assert PARSE_STATS.calls == parses
        assert second.state.etag == ETAG

    run(scenario())


def test_last_modified_alone_gives_304() -> None:
    async def scenario() -> None:
        server = FeedServer(body=rss("a"), last_modified=LAST_MODIFIED)
        async with rig(server) as r:
            second = await r.poll((await r.poll()).state)
        assert "If-None-Match" not in server.seen[1]
        assert second.outcome == "not_modified"

    run(scenario())


def test_same_body_without_validators_is_recognised_by_hash_and_not_parsed() -> None:
    async def scenario() -> None:
        server = FeedServer(body=rss("a", "b"))
        async with rig(server) as r:
            first = await r.poll()
            parses = PARSE_STATS.calls
            second = await r.poll(first.state)
        assert (second.outcome, second.status, second.new_items) == ("unchanged", 200, ())
        assert PARSE_STATS.calls == parses

    run(scenario())


def test_only_items_not_yet_emitted_are_new() -> None:
    async def scenario() -> None:
        server = FeedServer(body=rss("a", "b"))
        async with rig(server) as r:
            first = await r.poll()
            server.body = rss("c", "a", "b")
            second = await r.poll(first.state)
            server.body = rss("c", "a", "b", title="Renamed Desk")
            third = await r.poll(second.state)
        assert second.outcome == "new_items"
        assert [i.url.rsplit("/", 1)[1] for i in second.new_items] == ["c.html"]
        assert (third.outcome, third.new_items) == ("no_new_items", ())

    run(scenario())


def test_committed_state_survives_a_restart_and_nothing_is_emitted_twice(tmp_path: Path) -> None:
    async def scenario() -> None:
        server = FeedServer(body=rss("a", "b"), etag=ETAG)
        async with rig(server) as r:
            with FeedStateStore(tmp_path / "data") as store:
                first = await r.poll(store.load(r.feed.url))
                store.commit_poll(first)
            # A new process: the same folder, a fresh store; the feed changed meanwhile.
            server.etag, server.body = '"feed-v2"', rss("b", "a", title="Desk, edited")
            with FeedStateStore(tmp_path / "data") as store:
                loaded = store.load(r.feed.url)
                second = await r.poll(loaded)
        assert loaded.etag == ETAG
        assert loaded.content_hash == first.state.content_hash
        assert loaded.emitted == {entry_key(i) for i in first.new_items}
        assert loaded.next_poll == first.next_poll
        assert server.seen[1]["If-None-Match"] == ETAG
        assert (second.outcome, second.new_items) == ("no_new_items", ())

    run(scenario())


def test_items_of_an_uncommitted_poll_are_offered_again(tmp_path: Path) -> None:
    """A crash between producing and committing re-emits rather than loses."""

    async def scenario() -> None:
        server = FeedServer(body=rss("a"), etag=ETAG)
        async with rig(server) as r:
            with FeedStateStore(tmp_path) as store:
                first = await r.poll(store.load(r.feed.url))
                again = await r.poll(store.load(r.feed.url))  # first was never committed
        assert "If-None-Match" not in server.seen[1]
        assert [i.item_id for i in again.new_items] == [i.item_id for i in first.new_items]
        assert len(first.new_items) == 1

    run(scenario())


def test_a_body_that_is_not_a_feed_is_an_error_outcome_with_the_reason() -> None:
    cases = [
        (b"<!doctype html><html><body><h1>Welcome</h1></body></html>", "HTML page"),
        (b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</tit', "malformed"),
        (b"", "empty body"),
    ]

    async def scenario() -> None:
        server = FeedServer()
        async with rig(server) as r:
            for body, reason in cases:
                server.body = body
                result = await r.poll()
                assert result.outcome == "error"
                assert result.reason is not None
                assert reason in result.reason
                assert r.feed.url in result.reason
                assert result.new_items == ()
                assert result.state.last_error == result.reason
                assert result.state.content_hash is None  # a broken body is not remembered

    run(scenario())


def test_http_error_status_backs_off_exponentially_with_jitter() -> None:
    async def scenario() -> None:
        server = FeedServer(status=404, body=b"gone")
        async with rig(server) as r:
            first = await r.poll()
            fourth = await r.poll(replace(first.state, consecutive_errors=3))
        assert first.outcome == "error"
        assert first.reason is not None
        assert "HTTP 404" in first.reason
        assert first.state.consecutive_errors == 1
        # One error: 60 s doubled once, jittered by ±20 % → 96..144 s.
        delay = first.next_poll - first.polled_at
        assert timedelta(seconds=96) <= delay <= timedelta(seconds=144)
        # Four errors: 60 s * 2**4 = 960 s, jittered → 768..1152 s.
        assert fourth.state.consecutive_errors == 4
        delay = fourth.next_poll - fourth.polled_at
        assert timedelta(seconds=768) <= delay <= timedelta(seconds=1152)

    run(scenario())


def test_retry_after_on_429_sets_the_next_poll() -> None:
    async def scenario() -> None:
        server = FeedServer(status=429, headers={"Retry-After": "3600"})
        async with rig(server) as r:
            result = await r.poll()
        assert result.outcome == "error"
        assert result.status == 429
        # The backoff (at most 144 s) is shorter than what the server asked for.
        assert result.next_poll == result.polled_at + timedelta(seconds=3600)

    run(scenario())


def test_retry_after_on_503_is_clamped_to_the_max_interval() -> None:
    async def scenario() -> None:
        server = FeedServer(status=503, headers={"Retry-After": str(3 * 86400)})
        schedule = PollSchedule(max_interval=timedelta(hours=24), jitter=0.0)
        async with rig(server) as r:
            result = await r.poll(schedule=schedule)
        assert result.next_poll == result.polled_at + timedelta(hours=24)

    run(scenario())


def test_cache_control_max_age_longer_than_the_interval_delays_the_next_poll() -> None:
    async def scenario() -> None:
        server = FeedServer(body=rss("a"), headers={"Cache-Control": "public, max-age=7200"})
        async with rig(server) as r:
            result = await r.poll()
        assert result.next_poll == result.polled_at + timedelta(seconds=7200)

    run(scenario())


def test_feed_over_the_size_cap_is_an_error() -> None:
    async def scenario() -> None:
        server = FeedServer(body=rss(*(f"story-{n:04d}" for n in range(300))))
        assert len(server.body) > 20_000
        async with rig(server, max_feed_bytes=10_000) as r:
            result = await r.poll()
        assert result.outcome == "error"
        assert result.reason is not None
        assert "10000 byte cap" in result.reason

    run(scenario())


def test_slow_feed_times_out_as_an_error_outcome() -> None:
    async def scenario() -> None:
        server = FeedServer(body=rss("a"), delay=2.0)
        async with rig(server, read_timeout=0.3, total_timeout=0.5) as r:
            result = await r.poll()
        assert result.outcome == "error"
        assert result.reason is not None
        assert "timeout" in result.reason

    run(scenario())


def test_refused_private_address_is_an_error_outcome() -> None:
    async def scenario() -> None:
        server = FeedServer(body=rss("a"))
        async with rig(server, allow_private_networks=False) as r:
            result = await r.poll()
        assert result.outcome == "error"
        assert result.reason is not None
        assert "non-public address" in result.reason
        assert server.seen == []

    run(scenario())


# --- schedule ----------------------------------------------------------------


def test_backoff_never_exceeds_the_max_interval() -> None:
    schedule = PollSchedule(max_interval=timedelta(hours=6))
    for seed in range(20):
        delay = schedule.after_error(INTERVAL, 40, rng=random.Random(seed))
        assert timedelta(hours=6) * 0.8 <= delay <= timedelta(hours=6)


def test_max_age_parsing() -> None:
    assert max_age_seconds("public, max-age=300") == 300.0
    assert max_age_seconds("s-maxage=900, max-age=60") == 900.0
    assert max_age_seconds("no-store, max-age=300") is None
    assert max_age_seconds("no-cache") is None
    assert max_age_seconds(None) is None


# --- durable state -----------------------------------------------------------

T0 = datetime(2021, 6, 1, tzinfo=UTC)
FEED_URL = "https://desk.example.org/feed.xml"


def item(slug: str) -> Item:
    url = f"https://desk.example.org/{slug}"
    return Item(
        item_id=item_id(url), url=url, feed_url=FEED_URL, feed_name="Desk", discovered_at=T0
    )


def polled(
    when: datetime, items: list[Item], new: list[Item], outcome: str = "new_items"
) -> PollResult:
    state = FeedState(feed_url=FEED_URL, etag='"e"', next_poll=when + INTERVAL)
    parsed = outcome in ("new_items", "no_new_items")
    return PollResult(
        feed_url=FEED_URL,
        outcome=outcome,  # type: ignore[arg-type]
        status=200 if parsed else 304,
        new_items=tuple(new),
        seen_keys=tuple(entry_key(i) for i in items) if parsed else (),
        state=state,
        reason=None,
        polled_at=when,
        elapsed_ms=1.0,
    )


def test_emitted_ids_absent_from_the_feed_for_the_retention_period_are_forgotten(
    tmp_path: Path,
) -> None:
    a, b = item("a"), item("b")
    with FeedStateStore(tmp_path, retention=timedelta(days=30)) as store:
        store.commit_poll(polled(T0, [a, b], [a, b]))
        store.commit_poll(polled(T0 + timedelta(days=10), [b], []))  # a leaves the feed
        assert store.load(FEED_URL).emitted == {entry_key(a), entry_key(b)}
        store.commit_poll(polled(T0 + timedelta(days=31), [b], []))
        # a was last seen 31 days ago (> 30); b is in the latest body.
        assert store.load(FEED_URL).emitted == {entry_key(b)}


def test_entries_of_a_feed_that_stays_unchanged_are_never_forgotten(tmp_path: Path) -> None:
    a = item("a")
    with FeedStateStore(tmp_path, retention=timedelta(days=30)) as store:
        store.commit_poll(polled(T0, [a], [a]))
        store.commit_poll(polled(T0 + timedelta(days=90), [], [], outcome="not_modified"))
        store.commit_poll(polled(T0 + timedelta(days=91), [a], [], outcome="no_new_items"))
        assert store.load(FEED_URL).emitted == {entry_key(a)}


def test_a_body_is_checked_against_the_history_for_its_own_entries_only(tmp_path: Path) -> None:
    """Lookups by key and by item id answer for the asked entries of this feed, in
    batches larger than one query takes."""
    history = [item(f"old-{n}") for n in range(1_200)]
    other_feed = item("elsewhere").model_copy(update={"feed_url": "https://other.example/f"})
    with FeedStateStore(tmp_path) as store:
        store.mark_emitted(FEED_URL, history, T0)
        store.mark_emitted(other_feed.feed_url, [other_feed], T0)
        fresh = [item(f"new-{n}") for n in range(500)]
        asked = [*history[100:700], *fresh, other_feed]  # 1,101 asked, 600 delivered here
        delivered = store.keys_among(FEED_URL, [entry_key(i) for i in asked])
        assert delivered == {entry_key(i) for i in history[100:700]}
        by_id = store.ids_among(FEED_URL, [i.item_id for i in asked])
        assert by_id == {i.item_id for i in history[100:700]}
        assert store.keys_among(FEED_URL, []) == frozenset()


def test_mark_emitted_records_delivered_items(tmp_path: Path) -> None:
    a = item("a")
    with FeedStateStore(tmp_path) as store:
        store.mark_emitted(FEED_URL, [a], T0)
    with FeedStateStore(tmp_path) as store:
        assert store.load(FEED_URL).emitted == {entry_key(a)}


def test_a_different_broker_forgets_emitted_items_and_validators(tmp_path: Path) -> None:
    a = item("a")
    with FeedStateStore(tmp_path) as store:
        assert store.adopt_broker("cluster-1") is False
        store.commit_poll(polled(T0, [a], [a]))
        assert store.adopt_broker("cluster-1") is False
        assert store.load(FEED_URL).emitted == {entry_key(a)}
        assert store.adopt_broker("cluster-2") is True
        state = store.load(FEED_URL)
    assert (state.emitted, state.etag, state.next_poll) == (frozenset(), None, None)


def test_unknown_feed_loads_as_a_blank_state(tmp_path: Path) -> None:
    with FeedStateStore(tmp_path) as store:
        assert store.load(FEED_URL) == FeedState(feed_url=FEED_URL)
        assert store.next_polls() == {}
