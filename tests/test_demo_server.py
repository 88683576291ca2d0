"""The demo server and its bundled pages: valid feeds, conditional GET, and content
that supports exactly the demo's expected alerts."""

from __future__ import annotations

import http.client
import re
import typing
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from html.parser import HTMLParser
from urllib.parse import urlsplit

import feedparser
import pytest

from ingest.core.models import AlertKind
from ingest.demo import (
    ANNIVERSARY,
    DEMO_FEEDS,
    ECONOMY,
    EXPECTED_ACTOR,
    EXPECTED_ALERTS,
    EXPECTED_DUPLICATES,
    MAIN_STORY,
    PAGE_NAMES,
    SYNDICATED_COPY,
)
from ingest.demo.catalogue import load_page
from ingest.demo.server import DemoServer

CAPITALS_IN_DEMO = ("Kunduz", "Maimana", "Taloqan")


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1"
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


class _ArticleParagraphs(HTMLParser):
    """The text of every <p> inside <article>."""

    def __init__(self) -> None:
        super().__init__()
        self.paragraphs: list[str] = []
        self._in_article = 0
        self._current: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "article":
            self._in_article += 1
        elif tag == "p" and self._in_article:
            self._current = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "article":
            self._in_article -= 1
        elif tag == "p" and self._current is not None:
            self.paragraphs.append(" ".join("".join(self._current).split()))
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._current.append(data)


def body_paragraphs(name: str) -> list[str]:
    """The story paragraphs of a page: inside the article, without byline, kicker or share line."""
    parser = _ArticleParagraphs()
    parser.feed(load_page(name).render("http://127.0.0.1:1"))
    skip = ("By ", "Share this story", "Afghanistan", "Business", "Twenty years of war ·")
    return [p for p in parser.paragraphs if not p.startswith(skip)]


def sentences(paragraphs: list[str]) -> list[str]:
    return [s for p in paragraphs for s in re.split(r"(?<=[.!?\"])\s+(?=[A-Z\"])", p)]


@pytest.fixture(scope="module")
def server() -> Iterator[DemoServer]:
    with DemoServer() as running:
        yield running


# --- feeds ---------------------------------------------------------------------


def test_default_server_serves_ledger_and_courier_feeds(server: DemoServer) -> None:
    assert server.feed_urls == [
        f"{server.base_url}/feeds/ledger.xml",
        f"{server.base_url}/feeds/courier.xml",
    ]


@pytest.mark.parametrize(
    ("feed", "title", "pages"),
    [
        ("ledger", "Kabul Ledger", [MAIN_STORY, ANNIVERSARY, ECONOMY]),
        ("courier", "Frontier Courier", [SYNDICATED_COPY]),
    ],
)
def test_feed_is_valid_rss_listing_its_pages_under_the_base_url(
    server: DemoServer, feed: str, title: str, pages: list[str]
) -> None:
    status, headers, body = get(server.feed_url(feed))
    assert status == 200
    assert headers["Content-Type"].startswith("application/rss+xml")
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "rss20"
    assert parsed.feed.title == title
    assert len(parsed.entries) == len(pages)
    for entry, page in zip(parsed.entries, pages, strict=True):
        assert entry.link.split("?")[0] == f"{server.base_url}/articles/{page}"
        assert entry.id
        assert entry.title
        assert entry.summary


def test_feed_items_take_title_date_and_summary_from_the_page(server: DemoServer) -> None:
    _, _, body = get(server.feed_url("ledger"))
    entry = feedparser.parse(body).entries[0]
    assert entry.title == "Taliban push into Kunduz and Maimana as northern offensive gathers pace"
    assert entry.published == "Mon, 21 Jun 2021 05:30:00 GMT"
    assert entry.summary.startswith("Insurgents reached the entrances of two northern")


def test_courier_links_carry_tracking_parameters_and_still_resolve(server: DemoServer) -> None:
    _, _, body = get(server.feed_url("courier"))
    link = feedparser.parse(body).entries[0].link
    assert "utm_source=rss" in urlsplit(link).query
    status, _, tracked = get(link)
    _, _, clean = get(server.page_url(SYNDICATED_COPY))
    assert status == 200
    assert tracked == clean


