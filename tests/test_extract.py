"""The cleaner's extraction: page → Article, with its fallbacks and precedences."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import trafilatura

from ingest.cleaner.extract import clean
from ingest.core.models import Article, Item, RawPage

FETCHED = datetime(2021, 6, 20, 12, 0, tzinfo=UTC)
FEED_TIME = datetime(2021, 6, 20, 6, 30, tzinfo=UTC)
FINAL_URL = "https://www.frontier-ledger.example/world/insurgents-northern-city?utm_source=rss"
STORY_URL = "https://www.frontier-ledger.example/world/2021/06/20/insurgents-northern-city"
MIN_CHARS = 200

PARAGRAPHS = [
    "Armed fighters moved into the outskirts of a northern provincial capital on Sunday "
    "morning, according to two members of the local council who asked not to be named "
    "because they were not allowed to speak to reporters.",
    "Residents described hearing gunfire near the main bazaar before dawn. Several families "
    "said they had packed what they could carry and left for a neighbouring district where "
    "relatives could shelter them.",
    "A spokesman for the provincial governor said reinforcements were on their way and that "
    "the city remained under government control, although he would not say how many "
    "soldiers had been sent or when they would arrive.",
    "The push follows weeks of fighting in the surrounding countryside, where dozens of rural "
    "districts have changed hands and several army outposts have surrendered with their "
    "weapons and vehicles.",
]

NAV = """<header><nav><ul>
<li><a href="/">Home</a></li><li><a href="/world">World</a></li>
<li><a href="/business">Business</a></li><li><a href="/subscribe">Subscribe today</a></li>
</ul></nav></header>"""
FOOTER = """<footer><p>Copyright 2021 The Frontier Ledger. All rights reserved.</p>
<ul><li><a href="/privacy">Privacy policy</a></li><li><a href="/terms">Terms of use</a></li>
<li><a href="/contact">Contact the newsroom</a></li></ul></footer>"""


def news_page(head: str, *, html_attrs: str = "") -> str:
    """A news article page with menus and a footer around the story, and `head` inside <head>."""
    body = "\n".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return f"""<!DOCTYPE html>
