"""Minimum spacing between requests to one host, and host-wide pauses (Retry-After).

`HostPacer.wait(host)` returns when the next request to `host` may start:
at least `spacing` (or the host's robots.txt Crawl-delay, capped) after the
previous one, and not before a pause the host asked for with 429/503.
Waiters for one host are served in turn; other hosts are not held up.
"""

from __future__ import annotations

import asyncio
import time

MAX_CRAWL_DELAY_S = 30.0


class HostPacer:
    """Per-host request slots in time; use from one event loop."""

    def __init__(self, spacing_s: float) -> None:
        self.spacing_s = spacing_s
        self._next: dict[str, float] = {}

    async def wait(self, host: str, crawl_delay: float | None = None) -> None:
        """Reserve the host's next slot and sleep until it comes."""
        gap = max(self.spacing_s, min(crawl_delay or 0.0, MAX_CRAWL_DELAY_S))
        now = time.monotonic()
        start = max(now, self._next.get(host, now))
        self._next[host] = start + gap  # reserved before sleeping: waiters queue up
        if len(self._next) > 10_000:  # forget hosts whose slot has long passed
            self._next = {h: t for h, t in self._next.items() if t > now}
        if start > now:
            await asyncio.sleep(start - now)

    def pause(self, host: str, seconds: float) -> None:
        """No request to `host` for `seconds` from now (a 429/503 Retry-After)."""
        until = time.monotonic() + seconds
        self._next[host] = max(self._next.get(host, 0.0), until)
