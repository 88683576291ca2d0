"""When to poll a feed next: its interval, stretched by cache headers and failures.

After a success the feed's own interval applies, lengthened (never shortened)
by a Cache-Control max-age. After a failure the delay doubles with each
consecutive error, with jitter so that feeds failing together do not retry
together, and never comes before a Retry-After the server gave. Everything
is clamped to the poller's [min_interval, max_interval].
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import timedelta

from ingest.core.settings import PollerSettings

_MAX_AGE = re.compile(r"(?:^|[,\s])(?:s-maxage|max-age)\s*=\s*\"?(\d+)", re.I)
_MAX_DOUBLINGS = 16
_RNG = random.Random()


def max_age_seconds(cache_control: str | None) -> float | None:
    """The max-age (or s-maxage) of a Cache-Control value, in seconds; None if absent."""
    if not cache_control or "no-store" in cache_control.lower():
        return None
    ages = [float(m) for m in _MAX_AGE.findall(cache_control)]
    return max(ages) if ages else None


@dataclass(frozen=True, slots=True)
class PollSchedule:
    """The poller's bounds on any delay between two polls of one feed."""

    min_interval: timedelta = timedelta(seconds=30)
    max_interval: timedelta = timedelta(hours=24)

    @classmethod
    def from_settings(cls, settings: PollerSettings) -> PollSchedule:
        return cls(min_interval=settings.min_interval, max_interval=settings.max_interval)

    def clamp(self, delay: timedelta) -> timedelta:
        return max(self.min_interval, min(self.max_interval, delay))

    def after_success(self, interval: timedelta, cache_control: str | None = None) -> timedelta:
        """The feed's interval, or the response's max-age if that is longer."""
        age = max_age_seconds(cache_control)
        delay = interval if age is None else max(interval, timedelta(seconds=age))
        return self.clamp(delay)

    def after_error(
        self, interval: timedelta, errors: int, *, retry_after: float | None = None,
        rng: random.Random | None = None,
    ) -> timedelta:
        """Backoff after `errors` consecutive failures (this one included), jittered ±20 %."""
        doublings = min(max(errors, 1), _MAX_DOUBLINGS)
        backoff = min(self.max_interval, interval * (2**doublings))
        delay = backoff * (rng or _RNG).uniform(0.8, 1.2)
        if retry_after is not None:
            delay = max(delay, timedelta(seconds=retry_after))
        return self.clamp(delay)
