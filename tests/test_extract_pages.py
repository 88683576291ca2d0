"""The cleaner on pages that are not plain articles: walls, live blogs, videos, bad bodies."""

from __future__ import annotations

import json

from ingest.cleaner.extract import clean
from ingest.core.models import Article, RawPage
from tests.test_extract import MIN_CHARS, PARAGRAPHS, SUMMARY, make_raw, news_page

STORY = "\n\n".join(PARAGRAPHS)


def run(raw: RawPage, *, max_page_chars: int = 2_000_000) -> Article:
    return clean(raw, min_text_chars=MIN_CHARS, max_page_chars=max_page_chars)


def ld_json(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def simple_page(body: str, head: str = "", lang: str = ' lang="en"') -> str:
    return (
        f"<!DOCTYPE html><html{lang}><head><meta charset='utf-8'><title>Northern city</title>"
        f"{head}</head><body>{body}</body></html>"
    )


CONSENT_BODY = """<div class="wall"><h2>We value your privacy</h2>
<p>We and our partners use cookies and similar technologies to store and access information
on your device. You can accept all, reject all or manage preferences at any time.</p>
<p>Some partners process data on the basis of legitimate interest. See our privacy policy.</p>
<button>Accept all</button><button>Reject all</button></div>"""

PAYWALL_TEASER = (
    "Fighters reached the edge of the provincial capital overnight, officials said, and "
    "residents in the eastern districts reported heavy gunfire until dawn."
)
PAYWALL_BODY = f"""<article><h1>Fighters reach the edge of the capital</h1>
<p>{PAYWALL_TEASER}</p>
<div class="paywall"><p>Subscribe now to continue reading. Already a subscriber? Log in.</p></div>
</article>"""


# --- page kinds ------------------------------------------------------------


def test_article_page_is_an_article() -> None:
    article = run(make_raw(news_page("")))
    assert article.extraction.page_kind == "article"


def test_consent_wall_text_is_never_the_article_and_the_summary_is_used() -> None:
    article = run(make_raw(simple_page(CONSENT_BODY), summary=SUMMARY))
    assert article.extraction.page_kind == "consent_wall"
    assert article.text == SUMMARY
    assert article.extraction.status == "partial"
    assert article.extraction.reason == (
        "the page is a consent wall (the text asks for cookie consent); used the feed summary"
    )


def test_page_served_from_a_consent_host_is_a_consent_wall_whatever_its_text() -> None:
    raw = make_raw(news_page(""), final_url="https://consent.portal.example/?continue=story")
    article = run(raw)
    assert article.extraction.page_kind == "consent_wall"
    assert "cookie" not in article.text


def test_paywall_stub_keeps_its_teaser_when_the_feed_offers_less() -> None:
    article = run(make_raw(simple_page(PAYWALL_BODY), summary="Fighting reported."))
    assert article.extraction.page_kind == "paywall"
    assert article.extraction.status == "partial"
    assert PAYWALL_TEASER in article.text
    assert article.extraction.reason is not None
    assert article.extraction.reason.startswith("the page is a paywall stub (the text says ")
    assert article.extraction.reason.endswith("; kept the paywall teaser")


def test_paywall_marked_in_structured_data_with_a_short_text_is_a_paywall_stub() -> None:
    head = ld_json({"@type": "NewsArticle", "isAccessibleForFree": False})
    body = f"<article><p>{PARAGRAPHS[0]}</p></article>"
    article = run(make_raw(simple_page(body, head), summary=SUMMARY))
    assert article.extraction.page_kind == "paywall"
    assert article.extraction.reason is not None
    assert "isAccessibleForFree: false" in article.extraction.reason


def test_full_text_behind_a_paywall_marker_is_still_an_article() -> None:
    """Sites that serve the whole story to crawlers still mark it as not free."""
    head = ld_json({"@type": "NewsArticle", "isAccessibleForFree": "False"})
    body = "".join(f"<p>{p}</p>" for p in PARAGRAPHS * 2)
    article = run(make_raw(simple_page(f"<article>{body}</article>", head)))
    assert article.extraction.page_kind == "article"
    assert article.extraction.status == "ok"


def test_live_blog_is_flagged_and_its_text_kept() -> None:
    head = ld_json({"@context": "https://schema.org", "@graph": [{"@type": "LiveBlogPosting"}]})
    article = run(make_raw(news_page(head)))
    assert article.extraction.page_kind == "live_blog"
    assert article.extraction.status == "ok"
    assert PARAGRAPHS[0] in article.text


def test_live_url_is_a_live_blog() -> None:
    url = "https://www.frontier-ledger.example/world/live/2021/jun/20/northern-offensive"
    assert run(make_raw(news_page(""), final_url=url)).extraction.page_kind == "live_blog"


def test_og_video_page_is_a_video() -> None:
    head = '<meta property="og:type" content="video.other">'
    assert run(make_raw(news_page(head))).extraction.page_kind == "video"


def test_short_video_object_page_is_a_video_but_an_article_with_a_video_is_not() -> None:
    video = ld_json({"@type": "VideoObject", "name": "Gunfire near the bazaar"})
    caption = simple_page(f"<main><p>{PARAGRAPHS[1]}</p></main>", video)
    assert run(make_raw(caption)).extraction.page_kind == "video"
    embedded = ld_json({"@type": "NewsArticle", "video": {"@type": "VideoObject"}})
    assert (
        run(
            make_raw(simple_page(f"<main><p>{PARAGRAPHS[1]}</p></main>", embedded))
        ).extraction.page_kind
        == "article"
    )


# --- language --------------------------------------------------------------

FRENCH = [
    "Des combattants armés sont entrés dimanche matin dans les faubourgs d'une capitale "
    "provinciale du nord, selon deux conseillers municipaux qui ont requis l'anonymat.",
    "Les habitants disent avoir entendu des tirs près du grand marché avant l'aube, et "
    "plusieurs familles ont quitté la ville pour un district voisin où vivent des proches.",
    "Le porte-parole du gouverneur affirme que des renforts sont en route et que la ville "
    "reste sous le contrôle du gouvernement, sans préciser le nombre de soldats envoyés.",
]


def test_undeclared_french_page_is_detected_as_french() -> None:
    body = "<article>" + "".join(f"<p>{p}</p>" for p in FRENCH) + "</article>"
    article = run(make_raw(simple_page(body, lang="")))
    assert (article.language, article.language_source) == ("fr", "detected")


def test_too_little_text_gets_no_detected_language() -> None:
    article = run(make_raw(simple_page("<p>Update soon.</p>", lang=""), title="Update"))
    assert (article.language, article.language_source) == (None, None)


# --- bad bodies ------------------------------------------------------------


def test_binary_body_served_as_html_gets_a_reason_naming_it() -> None:
    noise = bytes(range(256)).decode("latin-1") * 40
    raw = make_raw(noise, summary=SUMMARY)
    article = run(raw)
    assert article.text == SUMMARY
    assert article.extraction.reason is not None
    assert article.extraction.reason.startswith("the page body is binary data (")
    assert "served as text/html" in article.extraction.reason


def test_non_html_content_type_is_not_parsed() -> None:
    raw = make_raw("%PDF-1.7 pretend", summary=SUMMARY).model_copy(
        update={"content_type": "application/pdf"}
    )
    article = run(raw)
    assert (
        article.extraction.reason == "the page is application/pdf, not HTML; used the feed summary"
    )


def test_oversized_page_is_cut_before_parsing_and_marked_partial() -> None:
    filler = "".join(
        f"<div class='related'><a href='/x{i}'>Related link {i}</a></div>" for i in range(2000)
    )
    page = news_page("").replace("</article>", f"</article>{filler}")
    article = run(make_raw(page), max_page_chars=20_000)
    assert PARAGRAPHS[0] in article.text
    assert article.extraction.status == "partial"
    assert article.extraction.reason is not None
    assert f"the page has {len(page):,} characters; only its first" in article.extraction.reason


def test_utf8_page_decoded_as_cp1252_is_repaired() -> None:
    body = "<article>" + "".join(f"<p>{p}</p>" for p in FRENCH) + "</article>"
    broken = simple_page(body, lang=' lang="fr"').encode("utf-8").decode("cp1252")
    assert "Ã©" in broken  # the fixture really is mojibake
    article = run(make_raw(broken).model_copy(update={"encoding": "cp1252"}))
    assert FRENCH[0] in article.text
    assert article.extraction.status == "ok"


def test_page_full_of_unreadable_characters_is_partial_with_the_encoding_named() -> None:
    mangled = [p.replace("e", "\ufffd") for p in PARAGRAPHS]
    body = "<article>" + "".join(f"<p>{p}</p>" for p in mangled) + "</article>"
    article = run(make_raw(simple_page(body)).model_copy(update={"encoding": "iso-8859-1"}))
    assert article.extraction.status == "partial"
    assert article.extraction.reason is not None
    assert "unreadable as iso-8859-1" in article.extraction.reason


def test_stray_nul_characters_do_not_stop_extraction() -> None:
    page = news_page("").replace("Residents described", "Residents\x00 described")
    article = run(make_raw(page))
    assert article.extraction.status == "ok"
    assert "Residents described hearing gunfire" in article.text


def test_truncated_fetch_is_partial_and_says_so() -> None:
    raw = make_raw(news_page("")).model_copy(update={"truncated": True})
    article = run(raw)
    assert article.extraction.status == "partial"
    assert article.extraction.reason == "the fetcher cut the page at its size cap"
