"""OPML 1.0/2.0 feed lists: read the outlines that carry an `xmlUrl`, write one back.

Nested outlines (folders) are flattened; an outline's `title` or `text`
becomes the feed's name. Parsed with expat (no external entities).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

from ingest.core.settings import FeedConfig


class OpmlError(ValueError):
    """The file is not OPML with feed outlines; the text says why."""


def read_opml(data: bytes, *, interval: timedelta = timedelta(minutes=5)) -> list[FeedConfig]:
    """Every http(s) feed outline, in document order, first occurrence of a URL kept."""
    try:
        root = ET.fromstring(data)  # noqa: S314 (expat: no external entities, no bombs)
    except ET.ParseError as exc:
        raise OpmlError(f"not valid OPML XML ({exc})") from None
    if root.tag.lower() != "opml":
        raise OpmlError(f"not OPML: the root element is <{root.tag}>")
    feeds: dict[str, FeedConfig] = {}
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if not url.startswith(("http://", "https://")) or url in feeds:
            continue
        name = (outline.get("title") or outline.get("text") or "").strip() or None
        feeds[url] = FeedConfig(url=url, name=name, interval=interval)
    return list(feeds.values())


def write_opml(feeds: list[FeedConfig], title: str = "news-ingest feeds") -> bytes:
    """An OPML 2.0 document with one `rss` outline per feed."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    body = ET.SubElement(root, "body")
    for feed in feeds:
        name = feed.name or feed.url
        ET.SubElement(body, "outline", type="rss", text=name, title=name, xmlUrl=feed.url)
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"
