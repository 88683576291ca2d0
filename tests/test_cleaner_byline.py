"""The cleaner's one-pass byline finder gives trafilatura's `extract_author` answer.

Each page below is built to hit one of trafilatura's rules (or a section it
leaves out); the expected byline is written by hand, and trafilatura's own
function is asked the same question as a second witness. A seeded mix of the
same fragments then checks that the two agree on pages combining them.
"""

from __future__ import annotations

import random

import pytest
from trafilatura.metadata import extract_author
from trafilatura.utils import load_html

from ingest.cleaner.byline import page_byline

FILLER = "<p>Residents said the market reopened on Tuesday after two days of curfew.</p>"


def page(body: str) -> str:
    return (
        f"<html><head><title>Curfew lifted</title></head><body>{FILLER}{body}{FILLER}</body></html>"
    )


CASES = [
    ('<a rel="author" href="/staff/1">Amina Rahimi</a>', "Amina Rahimi"),
    ('<span class="story__author-name">Amina Rahimi</span>', "Amina Rahimi"),
    ("<author>Amina Rahimi</author>", "Amina Rahimi"),
    ('<div id="author">Amina Rahimi</div>', "Amina Rahimi"),
    ('<span data-testid="AuthorURL">Amina Rahimi</span>', "Amina Rahimi"),
    ('<p class="byline">By Amina Rahimi</p>', "Amina Rahimi"),
    ('<h4 id="zuozhe-box">Amina Rahimi</h4>', "Amina Rahimi"),
    ('<div class="posted-by">Amina Rahimi</div>', "Amina Rahimi"),
    ('<li class="writer">Amina Rahimi</li>', "Amina Rahimi"),
    ('<section itemprop="author">Amina Rahimi</section>', "Amina Rahimi"),
    ('<footer data-component="Byline">Amina Rahimi</footer>', "Amina Rahimi"),
    ('<td id="Author">Amina Rahimi</td>', "Amina Rahimi"),
    # a byline inside a section trafilatura leaves out is not the page's
    ('<div id="comments"><span class="author">Night Owl</span></div>', None),
    (
        '<div class="sidebar"><span class="author-name">Other Writer</span></div>'
        '<p class="byline">By Amina Rahimi</p>',
        "Amina Rahimi",
    ),
    ('<figure><span class="author">Photo Desk</span></figure>', None),
    ('<span class="title"><span class="author">Night Owl</span></span>', None),
    # too long to be a byline: the next candidate is taken
    (
        f'<span class="author-name">{"Amina Rahimi and colleagues " * 6}</span>'
        '<div class="byline">Farid Noori</div>',
        "Farid Noori",
    ),
    # the date inside the byline is left out, its tail kept
    ('<div class="byline">By Amina<time>3 June</time> Rahimi</div>', "Amina Rahimi"),
    (
        '<div class="byline">By Amina Rahimi<time>3 June</time>, Kunduz bureau</div>',
        "Amina Rahimi; Kunduz bureau",
    ),
    ("<p>No byline here at all.</p>", None),
]


@pytest.mark.parametrize(("body", "expected"), CASES)
def test_each_rule_finds_the_byline_trafilatura_finds(body: str, expected: str | None) -> None:
    tree = load_html(page(body))
    assert page_byline(tree) == expected
    assert extract_author(load_html(page(body))) == expected


FRAGMENTS = [body for body, _ in CASES] + [
    '<div class="print-only"><a rel="author">Print Desk</a></div>',
    '<span class="meta-date">3 June 2021</span>',
    '<div class="article-share"><span class="byline">Share Bot</span></div>',
    '<span itemprop="author name">Farid Noori</span>',
    '<div class="author-box"><p>Farid Noori</p><p>covers the north</p></div>',
    "<!-- an HTML comment --><p>Officials confirmed the reopening.</p>",
    '<div class="quote"><p class="byline">Quoted Person</p></div>',
    '<h3 class="channel-name">Northern Desk</h3>',
]


def test_mixed_pages_agree_with_trafilatura() -> None:
    rng = random.Random(2021)
    found = 0
    for _ in range(300):
        body = "".join(rng.sample(FRAGMENTS, rng.randint(1, 5)))
        ours = page_byline(load_html(page(body)))
        assert ours == extract_author(load_html(page(body))), body
        found += ours is not None
    assert found > 200  # most mixes do contain a byline to find
