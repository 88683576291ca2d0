"""parse_page: plain element classes give the same articles as lxml.html's own lookup."""

from __future__ import annotations

from lxml.html import (  # type: ignore[import-untyped]
    FormElement,
    HtmlElement,
    HtmlElementClassLookup,
)
from trafilatura.utils import HTML_PARSER

from ingest.cleaner import page_tree
from ingest.cleaner.extract import clean
from ingest.core.models import Article
from tests.test_extract import FULL_HEAD, MIN_CHARS, PARAGRAPHS, make_raw, news_page
from tests.test_extract_pages import CONSENT_BODY, PAYWALL_BODY, ld_json, simple_page

FORM = """<form action="/search"><label for="q">Search</label><input id="q" name="q">
<select name="s"><option>All</option></select><textarea name="t"></textarea></form>"""
TABLE = (
    "<table><tr><th>District</th><th>Held by</th></tr>"
    "<tr><td>North</td><td>Army</td></tr></table>"
)
BYLINE = '<p class="byline">By <a href="/staff/r">Rahim Saeed</a></p>'

PAGES = {
    "news page with full metadata": news_page(FULL_HEAD),
    "news page without metadata": news_page(""),
    "form, table and byline in the body": simple_page(
        f"<article><h1>Fighters enter the city</h1>{BYLINE}{FORM}"
        + "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
        + f"{TABLE}</article><!-- a comment --><?pi x?>"
    ),
    "consent wall": simple_page(CONSENT_BODY),
    "paywall stub": simple_page(PAYWALL_BODY),
    "JSON-LD only": simple_page(
        ld_json({"@type": "NewsArticle", "headline": "City falls", "author": {"name": "A. B."}})
        + "".join(f"<div>{p}</div>" for p in PARAGRAPHS),
        lang="",
    ),
}


def clean_all() -> dict[str, Article]:
    return {name: clean(make_raw(html), min_text_chars=MIN_CHARS) for name, html in PAGES.items()}


def test_articles_are_the_same_with_lxml_html_element_classes() -> None:
    with_plain_classes = clean_all()
    # parse_page has set its lookup once for the process; put lxml.html's back under it
    HTML_PARSER.set_element_class_lookup(HtmlElementClassLookup())
    try:
        form = page_tree.parse_page(simple_page(FORM))
        assert form is not None
        assert type(next(form.iter("form"))) is FormElement
        with_html_classes = clean_all()
    finally:
        page_tree._use_plain_element_classes.cache_clear()
    for name, article in with_html_classes.items():
        assert with_plain_classes[name] == article, name
    assert PARAGRAPHS[0][:40] in with_plain_classes["news page with full metadata"].text


def test_every_element_of_a_parsed_page_is_a_plain_html_element() -> None:
    tree = page_tree.parse_page(simple_page(FORM + TABLE))
    assert tree is not None
    kinds = {type(element) for element in tree.iter("*")}
    assert kinds == {HtmlElement}


def test_text_that_is_not_html_gives_no_tree() -> None:
    assert page_tree.parse_page("just a line of plain text, no markup") is None
