"""When to poll a feed next: an adaptive interval, publisher hints, backoff and parking.

The adaptive interval starts at the feed's configured interval and moves
within [interval / stretch, interval * stretch]: a poll that finds nothing
new lengthens it, one whose entries are mostly new shortens it (we may be
missing items), and the feed's observed item rate caps it at the usual gap
between two items. The publisher's hints (Cache-Control max-age, Expires,
RSS `<ttl>`, `sy:updatePeriod`) are floors: we never ask sooner than the
server allows. Jitter only brings a poll forward (up to `jitter` of the
interval), so feeds spread out without ever being polled later than
planned. After a failure the delay doubles with each consecutive error,
jittered, never before a Retry-After. Everything is clamped to
[min_interval, max_interval], except a parked (gone) feed's rare probe.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from ingest.core.settings import PollerSettings

_MAX_AGE = re.compile(r"(?:^|[,\s])(?:s-maxage|max-age)\s*=\s*\"?(\d+)", re.I)
_MAX_DOUBLINGS = 16
_DAY_S = 86400.0
_RNG = random.Random()


def max_age_seconds(cache_control: str | None) -> float | None:
    """The max-age (or s-maxage) of a Cache-Control value, in seconds; None if absent."""
    if not cache_control or "no-store" in cache_control.lower():
        return None
    ages = [float(m) for m in _MAX_AGE.findall(cache_control)]
    return max(ages) if ages else None


def expires_seconds(expires: str | None, now: datetime) -> float | None:
    """Seconds until an Expires date; None if absent, invalid or past."""
    if not expires:
        return None
    try:
        when = parsedate_to_datetime(expires.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    left = (when - now).total_seconds()
    return left if left > 0 else None


@dataclass(frozen=True, slots=True)
class PollSchedule:
    """The poller's scheduling policy; one per poller process, immutable."""

    min_interval: timedelta = timedelta(seconds=30)
    max_interval: timedelta = timedelta(hours=24)
    jitter: float = 0.1
    stretch: float = 4.0
    park_interval: timedelta = timedelta(days=1)
    gone_after_404s: int = 3
    failing_after: int = 3
    unconditional_every: int = 20
    host_retry_after: timedelta = timedelta(minutes=1)

    @classmethod
    def from_settings(cls, s: PollerSettings) -> PollSchedule:
        return cls(
            min_interval=s.min_interval, max_interval=s.max_interval, jitter=s.jitter,
            park_interval=s.park_interval, gone_after_404s=s.gone_after_404s,
            failing_after=s.failing_after, unconditional_every=s.unconditional_every,
            host_retry_after=s.host_retry_after,
        )

    def clamp(self, delay: timedelta) -> timedelta:
        return max(self.min_interval, min(self.max_interval, delay))

    def adapt(
        self, nominal: timedelta, current_s: float | None, *, changed: bool, new: int = 0,
        total: int = 0, item_rate: float | None = None,
    ) -> float:
        """The feed's next adaptive interval in seconds, after one successful poll."""
        cur = current_s or nominal.total_seconds()
        if not changed:
            cur *= 1.1
        elif total > 0 and new == 0:
            cur *= 1.5
        elif total > 0 and new * 2 > total:
            cur *= 0.5
        if item_rate:
            cur = min(cur, _DAY_S / item_rate)
        low = nominal.total_seconds() / self.stretch
        high = nominal.total_seconds() * self.stretch
        return max(low, min(high, cur))

    def after_success(
        self, interval: timedelta, cache_control: str | None = None, *,
        floors: tuple[float | None, ...] = (), rng: random.Random | None = None,
    ) -> timedelta:
        """`interval`, brought forward by jitter, never before max-age or another floor."""
        delay = interval * (1.0 - self.jitter * (rng or _RNG).random())
        hints = [h for h in (max_age_seconds(cache_control), *floors) if h is not None]
        if hints:
            delay = max(delay, timedelta(seconds=max(hints)))
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

    def parked(self, rng: random.Random | None = None) -> timedelta:
        """The delay before probing a gone feed again."""
        return self.park_interval * (1.0 - self.jitter * (rng or _RNG).random())

    def unconditional_due(
        self, *, streak: int, item_rate: float | None, since_change: timedelta | None
    ) -> bool:
        """Whether to ignore the stored validators this time (stale-validator guard).

        Every `unconditional_every` 304s in a row; and when the 304 streak has
        outlived three of the feed's usual gaps between items.
        """
        if streak <= 0:
            return False
        if self.unconditional_every and streak >= self.unconditional_every:
            return True
        if item_rate and since_change is not None:
            return since_change.total_seconds() > 3 * _DAY_S / item_rate
        return False
