"""A loopback HTTP server for the demo feeds and pages, run from a background thread.

Routes: `/feeds/<name>.xml` (RSS 2.0), `/articles/<page>` (HTML) and `/` (an
index). Feeds and pages carry `ETag` and `Last-Modified` and answer a matching
conditional GET with 304, like a well-behaved news site, so a poller's
conditional requests can be exercised against it.

Used by `news-ingest demo` and by end-to-end tests, which need a real server
while their own thread runs something else (a broker client, a subprocess):
hence a thread with its own event loop instead of a coroutine API.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from types import TracebackType
from typing import Self

import structlog
from aiohttp import web

from ingest.demo import DEMO_FEEDS
from ingest.demo.catalogue import DemoPage, UnknownPage, load_page
from ingest.demo.rss import newest, render_rss

log = structlog.get_logger()

HOST = "127.0.0.1"
_FEED_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
_START_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class _Feed:
    pages: tuple[DemoPage, ...]
    last_modified: datetime
    tracking: bool


@dataclass(frozen=True)
class _Document:
    body: bytes
    content_type: str
    last_modified: datetime

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:20] + '"'


def _etag_matches(header: str, etag: str) -> bool:
    # RFC 9110 13.1.2: If-None-Match uses weak comparison, so W/ prefixes are ignored.
    if header.strip() == "*":
        return True
    tags = (t.strip().removeprefix("W/") for t in header.split(","))
    return etag in tags


def _not_modified(request: web.Request, doc: _Document) -> bool:
    # RFC 9110 13.2.2: If-Modified-Since is ignored when If-None-Match is present.
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        return _etag_matches(if_none_match, doc.etag)
    since = request.if_modified_since
    return since is not None and doc.last_modified.replace(microsecond=0) <= since


class DemoServer:
    """Serves a set of feeds of bundled pages on 127.0.0.1 from a background thread.

    Owns one daemon thread with its own event loop and one listening socket,
    both created by `start()` and released by `stop()` (or by the `with` block).
    `feeds` maps a feed name (served at `/feeds/<name>.xml`) to the page names it
    lists; by default the demo's `ledger` and `courier` feeds. Item links of the
    feeds in `tracking_feeds` carry utm_* parameters (by default only the demo's
    `courier`, as a syndicating site would add them). `set_feed`, `request_log`
    and the URL helpers may be called from any thread.
    """

    def __init__(
        self,
        feeds: Mapping[str, Sequence[str]] | None = None,
        *,
        tracking_feeds: Collection[str] | None = None,
        port: int = 0,
    ) -> None:
        if feeds is None:
            feeds = DEMO_FEEDS
            tracking_feeds = {"courier"} if tracking_feeds is None else tracking_feeds
        self._tracking = frozenset(tracking_feeds or ())
        self._lock = threading.Lock()
        self._feeds: dict[str, _Feed] = {}
        self._log: list[tuple[str, int]] = []
        for name, pages in feeds.items():
            self.set_feed(name, pages)
        self._port = port
        self._base_url: str | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # --- lifecycle -----------------------------------------------------------

    def start(self) -> Self:
        """Bind the socket and start serving; returns once requests are accepted."""
        if self._thread is not None:
            raise RuntimeError("DemoServer already started")
        self._thread = threading.Thread(target=self._serve, name="demo-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT_S):
            raise RuntimeError("demo server did not start in time")
        if self._error is not None:
            self._thread.join()
            raise RuntimeError(f"demo server failed to start: {self._error}") from self._error
        log.info("demo_server_started", base_url=self.base_url, feeds=list(self.feed_urls))
        return self

    def stop(self) -> None:
        """Close the socket and end the thread; safe to call twice."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None or loop is None or stopping is None or not thread.is_alive():
            return
        loop.call_soon_threadsafe(stopping.set)
        thread.join()
        log.info("demo_server_stopped", base_url=self._base_url)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.close()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        runner = web.AppRunner(self._app(), access_log=None, shutdown_timeout=2.0)
        try:
            await runner.setup()
            await web.TCPSite(runner, HOST, self._port).start()
            port = runner.addresses[0][1]
        except BaseException as exc:  # handed to start() in the caller's thread
            self._error = exc
            await runner.cleanup()
            self._ready.set()
            return
        self._base_url = f"http://{HOST}:{port}"
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            await runner.cleanup()

    # --- URLs and content -----------------------------------------------------

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`, without a trailing slash; only once started."""
        if self._base_url is None:
            raise RuntimeError("DemoServer is not started")
        return self._base_url

    @property
    def feed_urls(self) -> list[str]:
        """Every feed's URL, in the order the feeds were given."""
        with self._lock:
            names = list(self._feeds)
        return [self.feed_url(name) for name in names]

    def feed_url(self, name: str) -> str:
        return f"{self.base_url}/feeds/{name}.xml"

    def page_url(self, name: str) -> str:
        """A bundled page's URL (without tracking parameters)."""
        return f"{self.base_url}{load_page(name).path()}"

    def set_feed(self, name: str, pages: Sequence[str]) -> None:
        """Create or replace feed `name` with `pages`, e.g. to publish a story mid-test.

        The feed's Last-Modified moves forward by at least a second on every
        change, so clients that only send If-Modified-Since still see it.
        """
        if not _FEED_NAME.fullmatch(name):
            raise ValueError(f"feed name must match {_FEED_NAME.pattern}: {name!r}")
        loaded = tuple(load_page(p) for p in pages)
        with self._lock:
            previous = self._feeds.get(name)
            modified = newest(loaded)
            if previous is not None:
                modified = max(modified, previous.last_modified + timedelta(seconds=1))
            self._feeds[name] = _Feed(loaded, modified, name in self._tracking)

    def request_log(self) -> list[tuple[str, int]]:
        """(path with query, status) of every request answered so far, oldest first."""
        with self._lock:
            return list(self._log)

    # --- HTTP -----------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self._index)
        app.router.add_get("/feeds/{name}.xml", self._feed)
        app.router.add_get("/articles/{name}", self._page)
        return app

    def _respond(self, request: web.Request, doc: _Document) -> web.Response:
        headers = {
            "ETag": doc.etag,
            "Last-Modified": format_datetime(doc.last_modified.astimezone(UTC), usegmt=True),
        }
        if _not_modified(request, doc):
            response = web.Response(status=304, headers=headers)
        else:
            headers["Content-Type"] = doc.content_type
            response = web.Response(body=doc.body, headers=headers)
        self._record(request, response.status)
        return response

    def _record(self, request: web.Request, status: int) -> None:
        with self._lock:
            self._log.append((request.path_qs, status))

    def _not_found(self, request: web.Request) -> web.Response:
        self._record(request, 404)
        return web.Response(status=404, text="not found\n")

    async def _feed(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        with self._lock:
            feed = self._feeds.get(name)
        if feed is None:
            return self._not_found(request)
        title = feed.pages[0].site_name if feed.pages else name
        body = render_rss(
            title=title,
            base_url=self.base_url,
            self_path=request.path,
            pages=feed.pages,
            tracking=feed.tracking,
        )
        doc = _Document(body, "application/rss+xml; charset=utf-8", feed.last_modified)
        return self._respond(request, doc)

    async def _page(self, request: web.Request) -> web.Response:
        try:
            page = load_page(request.match_info["name"])
        except UnknownPage:
            return self._not_found(request)
        body = page.render(self.base_url).encode("utf-8")
        return self._respond(request, _Document(body, "text/html; charset=utf-8", page.published))

    async def _index(self, request: web.Request) -> web.Response:
        with self._lock:
            names = list(self._feeds)
        links = "".join(f'<li><a href="/feeds/{escape(n)}.xml">{escape(n)}</a></li>' for n in names)
        html = (
            '<!DOCTYPE html><html lang="en"><head><title>Demo feeds</title></head>'
            f"<body><h1>Demo feeds</h1><ul>{links}</ul></body></html>"
        )
        self._record(request, 200)
        return web.Response(text=html, content_type="text/html")
