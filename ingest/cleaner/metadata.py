"""What a page declares about itself: canonical URL, language, site name, date.

trafilatura's metadata `Document` is read here into a `PageMetadata`, together
with what trafilatura does not report (the declared language) or reports with
a precedence this project does not want (it prefers `og:url` over
`<link rel=canonical>`). Everything here is a pure function of the page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import structlog
from htmldate import find_date
from trafilatura.metadata import (
    examine_meta,
    extract_meta_json,
    extract_sitename,
    extract_title,
)
from trafilatura.settings import Document

from ingest.cleaner.byline import page_byline
from ingest.cleaner.page_tree import PageTree

log = structlog.get_logger()

# The host trafilatura falls back to as a site name when the page names none
# (same pattern as trafilatura.metadata.META_URL).
_URL_SITE = re.compile(r"https?://(?:www\.|w[0-9]+\.)?([^/]+)")
_LANGUAGE_TAG = re.compile(r"([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*")

# htmldate is asked for this format so that a time and an offset survive when
# the page gives them; a date alone comes back as midnight without an offset.
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


def read_document(tree: PageTree, url: str, date_params: dict[str, Any]) -> Document:
    """trafilatura's metadata for the page, without what this project does not use.

    The same steps as `trafilatura.metadata.extract_metadata` for title,
    author, date and site name; categories, tags, licence and the URL guess
    are skipped, as they cost about a quarter of its time and nothing reads
    them, and the byline in the body is found by `page_byline`, a quarter of
    `extract_author`'s time for the same answer. A site name is never derived
    from the URL here (the feed's name is the better fallback). `url` is the
    page's own URL, for dates in paths.
    """
    doc = examine_meta(tree)
    if doc.author and " " not in doc.author:
        doc.author = None  # a single word is a handle or a desk, not a byline
    try:
        doc = extract_meta_json(tree, doc)
    except Exception as exc:  # trafilatura's JSON-LD reader on untrusted markup
        log.info("json_ld_metadata_failed", url=url, error=f"{type(exc).__name__}: {exc}")
    doc.title = doc.title or extract_title(tree)
    doc.author = doc.author or page_byline(tree)
    doc.url = url
    doc.date = find_date(tree, url=url, **date_params)
    doc.sitename = doc.sitename or extract_sitename(tree)
    if doc.sitename:
        doc.sitename = doc.sitename.lstrip("@")
        if doc.sitename and "." not in doc.sitename and not doc.sitename[0].isupper():
            doc.sitename = doc.sitename.title()
    doc.clean_and_trim()
    return doc


@dataclass(frozen=True)
class PageMetadata:
    """The page's own metadata; every field is None (or empty) when the page is silent."""

    title: str | None = None
    authors: tuple[str, ...] = ()
    site_name: str | None = None
    description: str | None = None
    published: datetime | None = None
    canonical_url: str | None = None
    language: str | None = None


def read_metadata(doc: Document | None, tree: PageTree | None, final_url: str) -> PageMetadata:
    """Convert trafilatura's metadata and the parsed page into a `PageMetadata`.

    `doc` is None when trafilatura produced nothing; `tree` is None when the
    body is not HTML. `published` is timezone-aware (UTC) when present.
    """
    canonical = canonical_url(tree, final_url) if tree is not None else None
    language = declared_language(tree) if tree is not None else None
    if doc is None:
        return PageMetadata(canonical_url=canonical, language=language)
    return PageMetadata(
        title=doc.title or None,
        authors=split_authors(doc.author),
        site_name=declared_site_name(doc),
        description=doc.description or None,
        published=parse_page_date(doc.date),
        canonical_url=canonical,
        language=language,
    )


def canonical_url(tree: PageTree, final_url: str) -> str | None:
    """The URL the page names as its own: `<link rel=canonical>`, else `og:url`.

    Relative references are resolved against `final_url`; the fragment is
    dropped. A canonical that points at the site's root while the page itself
    is deeper is a known CMS misconfiguration and is ignored, since trusting it
    would make every article of that site one URL.
    """
    candidates = [
        *(
            link.get("href") or ""
            for link in tree.iterfind(".//link[@href]")
            if "canonical" in (link.get("rel") or "").lower().split()
        ),
        *(
            meta.get("content") or ""
            for meta in tree.iterfind(".//meta[@content]")
            if (meta.get("property") or meta.get("name") or "").lower() == "og:url"
        ),
    ]
    page_path = urlsplit(final_url).path
    for candidate in candidates:
        url = _absolute_http_url(candidate.strip(), final_url)
        if url is None:
            continue
        parts = urlsplit(url)
        if parts.path in ("", "/") and not parts.query and page_path not in ("", "/"):
            continue
        return url
    return None


def _absolute_http_url(reference: str, base: str) -> str | None:
    if not reference:
        return None
    try:
        parts = urlsplit(urljoin(base, reference))
    except ValueError:  # e.g. an invalid IPv6 host in the href
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, "")
    )


def declared_language(tree: PageTree) -> str | None:
    """The language the page declares, as a lower-case ISO 639 code ('en', 'fr').

    Sources in order: `<html lang>`, `Content-Language` meta, `og:locale`.
    Only the primary subtag is kept (`en-GB` → `en`); values that are not
    language tags are ignored.
    """
    declared = [tree.get("lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang")]
    for meta in tree.iterfind(".//meta[@content]"):
        kind = (meta.get("http-equiv") or meta.get("property") or meta.get("name") or "").lower()
        if kind in ("content-language", "og:locale"):
            declared.append(meta.get("content"))
    for value in declared:
        match = _LANGUAGE_TAG.fullmatch((value or "").strip().split(",")[0].strip())
        if match:
            return match.group(1).lower()
    return None


def declared_site_name(doc: Document) -> str | None:
    """The site name the page gives, or None when trafilatura only derived it from the URL."""
    name = (doc.sitename or "").strip()
    if not name:
        return None
    derived = _URL_SITE.match(doc.url or "")
    if derived and derived.group(1).lower() == name.lower():
        return None
    return name


def split_authors(author: str | None) -> tuple[str, ...]:
    """trafilatura joins authors with ';': split, trim and drop repeats, keeping order."""
    names = (name.strip() for name in (author or "").split(";"))
    return tuple(dict.fromkeys(name for name in names if name))


def parse_page_date(value: str | None) -> datetime | None:
    """Parse htmldate's output (`DATE_FORMAT`) into an aware datetime in UTC.

    A date without a time or offset is taken as UTC (midnight for a bare date).
    """
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