def test_unknown_feed_and_page_are_404(server: DemoServer) -> None:
    assert get(f"{server.base_url}/feeds/nope.xml")[0] == 404
    assert get(f"{server.base_url}/articles/nope")[0] == 404


# --- conditional GET -------------------------------------------------------------


def test_feed_with_matching_etag_answers_304_without_body(server: DemoServer) -> None:
    _, headers, _ = get(server.feed_url("ledger"))
    status, again, body = get(server.feed_url("ledger"), {"If-None-Match": headers["ETag"]})
    assert status == 304
    assert body == b""
    assert again["ETag"] == headers["ETag"]


def test_feed_with_stale_etag_answers_200(server: DemoServer) -> None:
    status, _, body = get(server.feed_url("ledger"), {"If-None-Match": '"not-the-etag"'})
    assert status == 200
    assert body


def test_feed_last_modified_is_its_newest_item_and_honours_if_modified_since(
    server: DemoServer,
) -> None:
    _, headers, _ = get(server.feed_url("ledger"))
    # The ledger's newest page is the economy piece, published 11:00 UTC on 21 June 2021.
    assert headers["Last-Modified"] == "Mon, 21 Jun 2021 11:00:00 GMT"
    status, _, _ = get(server.feed_url("ledger"), {"If-Modified-Since": headers["Last-Modified"]})
    assert status == 304
    earlier = format_datetime(datetime(2021, 6, 21, 10, 59, tzinfo=UTC), usegmt=True)
    assert get(server.feed_url("ledger"), {"If-Modified-Since": earlier})[0] == 200


def test_if_none_match_takes_precedence_over_if_modified_since(server: DemoServer) -> None:
    _, headers, _ = get(server.feed_url("ledger"))
    conditions = {"If-None-Match": '"other"', "If-Modified-Since": headers["Last-Modified"]}
    assert get(server.feed_url("ledger"), conditions)[0] == 200


def test_page_with_matching_etag_answers_304(server: DemoServer) -> None:
    _, headers, _ = get(server.page_url(MAIN_STORY))
    assert get(server.page_url(MAIN_STORY), {"If-None-Match": headers["ETag"]})[0] == 304


def test_set_feed_changes_etag_and_moves_last_modified_forward() -> None:
    with DemoServer({"a": [MAIN_STORY]}) as server:
        _, before, _ = get(server.feed_url("a"))
        # Adding an older page leaves the newest item as it was; the date must still move on.
        server.set_feed("a", [MAIN_STORY, ANNIVERSARY])
        status, after, body = get(server.feed_url("a"), {"If-None-Match": before["ETag"]})
        assert status == 200
        assert after["ETag"] != before["ETag"]
        assert parsedate_to_datetime(after["Last-Modified"]) == parsedate_to_datetime(
            before["Last-Modified"]
        ) + timedelta(seconds=1)
        assert len(feedparser.parse(body).entries) == 2


# --- custom feed sets --------------------------------------------------------------


def test_custom_feed_set_serves_the_given_pages_without_tracking() -> None:
    with DemoServer({"a": [MAIN_STORY], "b": [SYNDICATED_COPY]}) as server:
        assert server.feed_urls == [server.feed_url("a"), server.feed_url("b")]
        links = [feedparser.parse(get(url)[2]).entries[0].link for url in server.feed_urls]
        assert links == [server.page_url(MAIN_STORY), server.page_url(SYNDICATED_COPY)]
        assert get(f"{server.base_url}/feeds/ledger.xml")[0] == 404


def test_request_log_records_path_and_status() -> None:
    with DemoServer({"a": [ECONOMY]}) as server:
        _, headers, _ = get(server.feed_url("a"))
        get(server.feed_url("a"), {"If-None-Match": headers["ETag"]})
        get(f"{server.base_url}/articles/missing")
        assert server.request_log() == [
            ("/feeds/a.xml", 200),
            ("/feeds/a.xml", 304),
            ("/articles/missing", 404),
        ]


def test_unknown_page_in_a_feed_is_refused_at_construction() -> None:
    with pytest.raises(KeyError):
        DemoServer({"a": ["no-such-page"]})


def test_base_url_before_start_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        _ = DemoServer().base_url


