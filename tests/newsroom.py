"""A loopback newsroom for end-to-end tests: generated filler stories plus the demo pages.

Filler stories are ordinary local news (budgets, harvests, schools) with no
armed group and no incursion, each with text of its own, so that a stream of
any length can flow through the pipeline while the expected alerts come only
from the bundled demo story.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape

from aiohttp import web

from ingest.demo.catalogue import load_page

CITIES = ["Herat", "Bamyan", "Jalalabad", "Mazar-i-Sharif", "Ghazni", "Khost", "Charikar",
          "Gardez", "Zaranj", "Asadabad", "Mehtarlam", "Aybak"]
TOPICS = [
    ("budget", "the provincial council approved a budget for road repairs and clinics"),
    ("harvest", "farmers reported a larger wheat harvest after a wet spring"),
    ("schools", "education officials opened new classrooms for primary pupils"),
    ("water", "engineers finished a canal that brings water to several villages"),
    ("market", "traders said prices of flour and cooking oil had eased"),
    ("health", "a vaccination drive reached families in remote valleys"),
]
FIRST_NAMES = ["Ahmad", "Fatima", "Nasir", "Zahra", "Karim", "Laila", "Omid", "Parwana"]


def filler_story(n: int) -> tuple[str, str]:
    """(title, html body paragraphs) of filler story number `n`; deterministic."""
    rng = random.Random(n)
    city = rng.choice(CITIES)
    topic, lead = rng.choice(TOPICS)
    people = rng.sample(FIRST_NAMES, 3)
    figures = [rng.randint(3, 900) for _ in range(6)]
    paragraphs = [
        f"In {city}, {lead}, according to a statement issued on day {n} of the month.",
        f"{people[0]}, a local official, said {figures[0]} families would benefit and that "
        f"work on the {topic} programme had taken {figures[1]} days.",
        f"Residents interviewed in the bazaar described the change as welcome; one shopkeeper, "
        f"{people[1]}, said she had waited {figures[2]} weeks for news of it.",
        f"The plan is funded by {figures[3]} thousand afghanis from the provincial office and "
        f"a grant covering {figures[4]} percent of the remaining cost, officials said.",
        f"Story number {n} in this series was reported by {people[2]}, who visited "
        f"{figures[5]} households over several days to check the figures.",
        "Officials said they would publish a second report once the season ends and "
        "invited residents to send comments to the council's office.",
    ]
    title = f"{city}: {topic} news, report {n}"
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return title, body


def filler_page(n: int, published: datetime) -> str:
    title, body = filler_story(n)
    return (
        f'<!doctype html><html lang="en"><head><title>{escape(title)}</title>'
        f'<meta property="og:site_name" content="Provincial Bulletin">'
        f'<meta property="article:published_time" content="{published.isoformat()}">'
        f"</head><body><nav><a href='/'>Home</a> <a href='/about'>About</a></nav>"
        f"<article><h1>{escape(title)}</h1>{body}</article>"
        f"<footer>Provincial Bulletin. All rights reserved.</footer></body></html>"
    )


class Newsroom:
    """Serves `/feeds/<name>.xml` and `/articles/<id>` on 127.0.0.1 from a thread.

    `feeds` maps a feed name to entries: an int is filler story n, a str is a
    bundled demo page name.
    """

    def __init__(
        self, feeds: dict[str, Sequence[int | str]], page_delay: float = 0.0,
        publish_rate: float | None = None,
    ) -> None:
        self.feeds = feeds
        self.page_delay = page_delay  # seconds before each article page is answered
        # Items per second a feed gains, counted from its first request (None: all at once).
        self.publish_rate = publish_rate
        self._first_request: dict[str, float] = {}
        self.base_url = ""
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.start_time = datetime(2021, 6, 21, 6, 0, tzinfo=UTC)

    def __enter__(self) -> Newsroom:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/feeds/{name}.xml", self._feed)
        app.router.add_get("/articles/{name}", self._article)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"

    def feed_url(self, name: str) -> str:
        return f"{self.base_url}/feeds/{name}.xml"

    def url_of(self, entry: int | str) -> str:
        return f"{self.base_url}/articles/{entry if isinstance(entry, str) else f'story-{entry}'}"

    def published(self, entry: int | str) -> datetime:
        if isinstance(entry, str):
            return load_page(entry).published
        return self.start_time + timedelta(minutes=entry)

    async def _feed(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        entries = self.feeds.get(name)
        if entries is None:
            raise web.HTTPNotFound()
        if self.publish_rate is not None:
            first = self._first_request.setdefault(name, time.monotonic())
            entries = entries[: 1 + int((time.monotonic() - first) * self.publish_rate)]
        items = []
        for entry in entries:
            title = load_page(entry).title if isinstance(entry, str) else filler_story(entry)[0]
            items.append(
                f"<item><title>{escape(title)}</title><link>{self.url_of(entry)}</link>"
                f"<guid isPermaLink='false'>{entry}</guid>"
                f"<pubDate>{format_datetime(self.published(entry))}</pubDate></item>"
            )
        body = (
            "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
            f"<title>Test feed</title><link>{self.base_url}/</link>"
            f"<description>test</description>{''.join(items)}</channel></rss>"
        )
        return web.Response(body=body.encode(), content_type="application/rss+xml")

    async def _article(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        await asyncio.sleep(self.page_delay)
        if name.startswith("story-"):
            n = int(name.removeprefix("story-"))
            html = filler_page(n, self.published(n))
        else:
            html = load_page(name).render(self.base_url)
        return web.Response(text=html, content_type="text/html")
