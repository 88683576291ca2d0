"""Which subscriptions want an alert, and when: pure functions of (subscription, alert, time).

`SubscriptionIndex` compiles every active subscription's filters once (lower-cased
sets) and buckets them by country, so matching one alert against a thousand
subscriptions touches only the ones that could want it. Independent sources are
counted as distinct outlets among the alert's evidence: two articles from one
outlet are one source.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from ingest.core.models import Alert, QuietHours, Subscription, SubscriptionFilter

KIND_RANK = {"threatened": 1, "entered": 2, "captured": 3}


def independent_sources(alert: Alert) -> int:
    """Distinct outlets among the evidence (source name, else the URL's host)."""
    outlets = {
        (e.source.strip().lower() or urlsplit(e.url).hostname or e.url) for e in alert.evidence
    }
    return len(outlets)


@dataclass(frozen=True, slots=True)
class CompiledFilter:
    """A filter turned into sets, built once per subscription change."""

    countries: frozenset[str]
    provinces: frozenset[str]
    capitals: frozenset[str]
    kinds: frozenset[str]
    min_rank: int
    actors: frozenset[str]
    min_confidence: float
    min_sources: int

    @classmethod
    def of(cls, f: SubscriptionFilter) -> CompiledFilter:
        return cls(
            countries=frozenset(c.upper() for c in f.countries),
            provinces=frozenset(p.casefold() for p in f.provinces),
            capitals=frozenset(c.casefold() for c in f.capitals),
            kinds=frozenset(f.kinds),
            min_rank=KIND_RANK[f.min_kind] if f.min_kind else 0,
            actors=frozenset(a.casefold() for a in f.actors),
            min_confidence=f.min_confidence,
            min_sources=f.min_sources,
        )

    def matches(self, alert: Alert, sources: int) -> bool:
        """True when the alert passes every filter (`sources` = independent sources)."""
        cap = alert.capital
        return (
            (not self.countries or cap.country.upper() in self.countries)
            and (not self.provinces or cap.province.casefold() in self.provinces)
            and (
                not self.capitals
                or cap.name.casefold() in self.capitals
                or cap.place_id.casefold() in self.capitals
            )
            and (not self.kinds or alert.kind in self.kinds)
            and KIND_RANK[alert.kind] >= self.min_rank
            and (not self.actors or alert.actor.casefold() in self.actors)
            and alert.confidence >= self.min_confidence
            and sources >= self.min_sources
        )


class SubscriptionIndex:
    """Active (unpaused) subscriptions, bucketed by country for matching."""

    def __init__(self, subscriptions: Iterable[Subscription]) -> None:
        self._by_country: dict[str, list[tuple[Subscription, CompiledFilter]]] = {}
        self._any_country: list[tuple[Subscription, CompiledFilter]] = []
        for sub in subscriptions:
            if sub.paused:
                continue
            compiled = CompiledFilter.of(sub.filters)
            if compiled.countries:
                for country in compiled.countries:
                    self._by_country.setdefault(country, []).append((sub, compiled))
            else:
                self._any_country.append((sub, compiled))

    def match(self, alert: Alert) -> list[Subscription]:
        """Every active subscription that wants this alert, in no particular order."""
        sources = independent_sources(alert)
        candidates = self._by_country.get(alert.capital.country.upper(), [])
        return [
            sub
            for group in (candidates, self._any_country)
            for sub, compiled in group
            if compiled.matches(alert, sources)
        ]


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def quiet_until(quiet: QuietHours, now: datetime) -> datetime | None:
    """When the quiet period containing `now` ends (UTC), or None if `now` is not quiet."""
    zone = ZoneInfo(quiet.timezone)
    local = now.astimezone(zone)
    start, end = _clock(quiet.start), _clock(quiet.end)
    if start == end:
        return None
    t = local.timetz().replace(tzinfo=None)
    overnight = start > end
    inside = (t >= start or t < end) if overnight else (start <= t < end)
    if not inside:
        return None
    end_day = local.date()
    if overnight and t >= start:
        end_day += timedelta(days=1)
    ends = datetime.combine(end_day, end, tzinfo=zone)
    return ends.astimezone(UTC)


def hold_until(sub: Subscription, now: datetime) -> datetime | None:
    """When a delivery matched at `now` may be sent as part of a digest; None: send now.

    Digest mode holds everything until the end of the current period (periods
    are aligned on the UNIX epoch); quiet hours hold until they end. A digest
    that would fall inside quiet hours waits for their end too.
    """
    due: datetime | None = None
    if sub.digest_period_s:
        period = sub.digest_period_s
        epoch = int(now.timestamp())
        due = datetime.fromtimestamp((epoch // period + 1) * period, UTC)
    if sub.quiet_hours is not None:
        quiet_end = quiet_until(sub.quiet_hours, due or now)
        if quiet_end is not None:
            due = quiet_end
    return due
