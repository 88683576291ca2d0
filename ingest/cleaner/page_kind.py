"""Pages that look like articles but are not: consent walls, paywall stubs, live blogs, videos.

`classify_page` is a pure function of the parsed page, its URL and the text
the extractor found. The cues are deliberately conservative: a real article
that is merely short stays an "article", because a wrong flag would hide a
report from later stages while a missed one only passes on a thin text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ingest.cleaner.page_tree import PageTree
from ingest.core.models import PageKind

# A stub (consent text, paywall teaser, video caption) is a few short paragraphs.
STUB_CHARS = 1500

_CONSENT_PHRASES = re.compile(
    r"\b(cookies?|consent|accept all|reject all|manage (?:options|preferences|settings|cookies)"
    r"|privacy (?:policy|settings|choices|preferences)|our partners|legitimate interest)\b",
    re.IGNORECASE,
)
_PAYWALL_PHRASES = re.compile(
    r"\b(subscribe (?:now )?to (?:continue|keep) reading|to continue reading,? (?:please )?"
    r"(?:subscribe|log in|sign in)|already a subscriber|for subscribers only|subscribers only"
    r"|(?:article|story|content) is (?:only )?(?:available|reserved|exclusive) (?:to|for) "
    r"(?:our )?(?:subscribers|members)|this is premium content)\b",
    re.IGNORECASE,
)
_LIVE_PATH = re.compile(
    r"/(?:live|live-news|live-updates|liveblog|live-blog)(?:[/-]|$)|as-it-happened"
)
_VIDEO_PATH = re.compile(r"/(?:video|videos|watch)(?:/|$)")


@dataclass(frozen=True)
class PageVerdict:
    kind: PageKind
    cue: str | None = None  # what decided it, for the log and the reason


ARTICLE = PageVerdict("article")


def classify_page(tree: PageTree | None, final_url: str, text: str) -> PageVerdict:
    """What the page is; `text` is the main text the extractor found ("" for none)."""
    stub = len(text) < STUB_CHARS
    url = urlsplit(final_url)
    types, free = _structured_data(tree) if tree is not None else (set(), None)
    og_type = _og_type(tree) if tree is not None else ""
    return (
        _wall(url.hostname or "", text, free, stub)
        or _not_a_story(url.path.lower(), types, og_type, stub)
        or ARTICLE
    )


def _wall(host: str, text: str, free: bool | None, stub: bool) -> PageVerdict | None:
    """A consent wall or paywall stub standing where the story should be."""
    if host.split(".", maxsplit=1)[0] in ("consent", "cookies", "privacy"):
        return PageVerdict("consent_wall", f"served from {host}")
    if not stub:
        return None
    if len({m.lower() for m in _CONSENT_PHRASES.findall(text)}) >= 3:
        return PageVerdict("consent_wall", "the text asks for cookie consent")
    paywalled = _PAYWALL_PHRASES.search(text)
    if paywalled:
        return PageVerdict("paywall", f"the text says {paywalled.group(0)!r}")
    if free is False:
        return PageVerdict("paywall", "the page marks itself isAccessibleForFree: false")
    return None


def _not_a_story(path: str, types: set[str], og_type: str, stub: bool) -> PageVerdict | None:
    """A live blog or a video page: real news, but not one article's text."""
    if "LiveBlogPosting" in types:
        return PageVerdict("live_blog", "the page declares a LiveBlogPosting")
    if _LIVE_PATH.search(path):
        return PageVerdict("live_blog", "the URL is a live page")
    if og_type.startswith("video"):
        return PageVerdict("video", f"og:type is {og_type}")
    is_article = any(t.endswith("Article") for t in types)
    if stub and not is_article and ("VideoObject" in types or _VIDEO_PATH.search(path)):
        return PageVerdict("video", "a video with little text")
    return None


def _og_type(tree: PageTree) -> str:
    for meta in tree.iterfind(".//meta[@content]"):
        if (meta.get("property") or meta.get("name") or "").lower() == "og:type":
            return (meta.get("content") or "").strip().lower()
    return ""


def _structured_data(tree: PageTree) -> tuple[set[str], bool | None]:
    """Every JSON-LD `@type` on the page, and its `isAccessibleForFree` (None if silent)."""
    types: set[str] = set()
    free: bool | None = None
    for script in tree.iterfind(".//script[@type]"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue  # broken JSON-LD is common and says nothing about the page
        for node in _walk(data):
            kind = node.get("@type")
            kinds = kind if isinstance(kind, list) else [kind]
            types.update(k for k in kinds if isinstance(k, str))
            value = node.get("isAccessibleForFree")
            if isinstance(value, bool | str) and free is not False:
                free = value if isinstance(value, bool) else value.strip().lower() != "false"
    return types, free


def _walk(data: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    if depth > 6:  # top-level entities and their @graph are enough
        return
    if isinstance(data, list):
        for entry in data:
            yield from _walk(entry, depth + 1)
    elif isinstance(data, dict):
        yield data
        for value in data.values():
            if isinstance(value, dict | list):
                yield from _walk(value, depth + 1)
