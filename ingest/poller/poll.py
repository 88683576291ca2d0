"""One poll of one feed: conditional GET, skip what is unchanged, parse, pick new items.

`poll_feed` never raises for a bad feed or a bad server: every failure is an
`error` outcome with a reason, and the result carries the feed's next state
(health, counters, adaptive interval, next poll time, a new URL after a
permanent redirect). It does not write state; the caller delivers
`new_items`, then passes the result to `FeedStateStore.commit_polls`.

Validators are sent unless the schedule asks for an unconditional GET (a
long 304 streak) or the server was caught answering 304 for a changed feed;
a body with the same hash as last time is recognised without parsing.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Literal, Protocol

import structlog
from yarl import URL

from ingest.core.http_client import (
    HttpClient,
    HttpError,
    HttpResponse,
    HttpStatusError,
    retry_after_seconds,
)
from ingest.core.models import Item, utc_now
from ingest.core.settings import FeedConfig
from ingest.poller import health
from ingest.poller.entries import FeedParseError, ParsedFeed, entry_key
from ingest.poller.feeds import parse_feed
from ingest.poller.schedule import PollSchedule, expires_seconds
from ingest.poller.state import FeedState

log = structlog.get_logger(__name__)

Outcome = Literal["not_modified", "unchanged", "new_items", "no_new_items", "error"]
OUTCOMES: tuple[Outcome, ...] = ("not_modified", "unchanged", "new_items", "no_new_items",
                                 "error")
Known = tuple[frozenset[str], frozenset[str]]
"""entry keys and item ids of one body's entries that were delivered before"""


class DeliveredEntries(Protocol):
    """What a feed delivered before, asked about the entries of one body at a time:
    a poll reads rows for the entries it holds, never the feed's whole history
    (tens of thousands of entries for a busy feed over the retention period)."""

    def keys_among(self, feed_url: str, keys: Collection[str]) -> frozenset[str]: ...

    def ids_among(self, feed_url: str, item_ids: Collection[str]) -> frozenset[str]: ...


@dataclass(frozen=True)
class _KeysOnly:
    """Delivered entry keys held in memory (`FeedState.emitted`), no item ids: for
    polls without a store."""

    keys: frozenset[str]

    def keys_among(self, feed_url: str, keys: Collection[str]) -> frozenset[str]:
        return self.keys.intersection(keys)

    def ids_among(self, feed_url: str, item_ids: Collection[str]) -> frozenset[str]:
        return frozenset()


NOTHING_DELIVERED: DeliveredEntries = _KeysOnly(frozenset())
"""For a poll loop that keeps no history (benchmarks, tests)."""


FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml;"
    "q=0.9, application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
_RETRY_AFTER_STATUSES = frozenset({429, 503})
_RATE_WEIGHT = 0.3
_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class PollResult:
    """What one poll found, and the feed's state as it will be once committed."""

    feed_url: str
    outcome: Outcome
    status: int | None
    new_items: tuple[Item, ...]
    seen_keys: tuple[str, ...]
    """`entry_key` of every entry in the parsed body; empty when nothing was parsed"""
    state: FeedState
    reason: str | None
    polled_at: datetime
    elapsed_ms: float
    items_in_feed: int = 0
    skipped: int = 0
    adopted: tuple[Item, ...] = ()
    """entries already delivered under another GUID: remembered, not emitted again"""
    bytes: int = 0
    host: str = ""
    """the feed's host when `host_pause_s` is set (else ""; parsing it costs every poll)"""
    host_pause_s: float | None = None
    """the whole host asked us to wait this long (429/503)"""

    @property
    def parsed(self) -> bool:
        return self.outcome in ("new_items", "no_new_items")

    @property
    def next_poll(self) -> datetime:
        assert self.state.next_poll is not None  # poll_feed always schedules
        return self.state.next_poll


