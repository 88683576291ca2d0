"""What every feed format turns into: typed items, their identity, and parse errors.

The format readers (`feeds` for RSS/Atom through feedparser, `jsonfeed`,
`sitemaps`) each read their own syntax and hand the entries to `make_item`,
so that identity, canonical links, dates and summaries follow one rule set
whatever the format.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html.parser import HTMLParser

from ingest.core.models import Item
from ingest.poller.urls import InvalidArticleUrl, canonical_url, id_of_canonical

FUTURE_TOLERANCE = timedelta(days=1)
"""Dates further ahead than this are a publisher's error, not a schedule: dropped."""

MAX_SUMMARY_CHARS = 2000
_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td",
     "blockquote", "section", "article", "figcaption", "hr", "pre", "table"}
)


class FeedParseError(Exception):
    """The body is not a usable feed; `reason` says why in plain words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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
    """the parser's complaint about a body it could still read, if any"""
    update_period_s: float | None = None
    """the publisher's own polling hint (RSS `<ttl>`, `sy:updatePeriod`), in seconds"""
    known_keys: tuple[str, ...] = ()
    """`entry_key`s of entries recognised by their trusted GUID as already delivered
    (see `split_known`): not built into items, and their links not checked"""


@dataclass(frozen=True, slots=True)
class RawEntry:
    """One entry as a format reader found it, before identity and cleaning."""

    link: str
    guid: str
    title: str | None
    summary: str | None
    published: datetime | None


def entry_key(item: Item) -> str:
    """The identity the poller remembers: the trusted GUID if any, else the item id."""
    if item.guid:
        return guid_key(item.guid)
    return "url:" + item.item_id


def guid_key(guid: str) -> str:
    return "guid:" + hashlib.sha256(guid.encode("utf-8")).hexdigest()[:32]


def trusted_guids(guids: Iterable[str], feed_url: str, site_url: object) -> set[str]:
    """GUIDs that identify one entry each: present, short, unique, not the site's own URL."""
    counts = Counter(g.strip() for g in guids)
    own = {feed_url.strip(), str(site_url or "").strip()}
    return {
        guid for guid, n in counts.items()
        if guid and n == 1 and len(guid) <= 1000 and guid not in own
    }


KnownKeys = Callable[[Collection[str]], Collection[str]]
"""Given entry keys of one body, those already delivered: asked about the body's
entries, so a parse never reads a feed's whole delivery history."""


def nothing_known(keys: Collection[str]) -> Collection[str]:
    return ()


def split_known(
    guids: Sequence[str], *, feed_url: str, site_url: object, known: KnownKeys
) -> tuple[list[int], tuple[str, ...]]:
    """Which entries (by index) to build, and the keys of those already delivered.

    An entry whose trusted GUID's key is `known` needs no item: a changed feed
    mostly repeats what was delivered before, and building an item (canonical
    link, date, summary) for each of those was most of the cost of a parse.
    A trusted GUID is unique in the body, so leaving those entries out changes
    neither the trust nor the duplicates of the others.
    """
    trusted = trusted_guids(guids, feed_url, site_url)
    keys = {i: guid_key(guid) for i, raw in enumerate(guids) if (guid := raw.strip()) in trusted}
    delivered = set(known(keys.values())) if keys else set()
    if not delivered:
        return list(range(len(guids))), ()
    build: list[int] = []
    seen: list[str] = []
    for index in range(len(guids)):
        key = keys.get(index)
        if key is not None and key in delivered:
            seen.append(key)
        else:
            build.append(index)
    return build, tuple(seen)


def collect(
    entries: Iterable[RawEntry], *, base: str, feed_url: str, feed_name: str, site_url: object,
    now: datetime,
) -> tuple[tuple[Item, ...], int, int]:
    """Items (one per identity, feed order), entries skipped, duplicates dropped."""
    listed = list(entries)
    trusted = trusted_guids((e.guid for e in listed), feed_url, site_url)
    items: list[Item] = []
    keys: set[str] = set()
    skipped = duplicates = 0
    for entry in listed:
        item = make_item(entry, base=base, feed_url=feed_url, feed_name=feed_name,
                         trusted=trusted, now=now)
        if item is None:
            skipped += 1
            continue
        key = entry_key(item)
        if key in keys:
            duplicates += 1
            continue
        keys.add(key)
        items.append(item)
    return tuple(items), skipped, duplicates


def make_item(
    entry: RawEntry, *, base: str, feed_url: str, feed_name: str, trusted: set[str],
    now: datetime,
) -> Item | None:
    """The entry as an `Item`, or None when it has no usable http(s) link."""
    link = entry.link.strip()
    if not link:
        return None
    try:
        url = canonical_url(link, base)
    except InvalidArticleUrl:
        return None
    guid = entry.guid.strip()
    summary = entry.summary
    if summary and len(summary) > MAX_SUMMARY_CHARS:
        summary = summary[: MAX_SUMMARY_CHARS - 1].rstrip() + "…"
    published = entry.published
    if published is not None and published > now + FUTURE_TOLERANCE:
        published = None
    return Item(
        item_id=id_of_canonical(url), url=url, guid=guid if guid in trusted else None,
        feed_url=feed_url, feed_name=feed_name, title=entry.title, summary=summary,
        published=published, discovered_at=now,
    )


def squash(text: object) -> str | None:
    """Whitespace collapsed; None for nothing."""
    if not text:
        return None
    return " ".join(str(text).split()) or None


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


def one_line(problem: object) -> str:
    text = str(problem).strip() or type(problem).__name__
    return text.splitlines()[0]
