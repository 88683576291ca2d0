"""robots.txt for article pages: fetched once per host, cached, consulted before each page.

Follows RFC 9309: a robots.txt that is missing (4xx) allows everything; one
that cannot be fetched (5xx, timeout, connection error) disallows everything
for now (a transient refusal: the page is retried later, and the rules are
fetched again after `error_ttl`). Rules are matched for our User-Agent's
product token. A `Crawl-delay` is reported so the caller can space requests.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from urllib.robotparser import RobotFileParser

import structlog
from yarl import URL

from ingest.core.http_client import HttpClient, HttpError

log = structlog.get_logger(__name__)

MAX_ROBOTS_BYTES = 512_000
ERROR_TTL_S = 600.0


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    transient: bool = False
    """refused only because robots.txt could not be read right now"""
    crawl_delay: float | None = None
    reason: str = ""


@dataclass(slots=True)
class _Rules:
    parser: RobotFileParser | None
    """None: robots.txt unreachable (disallow all, for now)"""
    expires: float
    note: str


class RobotsCache:
    """Per-host robots.txt rules for one `HttpClient`; use from one event loop."""

    def __init__(self, client: HttpClient, *, ttl_s: float, agent: str | None = None) -> None:
        self.client = client
        self.ttl_s = ttl_s
        self.agent = agent or client.settings.user_agent.split("/")[0]
        self._rules: dict[str, _Rules] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def check(self, url: str) -> Verdict:
        """Whether robots.txt lets us fetch `url`."""
        target = URL(url)
        origin = f"{target.scheme}://{target.raw_authority}"
        rules = await self._get(origin)
        if rules.parser is None:
            return Verdict(False, transient=True, reason=f"robots.txt unavailable ({rules.note})")
        if not rules.parser.can_fetch(self.agent, url):
            return Verdict(False, reason=f"disallowed by {origin}/robots.txt")
        delay = rules.parser.crawl_delay(self.agent)
        return Verdict(True, crawl_delay=float(delay) if delay is not None else None)

    async def _get(self, origin: str) -> _Rules:
        lock = self._locks.setdefault(origin, asyncio.Lock())
        async with lock:  # one fetch per host, however many pages wait for it
            cached = self._rules.get(origin)
            if cached is not None and cached.expires > time.monotonic():
                return cached
            rules = await self._fetch(origin)
            self._rules[origin] = rules
            return rules

    async def _fetch(self, origin: str) -> _Rules:
        now = time.monotonic()
        try:
            resp = await self.client.get(
                f"{origin}/robots.txt", max_bytes=MAX_ROBOTS_BYTES, on_too_large="truncate"
            )
        except HttpError as exc:
            log.warning("robots_unavailable", origin=origin, reason=str(exc))
            return _Rules(None, now + ERROR_TTL_S, exc.kind)
        parser = RobotFileParser()
        if 400 <= resp.status < 500:
            parser.parse([])  # no robots.txt: everything allowed
            return _Rules(parser, now + self.ttl_s, f"HTTP {resp.status}")
        if resp.status >= 300:
            log.warning("robots_unavailable", origin=origin, reason=f"HTTP {resp.status}")
            return _Rules(None, now + ERROR_TTL_S, f"HTTP {resp.status}")
        parser.parse(resp.body.decode("utf-8", "replace").splitlines())
        return _Rules(parser, now + self.ttl_s, "ok")
