"""JSON Feed 1.0/1.1 (https://jsonfeed.org/version/1.1) bodies to items."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ingest.poller.entries import (
    FeedParseError,
    KnownKeys,
    ParsedFeed,
    RawEntry,
    collect,
    html_to_text,
    nothing_known,
    one_line,
    split_known,
    squash,
)

_VERSION_PREFIX = "https://jsonfeed.org/version/"


def looks_like_json(body: bytes) -> bool:
    """A body whose first non-blank byte (after a UTF-8 BOM) opens a JSON object."""
    return body.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"{"


def parse(
    body: bytes, *, base: str, feed_url: str, feed_name: str | None, now: datetime,
    known: KnownKeys = nothing_known,
) -> ParsedFeed:
    """Items of a JSON Feed; `FeedParseError` for JSON that is not one. See `collect`
    for `known`."""
    try:
        doc = json.loads(body.removeprefix(b"\xef\xbb\xbf"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise FeedParseError(f"malformed JSON Feed ({one_line(exc)})") from None
    version = doc.get("version") if isinstance(doc, dict) else None
    if not isinstance(version, str) or not version.startswith(_VERSION_PREFIX):
        raise FeedParseError("not a feed: JSON without a JSON Feed version")
    entries = doc.get("items")
    if not isinstance(entries, list):
        raise FeedParseError("malformed JSON Feed: 'items' is not a list")
    title = squash(doc.get("title")) if isinstance(doc.get("title"), str) else None
    site = doc.get("home_page_url") if isinstance(doc.get("home_page_url"), str) else None
    raw = [_entry(e) for e in entries if isinstance(e, dict)]
    build, known_keys = split_known(
        [e.guid for e in raw], feed_url=feed_url, site_url=site, known=known
    )
    items, skipped, duplicates = collect(
        [raw[i] for i in build], base=base, feed_url=feed_url,
        feed_name=feed_name or title or feed_url, site_url=site, now=now,
    )
    skipped += sum(1 for e in entries if not isinstance(e, dict))
    return ParsedFeed(
        title=title, site_url=site, version="json" + version.removeprefix(_VERSION_PREFIX),
        items=items, skipped=skipped, duplicates=duplicates, warning=None,
        known_keys=known_keys,
    )


def _entry(entry: dict[str, Any]) -> RawEntry:
    link = entry.get("url") or entry.get("external_url") or ""
    summary = _text(entry.get("summary"))
    if summary is None and isinstance(entry.get("content_text"), str):
        summary = squash(entry["content_text"])
    if summary is None and isinstance(entry.get("content_html"), str):
        summary = squash(html_to_text(entry["content_html"]))
    return RawEntry(
        link=link if isinstance(link, str) else "",
        guid=str(entry.get("id") or ""),
        title=_text(entry.get("title")),
        summary=summary,
        published=_date(entry.get("date_published")) or _date(entry.get("date_modified")),
    )


def _text(value: object) -> str | None:
    return squash(value) if isinstance(value, str) else None


def _date(value: object) -> datetime | None:
    """RFC 3339 as JSON Feed requires; a date without a zone is read as UTC."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
