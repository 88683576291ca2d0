"""Turn a downloaded page into the project's `Article`: the one place trafilatura is called.

`clean()` never raises for anything about the page. A page that yields too
little text still becomes an `Article`, with the best text the feed and page
offer and `extraction.status` "partial" (some text) or "empty" (none), and a
reason in plain words. The choice is deliberate: a headline or summary saying
that fighters entered a city is worth geotagging even when the page defeated
the extractor, and an "empty" article is cheap for later stages to skip, while
a dead letter would hide the item from every consumer. Errors in this module's
own code still propagate (they are bugs, not bad input).

The body is screened first (`ingest.cleaner.body`: not HTML, binary, too
big, mis-decoded), and the result is classified (`ingest.cleaner.page_kind`):
a consent wall's text is never taken as the article, a paywall stub's teaser
only when nothing longer is offered.

Extraction is deterministic for a given `RawPage` (dates are bounded by the
fetch time, not the clock), so a replay produces the same article.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
import trafilatura
from trafilatura.settings import Document

from ingest.cleaner.body import screen_body
from ingest.cleaner.language import detect_language
from ingest.cleaner.metadata import (
    DATE_FORMAT,
    PageMetadata,
    read_document,
    read_metadata,
)
from ingest.cleaner.page_kind import ARTICLE, PageVerdict, classify_page
from ingest.cleaner.page_tree import PageTree, parse_page
from ingest.core.models import (
    Article,
    Extraction,
    ExtractionStatus,
    LanguageSource,
    PublishedSource,
    RawPage,
)

# Matches CleanerSettings.max_page_chars: callers outside the stage get the same guard.
MAX_PAGE_CHARS = 2_000_000

log = structlog.get_logger()


@dataclass(frozen=True)
class _Page:
    text: str
    meta: PageMetadata
    problem: str | None = None  # why the page itself could not be read, if it could not
    notes: tuple[str, ...] = ()  # what was done to the body that makes the text suspect
    verdict: PageVerdict = ARTICLE


@dataclass(frozen=True)
class _Text:
    text: str
    status: ExtractionStatus
    reason: str | None


def clean(
    raw: RawPage, *, min_text_chars: int, max_page_chars: int = MAX_PAGE_CHARS, fast: bool = True
) -> Article:
    """Extract the article from `raw`; text shorter than `min_text_chars` is "partial".

    `fast` skips trafilatura's fallback extractors (readability, jusText):
    about a third less CPU per page, for an F1 that stays at least raw
    `trafilatura.extract`'s on the benchmark pages (see BENCHMARKS.md).

    A page longer than `max_page_chars` is cut there before parsing (status
    "partial", saying so), which bounds the time one page can take.

    Precedence of each field:
    - text: the page's main text; when it is shorter than `min_text_chars`,
      the longest of that, the feed summary, the page's description and the
      title (status "partial"); when all are empty, "" (status "empty");
    - published: the page's date, else the feed's, else the fetch time (never
      later than the fetch time), in UTC, with `published_source` saying which;
    - source: the site name the page declares, else the feed's name;
    - canonical_url: `<link rel=canonical>`, else `og:url`, else the final URL;
    - title: the page's, else the feed item's;
    - language: the page's declaration, else detected from the chosen text
      (`language_source` "page" or "detected"; None when too short or unsure);
    - extraction.page_kind: "article", or what the page is instead.
    """
    item = raw.item
    page = _read_page(raw, max_page_chars, fast)
    chosen = _choose_text(page, raw, min_text_chars)
    language, language_source = _language(page.meta.language, chosen.text)
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
        language=language,
        language_source=language_source,
        published=published,
        published_source=published_source,
        fetched_at=raw.fetched_at,
        extraction=Extraction(
            status=chosen.status, reason=chosen.reason, page_kind=page.verdict.kind
        ),
    )


def _language(declared: str | None, text: str) -> tuple[str | None, LanguageSource | None]:
    if declared:
        return declared, "page"
    detected = detect_language(text)
    return (detected, "detected") if detected else (None, None)


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


def _read_page(raw: RawPage, max_page_chars: int, fast: bool) -> _Page:
    body = screen_body(raw, max_chars=max_page_chars)
    if body.problem is not None:
        return _Page("", PageMetadata(), body.problem)
    tree: PageTree | None = None
    try:
        tree = parse_page(body.html)
        if tree is None:
            return _Page("", PageMetadata(), "the page body is not HTML", body.notes)
        doc, text = _run_trafilatura(tree, raw.final_url, _date_params(raw.fetched_at), fast)
    except Exception as exc:  # trafilatura and its parsers on untrusted input
        log.warning(
            "extraction_failed",
            article_id=raw.item.item_id,
            url=raw.final_url,
            error=f"{type(exc).__name__}: {exc}",
        )
        problem = f"trafilatura failed on the page ({type(exc).__name__})"
        return _Page("", read_metadata(None, tree, raw.final_url), problem, body.notes)
    text = paragraphs(text)
    verdict = classify_page(tree, raw.final_url, text)
    return _Page(text, read_metadata(doc, tree, raw.final_url), None, body.notes, verdict)


def _run_trafilatura(
    tree: PageTree, url: str, date_params: dict[str, Any], fast: bool
) -> tuple[Document, str]:
    """The page's metadata document and main text ("" when it found none)."""
    doc = trafilatura.bare_extraction(
        tree,  # bare_extraction works on a copy: the caller's tree stays whole
        url=url,
        fast=fast,
        with_metadata=False,  # read_document does it without what nobody reads
        include_comments=False,
    )
    text = doc.text or "" if isinstance(doc, Document) else ""
    return read_document(tree, url, date_params), text


def _choose_text(page: _Page, raw: RawPage, min_text_chars: int) -> _Text:
    extracted = page.text
    kind, cue = page.verdict.kind, page.verdict.cue
    if kind == "consent_wall":
        extracted = ""  # the wall's text is about cookies, not the story
    if extracted and len(extracted) >= min_text_chars and kind != "paywall":
        if page.notes:
            return _Text(extracted, "partial", "; ".join(page.notes))
        return _Text(extracted, "ok", None)
    if page.problem:
        why = "; ".join((page.problem, *page.notes))
    elif kind in ("consent_wall", "paywall"):
        name = "a consent wall" if kind == "consent_wall" else "a paywall stub"
        why = f"the page is {name} ({cue})"
    elif extracted:
        why = (
            f"trafilatura found only {len(extracted)} characters of main text "
            f"(fewer than {min_text_chars})"
        )
    else:
        why = "trafilatura found no main text"
    if page.notes and not page.problem:
        why = "; ".join((why, *page.notes))
    offered = (
        (extracted, "kept the paywall teaser" if kind == "paywall" else "kept the short main text"),
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
