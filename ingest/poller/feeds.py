"""Feed bodies to `Item`s: format detection, and the one place feedparser's dicts are read.

`parse_feed` takes BYTES (feedparser is handed a stream, so it never opens a
URL or a local file) of RSS 0.9x/1.0/2.0, Atom, JSON Feed 1.x or a Google
News sitemap and returns typed items (see `ingest.poller.entries` for
identity). A body that is not a feed (empty, an HTML page, malformed XML
without entries) raises `FeedParseError` with the reason.

A clean UTF-8 RSS 2.0 or Atom 1.0 body is read by feedparser-rs instead, as
feedparser would read it (`ingest.poller.fastread`): it costs some 50 times
less CPU.
"""

from __future__ import annotations

import calendar
import io
import re
from datetime import UTC, datetime
from typing import Any

import feedparser

from ingest.core.models import utc_now
from ingest.poller import fastread, jsonfeed, sitemaps
from ingest.poller.entries import (
    FeedParseError,
    KnownKeys,
    ParsedFeed,
    RawEntry,
    collect,
    entry_key,
    html_to_text,
    nothing_known,
    one_line,
    split_known,
    squash,
)

__all__ = ["PARSE_STATS", "FeedParseError", "ParsedFeed", "entry_key", "html_to_text",
           "parse_feed"]

_HTML_MARK = re.compile(rb"<(!doctype\s+html|html|head|body)\b", re.I)
_FEED_MARK = re.compile(rb"<(rss|feed|rdf:rdf|channel)\b", re.I)
_SY_PERIODS = {"hourly": 3600.0, "daily": 86400.0, "weekly": 604800.0,
               "monthly": 2_592_000.0, "yearly": 31_536_000.0}


class ParseStats:
    """How many times a feed body was parsed in this process (an unchanged body must not count)."""

    def __init__(self) -> None:
        self.calls = 0


PARSE_STATS = ParseStats()


def parse_feed(
    body: bytes, *, feed_url: str, feed_name: str | None = None, base_url: str | None = None,
    content_type: str | None = None, now: datetime | None = None,
    known: KnownKeys = nothing_known,
) -> ParsedFeed:
    """Parse a feed body into items; raise `FeedParseError` if it is not a feed.

    Relative links resolve against `base_url` (the URL the body came from,
    after redirects), else `feed_url`. `feed_name` defaults to the feed's title.
    Entries whose trusted GUID's `entry_key` `known` says was delivered are not
    built into items, only listed in `known_keys` (see `ingest.poller.entries.collect`).
    """
    if not body.strip():
        raise FeedParseError("empty body")
    base = base_url or feed_url
    discovered = now or utc_now()
    PARSE_STATS.calls += 1
    if jsonfeed.looks_like_json(body):
        return jsonfeed.parse(body, base=base, feed_url=feed_url, feed_name=feed_name,
                              now=discovered, known=known)
    if sitemaps.looks_like_sitemap(body):
        return sitemaps.parse(body, base=base, feed_url=feed_url, feed_name=feed_name,
                              now=discovered)
    return _parse_syndication(
        body, base, feed_url, feed_name, content_type=content_type, now=discovered, known=known
    )


def _parse_syndication(
    body: bytes, base: str, feed_url: str, feed_name: str | None, *, content_type: str | None,
    now: datetime, known: KnownKeys,
) -> ParsedFeed:
    fast = fastread.read(body, base, content_type)
    parsed = fast.parsed if fast else _read_reference(body, base, content_type)
    entries: list[Any] = list(parsed.get("entries", []))
    ids = fast.ids if fast else [str(e.get("id", "")) for e in entries]
    version = str(parsed.get("version") or "")
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if not entries:
        _raise_if_not_feed(body, version, problem)
    meta = parsed.get("feed", {})
    title = _plain(meta.get("title"), meta.get("title_detail"))
    build, known_keys = split_known(ids, feed_url=feed_url, site_url=meta.get("link"),
                                    known=known)
    raw = (
        RawEntry(
            link=str(e.get("link") or ""), guid=ids[i],
            title=_plain(e.get("title"), e.get("title_detail")),
            summary=_plain(e.get("summary"), _summary_detail(e)),
            published=_published(e),
        )
        for i in build for e in (entries[i],)
    )
    items, skipped, duplicates = collect(
        raw, base=base, feed_url=feed_url, feed_name=feed_name or title or feed_url,
        site_url=meta.get("link"), now=now,
    )
    return ParsedFeed(
        title=title, site_url=meta.get("link"), version=version, items=items,
        skipped=skipped, duplicates=duplicates,
        warning=one_line(problem) if problem is not None else None,
        update_period_s=update_period(meta), known_keys=known_keys,
    )


def _read_reference(body: bytes, base: str, content_type: str | None) -> Any:
    return feedparser.parse(
        io.BytesIO(body),
        response_headers={
            "content-location": base,
            "content-type": content_type or "application/xml",
        },
        resolve_relative_uris=False,
        sanitize_html=False,
    )


def update_period(meta: Any) -> float | None:
    """The longer of RSS `<ttl>` (minutes) and `sy:updatePeriod`/`sy:updateFrequency`."""
    hints: list[float] = []
    ttl = str(meta.get("ttl") or "").strip()
    if ttl.isdigit() and int(ttl) > 0:
        hints.append(int(ttl) * 60.0)
    period = _SY_PERIODS.get(str(meta.get("sy_updateperiod") or "").strip().lower())
    if period is not None:
        freq = str(meta.get("sy_updatefrequency") or "1").strip()
        hints.append(period / max(int(freq) if freq.isdigit() else 1, 1))
    return max(hints) if hints else None


def _raise_if_not_feed(body: bytes, version: str, problem: object) -> None:
    """A body without entries is fine only if it is a well-formed feed."""
    head = body[:4096]
    if _HTML_MARK.search(head) and not _FEED_MARK.search(head):
        raise FeedParseError("not a feed: the body is an HTML page")
    if problem is not None and not isinstance(problem, feedparser.NonXMLContentType):
        what = "malformed feed XML" if version else "not a feed: malformed XML"
        raise FeedParseError(f"{what} ({one_line(problem)})")
    if not version:
        raise FeedParseError("not a feed: no RSS or Atom root element")


def _published(entry: Any) -> datetime | None:
    """The entry's date as aware UTC; absent or invalid dates give None."""
    # feedparser's entry.get would alias updated to published; feedparser-rs's entries
    # are not dicts and do not alias.
    get = dict.get if isinstance(entry, dict) else type(entry).get
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = get(entry, key)
        if parsed is None:
            continue
        try:
            return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            continue
    return None


def _summary_detail(entry: Any) -> object:
    """How the summary is typed; feedparser copies an Atom content without a summary
    into `summary` but leaves its type (often html) on `content` only."""
    detail = entry.get("summary_detail")
    if detail is None:
        detail = next(iter(entry.get("content") or ()), None)
    return detail


def _plain(value: object, detail: object) -> str | None:
    """Text of a feed field; HTML (by the field's declared type) reduced to plain text."""
    if not value:
        return None
    text = str(value)
    # feedparser gives a dict, feedparser-rs an object with the same fields.
    kind = str(detail.get("type", "") if isinstance(detail, dict) else getattr(detail, "type", ""))
    if "html" in kind:
        text = html_to_text(text)
    return squash(text)