<html{html_attrs}>
<head><meta charset="utf-8">
<title>Insurgents push into northern city as defences falter</title>
{head}
</head>
<body>
{NAV}
<main><article>
<h1>Insurgents push into northern city as defences falter</h1>
{body}
</article></main>
{FOOTER}
</body></html>"""


FULL_HEAD = f"""
<link rel="canonical" href="{STORY_URL}">
<meta property="og:url" content="https://www.frontier-ledger.example/share/insurgents">
<meta property="og:site_name" content="The Frontier Ledger">
<meta name="author" content="Nadia Rahimi">
<meta property="article:published_time" content="2021-06-20T09:15:00+04:30">
"""

APP_SHELL = """<!DOCTYPE html><html><head><title>Frontier Ledger</title>{head}</head>
<body><div id="root"></div><script>window.renderApp(document.getElementById("root"))</script>
</body></html>"""


def make_raw(
    html: str,
    *,
    final_url: str = FINAL_URL,
    status: int = 200,
    summary: str | None = None,
    title: str | None = None,
    feed_published: datetime | None = None,
) -> RawPage:
    item = Item(
        item_id="0123456789abcdef0123456789abcdef",
        url=final_url.split("?", maxsplit=1)[0],
        feed_url="https://www.frontier-ledger.example/rss/world.xml",
        feed_name="Frontier Ledger: World",
        title=title,
        summary=summary,
        published=feed_published,
        discovered_at=datetime(2021, 6, 20, 11, 55, tzinfo=UTC),
    )
    return RawPage(
        item=item,
        final_url=final_url,
        status=status,
        content_type="text/html",
        encoding="utf-8",
        html=html,
        fetched_at=FETCHED,
        elapsed_ms=12.0,
    )


def run(raw: RawPage) -> Article:
    return clean(raw, min_text_chars=MIN_CHARS)


# --- a full news page ------------------------------------------------------


def test_news_page_main_text_keeps_story_and_drops_menus_and_footer() -> None:
    article = run(make_raw(news_page(FULL_HEAD)))
    paragraphs = article.text.split("\n\n")
    for paragraph in PARAGRAPHS:
        assert paragraph in paragraphs
    for boilerplate in ("Subscribe today", "Privacy policy", "All rights reserved", "Business"):
        assert boilerplate not in article.text
    assert article.extraction.status == "ok"
    assert article.extraction.reason is None


def test_paragraphs_are_separated_by_exactly_one_blank_line() -> None:
    text = run(make_raw(news_page(FULL_HEAD))).text
    assert "\n\n\n" not in text
    assert all("\n" not in p and p == p.strip() and p for p in text.split("\n\n"))


def test_news_page_metadata_comes_from_the_page() -> None:
    article = run(make_raw(news_page(FULL_HEAD), title="Feed headline"))
    assert article.title == "Insurgents push into northern city as defences falter"
    assert article.authors == ["Nadia Rahimi"]
    assert article.source == "The Frontier Ledger"
    assert article.url == FINAL_URL
    assert article.article_id == "0123456789abcdef0123456789abcdef"
    assert article.feed_url == "https://www.frontier-ledger.example/rss/world.xml"
    assert article.fetched_at == FETCHED


def test_replaying_the_same_page_gives_the_same_article() -> None:
    raw = make_raw(news_page(FULL_HEAD), feed_published=FEED_TIME)
    assert run(raw) == run(raw)


# --- publication time: page, then feed, then fetch time --------------------


def test_page_date_wins_over_feed_date_and_is_converted_to_utc() -> None:
    """09:15 at +04:30 is 04:45 UTC."""
    article = run(make_raw(news_page(FULL_HEAD), feed_published=FEED_TIME))
    assert article.published == datetime(2021, 6, 20, 4, 45, tzinfo=UTC)
    assert article.published.utcoffset() is not None
    assert article.published_source == "page"


def test_page_date_without_time_becomes_midnight_utc() -> None:
    head = '<meta name="date" content="2021-06-19">'
    article = run(make_raw(news_page(head), feed_published=FEED_TIME))
    assert article.published == datetime(2021, 6, 19, 0, 0, tzinfo=UTC)
    assert article.published_source == "page"


def test_page_time_without_zone_is_taken_as_utc() -> None:
    head = '<meta property="article:published_time" content="2021-06-20T08:10:00">'
    article = run(make_raw(news_page(head)))
    assert article.published == datetime(2021, 6, 20, 8, 10, tzinfo=UTC)
    assert article.published_source == "page"


def test_page_date_later_than_the_fetch_is_clamped_to_the_fetch_time() -> None:
    head = '<meta property="article:published_time" content="2021-06-20T18:00:00+00:00">'
    article = run(make_raw(news_page(head)))
    assert article.published == FETCHED
    assert article.published_source == "page"


def test_feed_date_is_used_when_the_page_has_none() -> None:
    article = run(make_raw(news_page(""), feed_published=FEED_TIME))
    assert article.published == FEED_TIME
    assert article.published_source == "feed"


def test_fetch_time_is_used_when_neither_page_nor_feed_has_a_date() -> None:
    article = run(make_raw(news_page("")))
    assert article.published == FETCHED
    assert article.published_source == "fetched"


# --- canonical URL, source, language ---------------------------------------


def test_canonical_link_wins_over_og_url() -> None:
    assert run(make_raw(news_page(FULL_HEAD))).canonical_url == STORY_URL


def test_og_url_is_used_without_a_canonical_link() -> None:
    head = f'<meta property="og:url" content="{STORY_URL}">'
    assert run(make_raw(news_page(head))).canonical_url == STORY_URL


def test_relative_canonical_link_is_resolved_against_the_final_url() -> None:
    head = '<link rel="canonical" href="/world/2021/06/20/insurgents-northern-city#top">'
    assert run(make_raw(news_page(head))).canonical_url == STORY_URL


def test_canonical_pointing_at_the_site_root_is_ignored() -> None:
    head = (
        '<link rel="canonical" href="https://www.frontier-ledger.example/">'
        f'<meta property="og:url" content="{STORY_URL}">'
    )
    assert run(make_raw(news_page(head))).canonical_url == STORY_URL


def test_final_url_is_the_canonical_when_the_page_names_none() -> None:
    assert run(make_raw(news_page(""))).canonical_url == FINAL_URL


def test_source_is_the_feed_name_when_the_page_declares_no_site_name() -> None:
    """trafilatura would fall back to the host name; the feed's name is better."""
    assert run(make_raw(news_page(""))).source == "Frontier Ledger: World"


@pytest.mark.parametrize(
    ("html_attrs", "head", "expected"),
    [
        (' lang="en-GB"', "", "en"),
        ("", '<meta http-equiv="Content-Language" content="fr">', "fr"),
        ("", '<meta property="og:locale" content="es_ES">', "es"),
        (' lang="de"', '<meta property="og:locale" content="es_ES">', "de"),
    ],
)
def test_language_is_the_one_the_page_declares(html_attrs: str, head: str, expected: str) -> None:
    article = run(make_raw(news_page(head, html_attrs=html_attrs)))
    assert article.language == expected
    assert article.language_source == "page"