async def poll_feed(
    client: HttpClient, feed: FeedConfig, state: FeedState, *,
    schedule: PollSchedule | None = None, rng: random.Random | None = None,
    known: DeliveredEntries | None = None, target: URL | None = None,
) -> PollResult:
    """Poll `feed` once, given its stored `state`; see the module docstring.

    `known` tells which of a changed body's entries were delivered before (asked
    in the worker thread that parses the body); without it, `state.emitted` is used.
    `target` is `state.current_url` parsed, if the caller keeps it.
    """
    poll = _Poll(feed, state, schedule or PollSchedule(), rng, utc_now())
    url = state.current_url
    conditional = state.validators_trusted and not poll.schedule.unconditional_due(
        streak=state.not_modified_streak, item_rate=state.item_rate,
        since_change=poll.started - state.last_changed if state.last_changed else None,
    )
    headers = {"Accept": FEED_ACCEPT}
    if conditional and state.etag:
        headers["If-None-Match"] = state.etag
    if conditional and state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    try:
        resp = await client.get(
            url, max_bytes=client.settings.max_feed_bytes, on_too_large="refuse",
            headers=headers, parsed=target,
        )
        resp.raise_for_status()
    except HttpStatusError as exc:
        return poll.failed(exc.status, str(exc), retry_after_seconds(exc.retry_after))
    except HttpError as exc:
        return poll.failed(None, str(exc), None, kind=exc.kind)
    home = _new_home(feed, state, resp)
    if resp.status == 304:  # the bulk of all polls: one `replace` here, one in `succeeded`
        return poll.succeeded("not_modified", resp, state, changes={
            "url": home, "etag": resp.etag or state.etag,
            "last_modified": resp.last_modified or state.last_modified,
            "not_modified_streak": state.not_modified_streak + 1,
        })
    digest = hashlib.sha256(resp.body).hexdigest()
    fresh = replace(
        state, url=home, etag=resp.etag, last_modified=resp.last_modified, not_modified_streak=0
    )
    if digest == state.content_hash:
        return poll.succeeded("unchanged", resp, _quieter(fresh))
    problem = None
    if not conditional and state.not_modified_streak > 0 and state.content_hash:
        problem = "the server answered 304 while the feed had changed (stale validator)"
        fresh = replace(fresh, validators_trusted=False)
    # `known` reads SQLite, which releases the GIL: on the event loop thread, getting it
    # back behind a busy delivery thread stalls every poll in flight for milliseconds.
    # So the parse and its lookups run in a worker thread, and the parse builds items
    # only for entries not delivered before.
    delivered = known or _KeysOnly(state.emitted)

    def parse() -> tuple[ParsedFeed, Known]:
        parsed = parse_feed(
            resp.body, feed_url=feed.url, feed_name=feed.name, base_url=resp.final_url,
            content_type=resp.content_type, now=poll.started,
            known=partial(delivered.keys_among, feed.url),
        )
        built = [entry_key(item) for item in parsed.items]
        return parsed, (delivered.keys_among(feed.url, built),
                        delivered.ids_among(feed.url, [item.item_id for item in parsed.items]))

    try:
        parsed, seen = await asyncio.to_thread(parse)
    except FeedParseError as exc:
        return poll.failed(resp.status, f"{exc.reason}: {resp.final_url}", None, kind="parse",
                           resp=resp)
    fresh = replace(fresh, content_hash=digest, publisher_period_s=parsed.update_period_s)
    return poll.parsed(resp, fresh, parsed, seen, problem)



def _new_home(feed: FeedConfig, state: FeedState, resp: HttpResponse) -> str | None:
    """The feed's URL from now on: moved by a permanent redirect, else unchanged."""
    if resp.permanent_url is None:
        return state.url
    return None if resp.permanent_url == feed.url else resp.permanent_url


def _quieter(state: FeedState) -> FeedState:
    """An unconditional GET found nothing new: the feed is quieter than its rate said."""
    return replace(state, item_rate=state.item_rate / 2 if state.item_rate else None)


