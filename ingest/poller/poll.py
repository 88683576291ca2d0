"""One poll of one feed: conditional GET, skip what is unchanged, parse, pick new items.

`poll_feed` never raises for a bad feed or a bad server: every failure is an
`error` outcome with a reason, and the result carries the next poll time.
It does not write state; the caller delivers `new_items`, then passes the
result to `FeedStateStore.commit_poll`.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

import structlog

from ingest.core.http_client import HttpClient, HttpError, HttpStatusError, retry_after_seconds
from ingest.core.models import Item, utc_now
from ingest.core.settings import FeedConfig
from ingest.poller.feeds import FeedParseError, entry_key, parse_feed
from ingest.poller.schedule import PollSchedule
from ingest.poller.state import FeedState

log = structlog.get_logger(__name__)

Outcome = Literal["not_modified", "unchanged", "new_items", "no_new_items", "error"]
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
_RETRY_AFTER_STATUSES = frozenset({429, 503})


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
) -> PollResult:
    """Poll `feed` once, given its stored `state`; see the module docstring."""
    schedule = schedule or PollSchedule()
    headers = {"Accept": FEED_ACCEPT}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    poll = _Poll(feed, state, schedule, rng, utc_now())
    try:
        resp = await client.get(
            feed.url, max_bytes=client.settings.max_feed_bytes, on_too_large="refuse",
            headers=headers,
        )
        resp.raise_for_status()
    except HttpStatusError as exc:
        return poll.failed(exc.status, str(exc), retry_after_seconds(exc.retry_after))
    except HttpError as exc:
        return poll.failed(None, str(exc), None)
    if resp.status == 304:
        validators = replace(
            state, etag=resp.etag or state.etag,
            last_modified=resp.last_modified or state.last_modified,
        )
        return poll.succeeded("not_modified", resp.status, validators, resp.cache_control)
    digest = hashlib.sha256(resp.body).hexdigest()
    fresh = replace(
        state, etag=resp.etag, last_modified=resp.last_modified, content_hash=digest
    )
    if digest == state.content_hash:
        return poll.succeeded("unchanged", resp.status, fresh, resp.cache_control)
    try:
        parsed = parse_feed(
            resp.body, feed_url=feed.url, feed_name=feed.name, base_url=resp.final_url,
            content_type=resp.content_type, now=poll.started,
        )
    except FeedParseError as exc:
        return poll.failed(resp.status, f"{exc.reason}: {resp.final_url}", None)
    keys = tuple(entry_key(item) for item in parsed.items)
    new = tuple(i for i, k in zip(parsed.items, keys, strict=True) if k not in state.emitted)
    fresh = replace(fresh, emitted=state.emitted | frozenset(entry_key(i) for i in new))
    return poll.succeeded(
        "new_items" if new else "no_new_items", resp.status, fresh, resp.cache_control,
        new=new, keys=keys, skipped=parsed.skipped,
    )


class _Poll:
    """Builds the result and writes the canonical log line, for one poll."""

    def __init__(
        self, feed: FeedConfig, state: FeedState, schedule: PollSchedule,
        rng: random.Random | None, started: datetime,
    ) -> None:
        self.feed, self.state, self.schedule, self.rng = feed, state, schedule, rng
        self.started = started

    def succeeded(
        self, outcome: Outcome, status: int, fresh: FeedState, cache_control: str | None, *,
        new: tuple[Item, ...] = (), keys: tuple[str, ...] = (), skipped: int = 0,
    ) -> PollResult:
        done = utc_now()
        delay = self.schedule.after_success(self.feed.interval, cache_control)
        fresh = replace(
            fresh, consecutive_errors=0, last_status=status, last_error=None,
            last_success=done, next_poll=done + delay,
        )
        return self._finish(outcome, status, fresh, None, done, new, keys, skipped)

    def failed(self, status: int | None, reason: str, retry_after: float | None) -> PollResult:
        done = utc_now()
        errors = self.state.consecutive_errors + 1
        usable = retry_after if status in _RETRY_AFTER_STATUSES else None
        delay = self.schedule.after_error(
            self.feed.interval, errors, retry_after=usable, rng=self.rng
        )
        fresh = replace(
            self.state, consecutive_errors=errors, last_status=status, last_error=reason,
            next_poll=done + delay,
        )
        return self._finish("error", status, fresh, reason, done, (), (), 0)

    def _finish(  # noqa: PLR0917 (private; every argument is a field of the result)
        self, outcome: Outcome, status: int | None, fresh: FeedState, reason: str | None,
        done: datetime, new: tuple[Item, ...], keys: tuple[str, ...], skipped: int,
    ) -> PollResult:
        elapsed = (done - self.started) / timedelta(milliseconds=1)
        result = PollResult(
            feed_url=self.feed.url, outcome=outcome, status=status, new_items=new,
            seen_keys=keys, state=fresh, reason=reason, polled_at=done, elapsed_ms=elapsed,
            items_in_feed=len(keys), skipped=skipped,
        )
        emit = log.warning if outcome == "error" else log.info
        emit(
            "feed_polled", feed=self.feed.url, status=status, outcome=outcome,
            new_items=len(new), items=len(keys), skipped=skipped, reason=reason,
            consecutive_errors=fresh.consecutive_errors,
            next_poll=fresh.next_poll.isoformat() if fresh.next_poll else None,
            elapsed_ms=round(elapsed, 1),
        )
        return result
