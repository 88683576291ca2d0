"""The loopback HTTP server `bench/stage_memory.py` runs in a child process.

- `GET /f/<feed>.xml`: an RSS feed whose newest `PER_POLL` items are new at
  every request (it lists the last `LISTED` items), so every poll finds work.
  Item links name a public-looking host: the poller never fetches them, and
  feedparser-rs (the poller's fast path) blanks links to loopback hosts;
- `GET /p/<n>`: the small news page `stage_memory_data.page_for(n)`;
- `POST /hook`: a webhook receiver that answers 204;
- `GET /stats`: what was served, as JSON.

It runs in its own process so that its memory and interpreter lock are not
the measured stage's.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections import Counter
from email.utils import format_datetime
from typing import Any

from aiohttp import web
from stage_memory_data import START, STEP, page_for

PER_POLL = 10
LISTED = 20


def _feed(name: str, newest: int, base: str) -> str:
    items = []
    for k in range(max(0, newest - LISTED), newest):
        when = format_datetime(START + k * STEP)
        items.append(f"<item><title>{name} story {k}</title><link>https://news.example/{name}/{k}</link>"
                     f"<guid isPermaLink='false'>{name}-{k}</guid><pubDate>{when}</pubDate>"
                     f"<description>Story {k} of feed {name}.</description></item>")
    return (f"<?xml version='1.0'?><rss version='2.0'><channel><title>{name}</title>"
            f"<link>{base}/</link><description>bench feed</description>{''.join(items)}"
            "</channel></rss>")


def _app(stats: Counter[str], polls: Counter[str]) -> web.Application:
    async def feed(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        polls[name] += 1
        stats["feed_requests"] += 1
        base = f"http://{request.host}"
        return web.Response(text=_feed(name, polls[name] * PER_POLL, base),
                            content_type="application/rss+xml")

    async def page(request: web.Request) -> web.Response:
        stats["pages"] += 1
        return web.Response(text=page_for(int(request.match_info["n"])), content_type="text/html")

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        stats["hooks"] += 1
        return web.Response(status=204)

    async def report(_: web.Request) -> web.Response:
        return web.json_response(dict(stats))

    app = web.Application()
    app.router.add_get("/f/{name}.xml", feed)
    app.router.add_get(r"/p/{n:\d+}", page)
    app.router.add_post("/hook", hook)
    app.router.add_get("/stats", report)
    return app


def _serve(conn: Any) -> None:
    async def main() -> None:
        runner = web.AppRunner(_app(Counter(), Counter()), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        conn.send(runner.addresses[0][1])
        await asyncio.Event().wait()

    asyncio.run(main())


class LoopbackServer:
    """Starts the server process; `base` is its URL; `stop()` ends it."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child,), daemon=True)
        self._process.start()
        self.base = f"http://127.0.0.1:{parent.recv()}"

    def stop(self) -> None:
        self._process.kill()
        self._process.join(10)