class _Poll:
    """Builds the result and writes the canonical log line, for one poll."""

    def __init__(
        self, feed: FeedConfig, state: FeedState, schedule: PollSchedule,
        rng: random.Random | None, started: datetime,
    ) -> None:
        self.feed, self.state, self.schedule, self.rng = feed, state, schedule, rng
        self.started = started

    def parsed(
        self, resp: HttpResponse, fresh: FeedState, parsed: ParsedFeed, known: Known,
        problem: str | None,
    ) -> PollResult:
        keys_known, ids_known = known
        built = tuple(entry_key(item) for item in parsed.items)
        keys = parsed.known_keys + built
        new: list[Item] = []
        adopted: list[Item] = []
        for item, key in zip(parsed.items, built, strict=True):
            if key in keys_known:
                continue
            (adopted if item.item_id in ids_known else new).append(item)
        if adopted:
            problem = problem or f"{len(adopted)} old items re-published under new GUIDs"
        if parsed.skipped:
            problem = problem or f"{parsed.skipped} entries without a usable link"
        if parsed.warning:
            problem = problem or f"feed readable despite errors ({parsed.warning})"
        rate = self._rate(len(new))
        remembered = {entry_key(i) for i in (*new, *adopted)}
        fresh = replace(
            fresh, last_changed=self.started, item_rate=rate,
            emitted=self.state.emitted | remembered,
            items_emitted=fresh.items_emitted + len(new),
            # A first parse finds everything new: that says nothing about the pace.
            interval_s=self.schedule.adapt(
                self.feed.interval, fresh.interval_s, changed=True,
                new=len(new) if self.state.last_changed else 0,
                total=len(keys) if self.state.last_changed else 0, item_rate=rate,
            ),
        )
        return self.succeeded(
            "new_items" if new else "no_new_items", resp, fresh, problem=problem,
            new=tuple(new), keys=keys, skipped=parsed.skipped, adopted=tuple(adopted),
        )

    def _rate(self, new: int) -> float | None:
        """Smoothed items per day, from the new items since the previous parse."""
        since = self.state.last_changed
        if since is None:
            return None  # a first parse counts the feed's whole history
        days = max((self.started - since) / _DAY, 1e-6)
        observed = new / days
        old = self.state.item_rate
        return observed if old is None else old + _RATE_WEIGHT * (observed - old)

    def succeeded(
        self, outcome: Outcome, resp: HttpResponse, fresh: FeedState, *,
        problem: str | None = None, new: tuple[Item, ...] = (), keys: tuple[str, ...] = (),
        skipped: int = 0, adopted: tuple[Item, ...] = (),
        changes: dict[str, Any] | None = None,
    ) -> PollResult:
        """`fresh` updated with `changes` (applied in the same single `replace`)."""
        done = utc_now()
        interval_s = fresh.interval_s
        if outcome in ("not_modified", "unchanged"):
            interval_s = self.schedule.adapt(
                self.feed.interval, interval_s, changed=False, item_rate=fresh.item_rate,
            )
        interval = timedelta(seconds=interval_s or self.feed.interval.total_seconds())
        delay = self.schedule.after_success(
            interval, resp.cache_control, rng=self.rng,
            floors=(expires_seconds(resp.expires, done), fresh.publisher_period_s),
        )
        if self.state.health == "gone":
            log.info("feed_revived", feed=self.feed.url, status=resp.status)
        state, reason = health.after_success(problem)
        fresh = replace(
            fresh, **(changes or {}), interval_s=interval_s, consecutive_errors=0, not_found=0,
            last_status=resp.status, last_error=None, last_success=done, last_polled=done,
            next_poll=done + delay, health=state, health_reason=reason, polls=fresh.polls + 1,
        )
        return self._finish(outcome, resp.status, fresh, problem, done, new, keys, skipped,
                            adopted=adopted, size=len(resp.body), url=resp.final_url)

    def failed(
        self, status: int | None, reason: str, retry_after: float | None, *,
        kind: str = "status", resp: HttpResponse | None = None,
    ) -> PollResult:
        done = utc_now()
        s = self.schedule
        errors = self.state.consecutive_errors + 1
        not_found = self.state.not_found + 1 if status == 404 else 0
        state, why = health.after_failure(
            status, reason, errors=errors, not_found=not_found, failing_after=s.failing_after,
            gone_after_404s=s.gone_after_404s,
        )
        usable = retry_after if status in _RETRY_AFTER_STATUSES else None
        host_pause = None
        if status in _RETRY_AFTER_STATUSES:
            host_pause = usable if usable is not None else s.host_retry_after.total_seconds()
        if state == "gone":
            delay = s.parked(self.rng)
        else:
            delay = s.after_error(self.feed.interval, errors, retry_after=usable, rng=self.rng)
        fresh = replace(
            self.state, consecutive_errors=errors, not_found=not_found, last_status=status,
            last_error=reason, last_polled=done, next_poll=done + delay, health=state,
            health_reason=why, polls=self.state.polls + 1, errors=self.state.errors + 1,
        )
        if state == "gone" and self.state.health != "gone":
            log.warning("feed_parked", feed=self.feed.url, reason=why,
                        probe_every_s=s.park_interval.total_seconds())
        return self._finish("error", status, fresh, reason, done, (), (), 0,
                            size=len(resp.body) if resp else 0, host_pause=host_pause,
                            kind=kind)

    def _finish(  # noqa: PLR0917 (private; every argument is a field of the result)
        self, outcome: Outcome, status: int | None, fresh: FeedState, reason: str | None,
        done: datetime, new: tuple[Item, ...], keys: tuple[str, ...], skipped: int, *,
        adopted: tuple[Item, ...] = (), size: int = 0, url: str | None = None,
        host_pause: float | None = None, kind: str | None = None,
    ) -> PollResult:
        elapsed = (done - self.started) / timedelta(milliseconds=1)
        result = PollResult(
            feed_url=self.feed.url, outcome=outcome, status=status, new_items=new,
            seen_keys=keys, state=fresh, reason=reason, polled_at=done, elapsed_ms=elapsed,
            items_in_feed=len(keys), skipped=skipped, adopted=adopted, bytes=size,
            host=URL(self.state.current_url).host or "" if host_pause else "",
            host_pause_s=host_pause,
        )
        if fresh.url != self.state.url and fresh.url is not None:
            log.warning("feed_moved", feed=self.feed.url, old_url=self.state.current_url,
                        new_url=fresh.url)
        if outcome == "error":
            emit = log.warning
        elif outcome in ("not_modified", "unchanged") and reason is None:
            # The bulk of all polls: countable in metrics, not worth a line. Even a
            # filtered-out line cost 10 microseconds here (its fields are built first).
            if not log.is_enabled_for(logging.DEBUG):
                return result
            emit = log.debug
        else:
            emit = log.info
        emit(
            "feed_polled", feed=self.feed.url, url=url or fresh.current_url, status=status,
            outcome=outcome, error_kind=kind if outcome == "error" else None,
            new_items=len(new), items=len(keys), skipped=skipped, reason=reason,
            health=fresh.health, consecutive_errors=fresh.consecutive_errors,
            next_poll=fresh.next_poll.isoformat() if fresh.next_poll else None,
            elapsed_ms=round(elapsed, 1),
        )
        return result
