"""Google News sitemaps (`<urlset>` with `news:news` entries) to items.

Parsed with the standard library's expat, which never fetches external
entities or DTDs and (expat >= 2.4) refuses entity-expansion bombs.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from ingest.poller.entries import FeedParseError, ParsedFeed, RawEntry, collect, one_line, squash

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
_URLSET = re.compile(rb"<(?:\w+:)?urlset\b")


def looks_like_sitemap(body: bytes) -> bool:
    return _URLSET.search(body[:4096]) is not None


def parse(
    body: bytes, *, base: str, feed_url: str, feed_name: str | None, now: datetime
) -> ParsedFeed:
    """Items of a (news) sitemap; pages without `news:news` are still items, undated."""
    try:
        root = ET.fromstring(body)  # noqa: S314 (expat: no external entities, no bombs)
    except ET.ParseError as exc:
        raise FeedParseError(f"malformed sitemap XML ({one_line(exc)})") from None
    if root.tag.rpartition("}")[2] != "urlset":
        raise FeedParseError("not a feed: no urlset root element")
    publication: str | None = None
    raw: list[RawEntry] = []
    for url in root.iter(f"{{{SITEMAP_NS}}}url"):
        news = url.find(f"{{{NEWS_NS}}}news")
        name = _text(news, f"{{{NEWS_NS}}}publication/{{{NEWS_NS}}}name")
        publication = publication or name
        raw.append(RawEntry(
            link=_text(url, f"{{{SITEMAP_NS}}}loc") or "", guid="",
            title=_text(news, f"{{{NEWS_NS}}}title"), summary=None,
            published=_date(_text(news, f"{{{NEWS_NS}}}publication_date")),
        ))
    items, skipped, duplicates = collect(
        raw, base=base, feed_url=feed_url, feed_name=feed_name or publication or feed_url,
        site_url=None, now=now,
    )
    return ParsedFeed(
        title=publication, site_url=None, version="sitemap-news", items=items, skipped=skipped,
        duplicates=duplicates, warning=None,
    )


def _text(node: ET.Element | None, path: str) -> str | None:
    if node is None:
        return None
    found = node.find(path)
    return squash(found.text) if found is not None and found.text else None


def _date(value: str | None) -> datetime | None:
    """W3C datetime: a date, or a date and time with a zone (a bare date is midnight UTC)."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
