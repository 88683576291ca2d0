"""RSS 2.0 documents for the demo feeds, with absolute links to the serving host."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.etree.ElementTree import Element, SubElement, tostring

from ingest.demo.catalogue import DemoPage

ATOM_NS = "http://www.w3.org/2005/Atom"
TRACKING_QUERY = "utm_source=rss&utm_medium=feed&utm_campaign=world"
"""Appended to item links of tracked feeds, as syndicating sites do; a poller should drop it."""

EMPTY_FEED_DATE = datetime(2021, 6, 20, tzinfo=UTC)
"""lastBuildDate of a feed with no items (the demo's news day, for determinism)."""


def _slug(text: str) -> str:
    return "-".join(text.lower().split())


def newest(pages: Sequence[DemoPage]) -> datetime:
    """The latest publication time among `pages`, or `EMPTY_FEED_DATE` when there are none."""
    return max((p.published for p in pages), default=EMPTY_FEED_DATE)


def render_rss(
    *,
    title: str,
    base_url: str,
    self_path: str,
    pages: Sequence[DemoPage],
    tracking: bool = False,
) -> bytes:
    """An RSS 2.0 document (UTF-8) listing `pages` in the given order.

    Every link is absolute under `base_url`; each item has a stable guid (not a
    permalink), an RFC 822 pubDate from the page's `article:published_time` and
    the page's meta description. The output depends only on the arguments, so an
    unchanged feed renders to identical bytes (and ETag).
    """
    base = base_url.rstrip("/")
    rss = Element("rss", {"version": "2.0", "xmlns:atom": ATOM_NS})
    channel = SubElement(rss, "channel")
    SubElement(channel, "title").text = title
    SubElement(channel, "link").text = f"{base}/"
    SubElement(channel, "description").text = f"Latest stories from {title}"
    SubElement(channel, "language").text = "en"
    SubElement(channel, "lastBuildDate").text = format_datetime(newest(pages), usegmt=True)
    SubElement(
        channel,
        "atom:link",
        {"href": f"{base}{self_path}", "rel": "self", "type": "application/rss+xml"},
    )
    for page in pages:
        link = f"{base}{page.path()}"
        if tracking:
            link = f"{link}?{TRACKING_QUERY}"
        item = SubElement(channel, "item")
        SubElement(item, "title").text = page.title
        SubElement(item, "link").text = link
        SubElement(
            item, "guid", {"isPermaLink": "false"}
        ).text = f"urn:demo:{_slug(page.site_name)}:{page.name}"
        SubElement(item, "pubDate").text = format_datetime(
            page.published.astimezone(UTC), usegmt=True
        )
        SubElement(item, "description").text = page.description
    document: bytes = tostring(rss, encoding="utf-8", xml_declaration=True)
    return document
