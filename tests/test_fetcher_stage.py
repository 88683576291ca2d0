"""The fetcher stage hands each page on as it arrives, not when the whole batch has."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import wait

import pytest
from aiohttp import web

from ingest.core.envelope import Event
from ingest.core.models import RawPage
from ingest.core.runtime import Inbound
from ingest.core.settings import load_settings
from ingest.fetcher.stage import FetcherStage
from tests.test_fetch import make_item, page

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def site() -> Iterator[tuple[str, threading.Event]]:
    """Pages on 127.0.0.1: /slow answers once the event is set, /fast/N at once."""
    release = threading.Event()
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()

    async def slow(_: web.Request) -> web.Response:
        while not release.is_set():
            await asyncio.sleep(0.01)
        return web.Response(text=page("late"), content_type="text/html")

    async def fast(request: web.Request) -> web.Response:
        return web.Response(text=page(request.match_info["n"]), content_type="text/html")

    async def start() -> web.AppRunner:
        app = web.Application()
        app.router.add_get("/slow", slow)
        app.router.add_get("/fast/{n}", fast)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return runner

    runner = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    yield f"http://127.0.0.1:{runner.addresses[0][1]}", release
    release.set()
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)


def inbound(offset: int, url: str) -> Inbound:
    item = make_item(url)
    return Inbound("news.items", 0, offset, item.item_id.encode(),
                   Event(item.item_id, item.ce_type, "/tests", None, item))


def test_fast_pages_are_done_while_a_slow_page_of_the_same_batch_still_downloads(
    site: tuple[str, threading.Event],
) -> None:
    base, release = site
    settings = load_settings(None, http={"allow_private_networks": True, "robots_txt": False})
    stage = FetcherStage(settings)
    try:
        urls = [f"{base}/fast/{n}" for n in range(3)] + [f"{base}/slow"]
        futures = stage.submit_batch([inbound(n, url) for n, url in enumerate(urls)])
        wait(futures[:3], timeout=20)
        assert [f.done() for f in futures] == [True, True, True, False]
        pages = [f.result()[0].payload for f in futures[:3]]  # type: ignore[index]
        assert [p.final_url for p in pages if isinstance(p, RawPage)] == urls[:3]
        release.set()
        (late,) = futures[3].result(timeout=20)  # type: ignore[misc]
        assert isinstance(late.payload, RawPage)
        assert "late" in late.payload.html
    finally:
        stage.close()
    assert not stage._loop_thread.is_alive()