def test_language_is_detected_from_the_text_when_the_page_declares_none() -> None:
    """The fixture story is English prose, and its page has no lang attribute or meta."""
    article = run(make_raw(news_page("")))
    assert article.language == "en"
    assert article.language_source == "detected"


# --- fallbacks -------------------------------------------------------------

SUMMARY = (
    "Fighters entered the outskirts of a northern provincial capital on Sunday, local "
    "councillors said, as families fled toward neighbouring districts."
)


def test_page_without_article_text_falls_back_to_the_feed_summary() -> None:
    raw = make_raw(APP_SHELL.format(head=""), summary=SUMMARY, title="Fighters reach city")
    article = run(raw)
    assert article.text == SUMMARY
    assert article.extraction.status == "partial"
    assert article.extraction.reason == "trafilatura found no main text; used the feed summary"


def test_short_main_text_gives_way_to_a_longer_feed_summary() -> None:
    short = "Developing story: more details to follow shortly."
    page = f"<html><head><title>Update</title></head><body><p>{short}</p></body></html>"
    article = run(make_raw(page, summary=SUMMARY))
    assert article.text == SUMMARY
    assert article.extraction.status == "partial"
    assert article.extraction.reason == (
        f"trafilatura found only {len(short)} characters of main text "
        f"(fewer than {MIN_CHARS}); used the feed summary"
    )


def test_short_main_text_is_kept_when_the_feed_offers_nothing_longer() -> None:
    short = "Developing story: more details to follow shortly."
    page = f"<html><head><title>Update</title></head><body><p>{short}</p></body></html>"
    article = run(make_raw(page, summary="Fighting reported."))
    assert article.text == short
    assert article.extraction.status == "partial"
    assert article.extraction.reason is not None
    assert article.extraction.reason.endswith("; kept the short main text")


def test_page_description_is_used_when_the_feed_has_no_summary() -> None:
    description = "Councillors say fighters reached the edge of the provincial capital overnight."
    head = f'<meta property="og:description" content="{description}">'
    article = run(make_raw(APP_SHELL.format(head=head)))
    assert article.text == description
    assert article.extraction.reason == (
        "trafilatura found no main text; used the page's description"
    )


def test_empty_page_uses_the_feed_summary_and_says_the_body_was_empty() -> None:
    article = run(make_raw("", summary=SUMMARY, feed_published=FEED_TIME))
    assert article.text == SUMMARY
    assert article.extraction.status == "partial"
    assert article.extraction.reason == "the page body is empty; used the feed summary"
    assert article.published == FEED_TIME
    assert article.source == "Frontier Ledger: World"
    assert article.canonical_url == FINAL_URL


def test_empty_page_with_only_a_feed_title_uses_the_title() -> None:
    article = run(make_raw("   \n", title="Fighters reach northern city"))
    assert article.text == "Fighters reach northern city"
    assert article.title == "Fighters reach northern city"
    assert article.extraction.reason == "the page body is empty; used the title"


def test_empty_page_and_bare_feed_item_give_an_empty_article_with_the_reason() -> None:
    article = run(make_raw(""))
    assert article.text == ""
    assert article.extraction.status == "empty"
    assert article.extraction.reason == (
        "the page body is empty; the feed item has no summary or title either"
    )
    assert article.published_source == "fetched"


def test_error_status_page_is_not_taken_as_the_article() -> None:
    page = news_page("").replace("Insurgents push", "Page not found: insurgents push")
    article = run(make_raw(page, status=404, summary=SUMMARY))
    assert article.text == SUMMARY
    assert article.extraction.reason == "the page answered HTTP 404; used the feed summary"


def test_an_exception_inside_trafilatura_becomes_a_partial_article(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The failure is trafilatura's, so it is made to fail; the wrapper is what is tested."""

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("parser exploded")

    monkeypatch.setattr(trafilatura, "bare_extraction", broken)
    article = run(make_raw(news_page(FULL_HEAD), summary=SUMMARY))
    assert article.text == SUMMARY
    assert article.extraction.status == "partial"
    assert article.extraction.reason == (
        "trafilatura failed on the page (RuntimeError); used the feed summary"
    )
    assert article.canonical_url == STORY_URL  # read from the page without trafilatura
