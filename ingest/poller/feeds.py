"""Feed bodies to `Item`s: the one place where feedparser's dicts are read.

`parse_feed` takes BYTES (feedparser is handed a stream, so it never opens a
URL or a local file) of RSS 0.9x/1.0/2.0 or Atom and returns typed items.
Identity: an entry's GUID when it looks trustworthy (see `_trusted_guids`),
else its canonical link; `entry_key` gives the key the poller remembers.
Entries without a usable link are skipped and counted. A body that is not a
feed (empty, an HTML page, malformed XML without entries) raises
`FeedParseError` with the reason.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import feedparser

from ingest.core.models import Item, utc_now
from ingest.poller.urls import InvalidArticleUrl, canonical_url, item_id

FUTURE_TOLERANCE = timedelta(days=1)
"""Dates further ahead than this are a publisher's error, not a schedule: dropped."""

MAX_SUMMARY_CHARS = 2000
_HTML_MARK = re.compile(rb"<(!doctype\s+html|html|head|body)\b", re.I)
_FEED_MARK = re.compile(rb"<(rss|feed|rdf:rdf|channel)\b", re.I)
_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td",
     "blockquote", "section", "article", "figcaption", "hr", "pre", "table"}
)


class FeedParseError(Exception):
    """The body is not a usable feed; `reason` says why in plain words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ParseStats:
    """How many times feedparser ran in this process (an unchanged body must not count)."""

    def __init__(self) -> None:
        self.calls = 0


PARSE_STATS = ParseStats()


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """The items of one feed body, in feed order, one per identity."""

    title: str | None
    site_url: str | None
    version: str
    items: tuple[Item, ...]
    skipped: int
    """entries without a usable http(s) link"""
    duplicates: int
    """entries whose identity repeats an earlier entry of the same body"""
    warning: str | None
    """feedparser's complaint about a body it could still read, if any"""


def entry_key(item: Item) -> str:
    """The identity the poller remembers: the trusted GUID if any, else the item id."""
    if item.guid:
        return "guid:" + hashlib.sha256(item.guid.encode("utf-8")).hexdigest()[:32]
    return "url:" + item.item_id


def parse_feed(
    body: bytes, *, feed_url: str, feed_name: str | None = None, base_url: str | None = None,
    content_type: str | None = None, now: datetime | None = None,
) -> ParsedFeed:
    """Parse a feed body into items; raise `FeedParseError` if it is not a feed.

    Relative links resolve against `base_url` (the URL the body came from,
    after redirects), else `feed_url`. `feed_name` defaults to the feed's title.
    """
    if not body.strip():
        raise FeedParseError("empty body")
    base = base_url or feed_url
    PARSE_STATS.calls += 1
    parsed = feedparser.parse(
        io.BytesIO(body),
        response_headers={
            "content-location": base,
            "content-type": content_type or "application/xml",
        },
        resolve_relative_uris=False,
        sanitize_html=False,
    )
    entries: list[Any] = list(parsed.get("entries", []))
    version = str(parsed.get("version") or "")
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if not entries:
        _raise_if_not_feed(body, version, problem)
    meta = parsed.get("feed", {})
    title = _plain(meta.get("title"), meta.get("title_detail"))
    discovered = now or utc_now()
    trusted = _trusted_guids(entries, feed_url, meta.get("link"))
    items: list[Item] = []
    keys: set[str] = set()
    skipped = duplicates = 0
    for entry in entries:
        item = _to_item(
            entry, base=base, feed_url=feed_url, feed_name=feed_name or title or feed_url,
            trusted=trusted, now=discovered,
        )
        if item is None:
            skipped += 1
            continue
        key = entry_key(item)
        if key in keys:
            duplicates += 1
            continue
        keys.add(key)
        items.append(item)
    return ParsedFeed(
        title=title, site_url=meta.get("link"), version=version, items=tuple(items),
        skipped=skipped, duplicates=duplicates,
        warning=_one_line(problem) if problem is not None else None,
    )


def _raise_if_not_feed(body: bytes, version: str, problem: object) -> None:
    """A body without entries is fine only if it is a well-formed feed."""
    head = body[:4096]
    if _HTML_MARK.search(head) and not _FEED_MARK.search(head):
        raise FeedParseError("not a feed: the body is an HTML page")
    if problem is not None and not isinstance(problem, feedparser.NonXMLContentType):
        what = "malformed feed XML" if version else "not a feed: malformed XML"
        raise FeedParseError(f"{what} ({_one_line(problem)})")
    if not version:
        raise FeedParseError("not a feed: no RSS or Atom root element")


def _trusted_guids(entries: list[Any], feed_url: str, site_url: object) -> set[str]:
    """GUIDs that identify one entry each: present, short, unique, not the site's own URL."""
    counts = Counter(str(e.get("id", "")).strip() for e in entries)
    own = {feed_url.strip(), str(site_url or "").strip()}
    return {
        guid for guid, n in counts.items()
        if guid and n == 1 and len(guid) <= 1000 and guid not in own
    }


def _to_item(
    entry: Any, *, base: str, feed_url: str, feed_name: str, trusted: set[str], now: datetime
) -> Item | None:
    link = str(entry.get("link") or "").strip()
    if not link:
        return None
    try:
        url = canonical_url(link, base)
    except InvalidArticleUrl:
        return None
    guid = str(entry.get("id", "")).strip()
    return Item(
        item_id=item_id(url),
        url=url,
        guid=guid if guid in trusted else None,
        feed_url=feed_url,
        feed_name=feed_name,
        title=_plain(entry.get("title"), entry.get("title_detail")),
        summary=_summary(entry),
        published=_published(entry, now),
        discovered_at=now,
    )


def _summary(entry: Any) -> str | None:
    text = _plain(entry.get("summary"), entry.get("summary_detail"))
    if text and len(text) > MAX_SUMMARY_CHARS:
        text = text[: MAX_SUMMARY_CHARS - 1].rstrip() + "…"
    return text


def _published(entry: Any, now: datetime) -> datetime | None:
    """The entry's date as aware UTC; absent, invalid or far-future dates give None."""
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = dict.get(entry, key)  # entry.get would alias updated to published
        if parsed is None:
            continue
        try:
            when = datetime.fromtimestamp(calendar.timegm(parsed), UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            continue
        return None if when > now + FUTURE_TOLERANCE else when
    return None


def _plain(value: object, detail: object) -> str | None:
    """Text of a feed field; HTML (by the field's declared type) reduced to plain text."""
    if not value:
        return None
    text = str(value)
    kind = str(detail.get("type", "")) if isinstance(detail, dict) else ""
    if "html" in kind:
        text = html_to_text(text)
    text = " ".join(text.split())
    return text or None


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(fragment: str) -> str:
    """Visible text of an HTML fragment, entities decoded, whitespace collapsed."""
    collector = _TextCollector()
    collector.feed(fragment)
    collector.close()
    return " ".join("".join(collector.parts).split())


def _one_line(problem: object) -> str:
    text = str(problem).strip() or type(problem).__name__
    return text.splitlines()[0]