# --- pages -----------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_page_is_html_with_canonical_link_to_itself(server: DemoServer, name: str) -> None:
    status, headers, body = get(server.page_url(name))
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    html = body.decode("utf-8")
    assert '<html lang="en">' in html
    assert f'<link rel="canonical" href="{server.base_url}/articles/{name}">' in html
    assert "{{base_url}}" not in html
    assert "<footer" in html
    assert "<nav" in html


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_page_has_a_full_story_body(name: str) -> None:
    assert len(body_paragraphs(name)) >= 10


def test_every_page_is_published_on_the_demo_news_days() -> None:
    for name in PAGE_NAMES:
        assert load_page(name).published.date() in {
            datetime(2021, 6, 20).date(),
            datetime(2021, 6, 21).date(),
        }


def test_main_story_reports_the_three_capitals_and_its_decoys() -> None:
    paragraphs = body_paragraphs(MAIN_STORY)
    text = " ".join(paragraphs)
    for phrase in ("Maimana", "Taloqan", "Kunduz", "Bagram Airfield", "Faryab", "Takhar"):
        assert phrase in text
    assert not any(capital in paragraphs[0] for capital in CAPITALS_IN_DEMO)
    assert "entered two provincial capitals" in paragraphs[0]
    assert "captured Kunduz in 2015 and again in 2016" in text
    assert "the Taliban cannot enter the city" in text
    assert "near the entrance of Taloqan" in text


def test_syndicated_copy_is_the_main_story_with_wire_edits() -> None:
    original = body_paragraphs(MAIN_STORY)
    copy = body_paragraphs(SYNDICATED_COPY)
    assert copy[0].startswith("KABUL (Wire) — ")
    assert copy[0].removeprefix("KABUL (Wire) — ") == original[0]
    assert copy[1 : len(original) - 1] == original[1:-1]
    assert original[-1] not in copy
    assert any(p.startswith("Read more:") for p in copy)
    assert load_page(SYNDICATED_COPY).title != load_page(MAIN_STORY).title
    delay = load_page(SYNDICATED_COPY).published - load_page(MAIN_STORY).published
    assert timedelta(hours=1) <= delay <= timedelta(hours=12)


def test_anniversary_names_the_actor_only_with_past_years() -> None:
    paragraphs = body_paragraphs(ANNIVERSARY)
    text = " ".join(paragraphs)
    assert "Kunduz" in text
    assert not any(c in text for c in ("Maimana", "Taloqan"))
    with_actor = [s for s in sentences(paragraphs) if EXPECTED_ACTOR in s]
    assert with_actor
    for sentence in with_actor:
        years = [int(y) for y in re.findall(r"\b(20\d\d)\b", sentence)]
        assert years, sentence
        assert max(years) <= 2016, sentence


def test_economy_piece_never_puts_the_actor_with_a_place() -> None:
    paragraphs = body_paragraphs(ECONOMY)
    text = " ".join(paragraphs)
    assert "Kabul" in text
    assert "Herat" in text
    assert not any(c in text for c in CAPITALS_IN_DEMO)
    for sentence in sentences(paragraphs):
        if EXPECTED_ACTOR in sentence:
            assert "Kabul" not in sentence
            assert "Herat" not in sentence


def test_expected_alerts_are_three_distinct_capitals_with_valid_kinds() -> None:
    assert {name for name, _ in EXPECTED_ALERTS} == set(CAPITALS_IN_DEMO)
    assert {kind for _, kind in EXPECTED_ALERTS} <= set(typing.get_args(AlertKind))
    assert EXPECTED_DUPLICATES == {SYNDICATED_COPY: MAIN_STORY}
    assert {p for pages in DEMO_FEEDS.values() for p in pages} == set(PAGE_NAMES)


def test_trafilatura_keeps_the_story_and_drops_the_site_boilerplate() -> None:
    import trafilatura  # noqa: PLC0415 - heavy import, only this test needs it

    page = load_page(MAIN_STORY)
    html = page.render("http://127.0.0.1:1")
    text = trafilatura.extract(html)
    assert text is not None
    assert "in Maimana, the capital of Faryab province" in text
    assert "near the entrance of Taloqan" in text
    assert "All rights reserved" not in text
    assert "We use cookies" not in text
    metadata = trafilatura.extract_metadata(html)
    assert metadata.date == "2021-06-21"
    assert metadata.sitename == "Kabul Ledger"
