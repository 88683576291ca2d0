"""Turn a downloaded page into the project's `Article`: the one place trafilatura is called.

`clean()` never raises for anything about the page. A page that yields too
little text still becomes an `Article`, with the best text the feed and page
offer and `extraction.status` "partial" (some text) or "empty" (none), and a
reason in plain words. The choice is deliberate: a headline or summary saying
that fighters entered a city is worth geotagging even when the page defeated
the extractor, and an "empty" article is cheap for later stages to skip, while
a dead letter would hide the item from every consumer. Errors in this module's
own code still propagate (they are bugs, not bad input).

Extraction is deterministic for a given `RawPage` (dates are bounded by the
fetch time, not the clock), so a replay produces the same article.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
import trafilatura
from trafilatura.metadata import extract_metadata
from trafilatura.settings import Document
from trafilatura.utils import load_html

from ingest.cleaner.metadata import DATE_FORMAT, PageMetadata, PageTree, read_metadata
from ingest.core.models import Article, Extraction, ExtractionStatus, PublishedSource, RawPage

log = structlog.get_logger()


@dataclass(frozen=True)
class _Page:
    text: str
    meta: PageMetadata
    problem: str | None = None  # why the page itself could not be read, if it could not


@dataclass(frozen=True)
class _Text:
    text: str
    status: ExtractionStatus
    reason: str | None


def clean(raw: RawPage, *, min_text_chars: int) -> Article:
    """Extract the article from `raw`; text shorter than `min_text_chars` is "partial".

    Precedence of each field:
    - text: the page's main text; when it is shorter than `min_text_chars`,
      the longest of that, the feed summary, the page's description and the
      title (status "partial"); when all are empty, "" (status "empty");
    - published: the page's date, else the feed's, else the fetch time (never
      later than the fetch time), in UTC, with `published_source` saying which;
    - source: the site name the page declares, else the feed's name;
    - canonical_url: `<link rel=canonical>`, else `og:url`, else the final URL;
    - title: the page's, else the feed item's.
    """
    item = raw.item
    page = _read_page(raw)
    chosen = _choose_text(page, raw, min_text_chars)
    published, published_source = _publication_time(page.meta.published, raw)
    return Article(
        article_id=item.item_id,
        url=raw.final_url,
        canonical_url=page.meta.canonical_url or raw.final_url,
        feed_url=item.feed_url,
        source=page.meta.site_name or item.feed_name,
        title=page.meta.title or item.title,
        authors=list(page.meta.authors),
        text=chosen.text,
        language=page.meta.language,
        published=published,
        published_source=published_source,
        fetched_at=raw.fetched_at,
        extraction=Extraction(status=chosen.status, reason=chosen.reason),
    )


def _date_params(fetched_at: datetime) -> dict[str, Any]:
    # Only dates the page declares in its markup or URL: htmldate's extensive
    # search also guesses from free text, which would let a date mentioned in
    # the story outrank the feed's exact timestamp. A day of slack covers
    # pages dated in a time zone ahead of the fetcher's.
    return {
        "original_date": True,
        "extensive_search": False,
        "outputformat": DATE_FORMAT,
        "max_date": (fetched_at + timedelta(days=1)).strftime("%Y-%m-%d"),
    }


def _read_page(raw: RawPage) -> _Page:
    if not 200 <= raw.status < 300:
        return _Page("", PageMetadata(), f"the page answered HTTP {raw.status}")
    if not raw.html.strip():
        return _Page("", PageMetadata(), "the page body is empty")
    tree: PageTree | None = None
    try:
        tree = load_html(raw.html)
        if tree is None:
            return _Page("", PageMetadata(), "the page body is not HTML")
        doc, text = _run_trafilatura(tree, raw.final_url, _date_params(raw.fetched_at))
    except Exception as exc:  # trafilatura and its parsers on untrusted input
        log.warning(
            "extraction_failed",
            article_id=raw.item.item_id,
            url=raw.final_url,
            error=f"{type(exc).__name__}: {exc}",
        )
        problem = f"trafilatura failed on the page ({type(exc).__name__})"
        return _Page("", read_metadata(None, tree, raw.final_url), problem)
    return _Page(paragraphs(text), read_metadata(doc, tree, raw.final_url))


def _run_trafilatura(tree: PageTree, url: str, date_params: dict[str, Any]) -> tuple[Document, str]:
    """The page's metadata document and main text ("" when it found none)."""
    doc = trafilatura.bare_extraction(
        tree,  # bare_extraction works on a copy: the caller's tree stays whole
        url=url,
        with_metadata=True,
        include_comments=False,
        date_extraction_params=date_params,
    )
    if isinstance(doc, Document):
        return doc, doc.text or ""
    # None means no main text, and the metadata trafilatura had read is
    # dropped with it; the page may still name its title, date and site.
    return extract_metadata(tree, url, date_params), ""


def _choose_text(page: _Page, raw: RawPage, min_text_chars: int) -> _Text:
    extracted = page.text
    if extracted and len(extracted) >= min_text_chars:
        return _Text(extracted, "ok", None)
    if page.problem:
        why = page.problem
    elif extracted:
        why = (
            f"trafilatura found only {len(extracted)} characters of main text "
            f"(fewer than {min_text_chars})"
        )
    else:
        why = "trafilatura found no main text"
    offered = (
        (extracted, "kept the short main text"),
        (paragraphs(raw.item.summary), "used the feed summary"),
        (paragraphs(page.meta.description), "used the page's description"),
        (paragraphs(raw.item.title or page.meta.title), "used the title"),
    )
    # The longest wins (the first on a tie): a menu word that slipped through
    # the extractor tells less than the headline the feed gives.
    text, used = max(offered, key=lambda pair: len(pair[0]))
    if not text:
        return _Text("", "empty", f"{why}; the feed item has no summary or title either")
    return _Text(text, "partial", f"{why}; {used}")


def _publication_time(page_date: datetime | None, raw: RawPage) -> tuple[datetime, PublishedSource]:
    # Nothing is published after we fetched it: a later date comes from a
    # wrong time zone or a bad clock, and would confuse event-time windows.
    fetched_at = raw.fetched_at.astimezone(UTC)
    if page_date is not None:
        return min(page_date, fetched_at), "page"
    if raw.item.published is not None:
        return min(raw.item.published.astimezone(UTC), fetched_at), "feed"
    return fetched_at, "fetched"


def paragraphs(text: str | None) -> str:
    """Trim every line and separate the non-empty ones with one blank line."""
    if not text:
        return ""
    return "\n\n".join(line for line in (part.strip() for part in text.splitlines()) if line)
