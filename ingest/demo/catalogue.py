"""The bundled demo pages: loading them from package data and reading their metadata.

Each page is a complete HTML document in `ingest/demo/pages/<name>.html`. Its
feed metadata (title, outlet, summary, publication time) is read from the page's
own `<meta>` tags, so a page and the feed item that announces it cannot
disagree. Absolute self-links in a page are written as `{{base_url}}` and filled
in when the page is rendered for a particular server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from html.parser import HTMLParser
from importlib.resources import files

from ingest.demo import PAGE_NAMES

BASE_URL_PLACEHOLDER = "{{base_url}}"


class UnknownPage(KeyError):
    """No bundled page has this name."""


@dataclass(frozen=True)
class DemoPage:
    """One bundled article page and the metadata its feed item is built from."""

    name: str
    title: str
    site_name: str
    description: str
    published: datetime
    template: str

    def path(self) -> str:
        """The page's path on a demo server."""
        return f"/articles/{self.name}"

    def render(self, base_url: str) -> str:
        """The page's HTML with its self-links pointing at `base_url` (no trailing slash)."""
        return self.template.replace(BASE_URL_PLACEHOLDER, base_url.rstrip("/"))


class _HeadReader(HTMLParser):
    """Collects `<meta>` name/property → content and the `<title>` text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        fields = dict(attrs)
        if tag == "meta":
            key = fields.get("property") or fields.get("name")
            content = fields.get("content")
            if key and content is not None:
                self.meta.setdefault(key, content)
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def _parse(name: str, html: str) -> DemoPage:
    reader = _HeadReader()
    reader.feed(html)
    reader.close()
    meta = reader.meta
    missing = [
        k for k in ("og:site_name", "description", "article:published_time") if not meta.get(k)
    ]
    if missing:
        raise ValueError(f"demo page {name!r} lacks <meta> {', '.join(missing)}")
    published = datetime.fromisoformat(meta["article:published_time"])
    if published.tzinfo is None:
        raise ValueError(f"demo page {name!r}: article:published_time has no time zone")
    return DemoPage(
        name=name,
        title=meta.get("og:title") or reader.title.strip(),
        site_name=meta["og:site_name"],
        description=meta["description"],
        published=published,
        template=html,
    )


@cache
def load_page(name: str) -> DemoPage:
    """The bundled page `name` (a file stem from `PAGE_NAMES`); raises `UnknownPage`."""
    if name not in PAGE_NAMES:
        raise UnknownPage(name)
    html = files("ingest.demo").joinpath("pages", f"{name}.html").read_text(encoding="utf-8")
    return _parse(name, html)


def load_pages() -> dict[str, DemoPage]:
    """Every bundled page by name, in `PAGE_NAMES` order."""
    return {name: load_page(name) for name in PAGE_NAMES}
