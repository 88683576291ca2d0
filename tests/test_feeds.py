"""Feed bytes to Items (RSS 0.91/1.0/2.0, Atom) and canonical URLs; no network."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from ingest.poller.feeds import (
    PARSE_STATS,
    FeedParseError,
    entry_key,
    html_to_text,
    parse_feed,
)
from ingest.poller.urls import InvalidArticleUrl, canonical_url, item_id

NOW = datetime(2021, 6, 23, 12, 0, tzinfo=UTC)
FEED = "https://news.example.org/feeds/world.xml"

RSS20 = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
<channel>
  <title>Example World Desk</title>
  <link>https://news.example.org/</link>
  <description>World news</description>
  <item>
    <title>Fighting reported near &lt;b&gt;northern&lt;/b&gt; city</title>
    <link>/2021/06/22/north-fighting.html?utm_source=rss&amp;utm_medium=feed&amp;page=2</link>
    <guid isPermaLink="false">desk-2021-0622-001</guid>
    <pubDate>Tue, 22 Jun 2021 10:00:00 +0430</pubDate>
    <description>&lt;p&gt;Residents said gunfire was heard &amp;amp; roads closed.&lt;/p&gt;
      &lt;p&gt;Officials gave no figures.&lt;/p&gt;
      &lt;script&gt;track()&lt;/script&gt;</description>
  </item>
  <item>
    <title>Market prices rise</title>
    <link>https://NEWS.example.org:443/2021/06/22/prices.html#comments</link>
  </item>
  <item>
    <title>A note without any link</title>
    <description>Nothing to fetch here.</description>
  </item>
  <item>
    <title>Script link</title>
    <link>javascript:void(0)</link>
  </item>
</channel>
</rss>
"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Atom Example Wire</title>
  <link href="https://wire.example.net/"/>
  <id>tag:wire.example.net,2021:feed</id>
  <updated>2021-06-22T09:00:00Z</updated>
  <entry>
    <id>tag:wire.example.net,2021:story-77</id>
    <title type="html">Convoy &lt;em&gt;halted&lt;/em&gt; at checkpoint</title>
    <link rel="alternate" href="stories/77?fbclid=abc123"/>
    <published>2021-06-22T07:30:00+02:00</published>
    <updated>2021-06-22T08:45:00Z</updated>
    <summary type="text">Drivers waited for hours &lt; 3 km from the gate.</summary>
  </entry>
</feed>
"""

RSS10 = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://rdf.example.com/">
    <title>RDF Example Bulletin</title>
    <link>https://rdf.example.com/</link>
    <description>Bulletins</description>
  </channel>
  <item rdf:about="https://rdf.example.com/bulletin/5">
    <title>Power restored in the valley</title>
    <link>https://rdf.example.com/bulletin/5</link>
    <dc:date>2021-06-21T18:00:00Z</dc:date>
  </item>
</rdf:RDF>
"""

RSS091 = b"""<?xml version="1.0"?>
<rss version="0.91">
  <channel>
    <title>Old Style Gazette</title>
    <link>http://gazette.example.com/</link>
    <description>Legacy feed</description>
    <language>en-us</language>
    <item>
      <title>Bridge reopens</title>
      <link>http://gazette.example.com/bridge.html</link>
    </item>
  </channel>
</rss>
"""


def rss_items(*items: str, channel_link: str = "https://news.example.org/") -> bytes:
    body = "".join(f"<item>{item}</item>" for item in items)
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        f"<link>{channel_link}</link>{body}</channel></rss>"
    ).encode()


def test_rss20_items_are_typed_with_canonical_links_dates_and_plain_summaries() -> None:
    parsed = parse_feed(RSS20, feed_url=FEED, now=NOW)
    assert parsed.version == "rss20"
    assert [i.url for i in parsed.items] == [
        "https://news.example.org/2021/06/22/north-fighting.html?page=2",
        "https://news.example.org/2021/06/22/prices.html",
    ]
    first, second = parsed.items
    assert first.item_id == item_id(
        "https://news.example.org/2021/06/22/north-fighting.html?page=2"
    )
    assert first.guid == "desk-2021-0622-001"
    assert first.title == "Fighting reported near northern city"
    assert first.summary == (
        "Residents said gunfire was heard & roads closed. Officials gave no figures."
    )
    # 10:00 at +04:30 is 05:30 UTC.
    assert first.published == datetime(2021, 6, 22, 5, 30, tzinfo=UTC)
    assert first.feed_url == FEED
    assert first.feed_name == "Example World Desk"
    assert first.discovered_at == NOW
    assert second.guid is None
    assert second.published is None
    assert second.summary is None


def test_entries_without_a_usable_link_are_skipped_and_counted() -> None:
    parsed = parse_feed(RSS20, feed_url=FEED, now=NOW)
    assert parsed.skipped == 2  # the link-less note and the javascript: link


def test_configured_feed_name_wins_over_the_channel_title() -> None:
    parsed = parse_feed(RSS20, feed_url=FEED, feed_name="World", now=NOW)
    assert {i.feed_name for i in parsed.items} == {"World"}


def test_atom_entry_resolves_relative_link_against_the_body_url() -> None:
    base = "https://wire.example.net/atom/all.xml"
    parsed = parse_feed(ATOM, feed_url="https://wire.example.net/atom", base_url=base, now=NOW)
    assert parsed.version == "atom10"
    (entry,) = parsed.items
    assert entry.url == "https://wire.example.net/atom/stories/77"
    assert entry.guid == "tag:wire.example.net,2021:story-77"
    assert entry.title == "Convoy halted at checkpoint"
    # type="text" content is kept as text: the "<" is a character, not markup.
    assert entry.summary == "Drivers waited for hours < 3 km from the gate."
    # published (07:30 at +02:00) is preferred over updated.
    assert entry.published == datetime(2021, 6, 22, 5, 30, tzinfo=UTC)


def test_rss10_item_uses_rdf_about_as_guid_and_dc_date() -> None:
    parsed = parse_feed(RSS10, feed_url="https://rdf.example.com/index.rdf", now=NOW)
    assert parsed.version == "rss10"
    (item,) = parsed.items
    assert item.url == "https://rdf.example.com/bulletin/5"
    assert item.guid == "https://rdf.example.com/bulletin/5"
    assert item.published == datetime(2021, 6, 21, 18, 0, tzinfo=UTC)
    assert item.feed_name == "RDF Example Bulletin"


def test_rss091_is_parsed() -> None:
    parsed = parse_feed(RSS091, feed_url="http://gazette.example.com/rss", now=NOW)
    assert parsed.version.startswith("rss09")
    assert [i.url for i in parsed.items] == ["http://gazette.example.com/bridge.html"]


def test_far_future_and_invalid_dates_become_none() -> None:
    body = rss_items(
        "<link>https://a.example/1</link><pubDate>Sat, 01 Jan 2099 00:00:00 GMT</pubDate>",
        "<link>https://a.example/2</link><pubDate>sometime last week</pubDate>",
        "<link>https://a.example/3</link><pubDate>Wed, 23 Jun 2021 20:00:00 GMT</pubDate>",
    )
    parsed = parse_feed(body, feed_url=FEED, now=NOW)
    # The third is 8 hours ahead of NOW: within a day's tolerance for clock and zone errors.
    assert [i.published for i in parsed.items] == [
        None,
        None,
        datetime(2021, 6, 23, 20, 0, tzinfo=UTC),
    ]


def test_guid_shared_by_several_entries_is_not_trusted_and_identity_falls_back_to_link() -> None:
    body = rss_items(
        "<link>https://a.example/one</link><guid>same</guid>",
        "<link>https://a.example/two</link><guid>same</guid>",
        "<link>https://a.example/three</link><guid>https://news.example.org/</guid>",
    )
    parsed = parse_feed(body, feed_url=FEED, now=NOW)
    assert [i.guid for i in parsed.items] == [None, None, None]
    assert [entry_key(i) for i in parsed.items] == [
        "url:" + item_id("https://a.example/one"),
        "url:" + item_id("https://a.example/two"),
        "url:" + item_id("https://a.example/three"),
    ]


def test_trusted_guid_keeps_identity_when_the_link_changes() -> None:
    guid = "<guid isPermaLink='false'>story-9</guid>"
    before = parse_feed(
        rss_items(f"<link>https://a.example/draft-title</link>{guid}"), feed_url=FEED, now=NOW
    )
    after = parse_feed(
        rss_items(f"<link>https://a.example/final-title</link>{guid}"), feed_url=FEED, now=NOW
    )
    assert before.items[0].item_id != after.items[0].item_id
    assert entry_key(before.items[0]) == entry_key(after.items[0])
    expected = "guid:" + hashlib.sha256(b"story-9").hexdigest()[:32]
    assert entry_key(after.items[0]) == expected


def test_repeated_entries_are_emitted_once_and_counted() -> None:
    body = rss_items(
        "<title>v1</title><link>https://a.example/x?utm_campaign=a</link>",
        "<title>v2</title><link>https://a.example/x?utm_campaign=b</link>",
    )
    parsed = parse_feed(body, feed_url=FEED, now=NOW)
    assert [i.title for i in parsed.items] == ["v1"]
    assert parsed.duplicates == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty body"),
        (b"  \n\t ", "empty body"),
        (
            b"<!DOCTYPE html><html><head><title>Home</title></head><body>Hi</body></html>",
            "HTML page",
        ),
        (b"<html><body><p>Consent required</p>", "HTML page"),
        (
            b'<?xml version="1.0"?><rss version="2.0"><channel><title>Broken</ti',
            "malformed feed XML",
        ),
        (b'{"items": []}', "JSON without a JSON Feed version"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', "malformed JSON Feed"),
        (b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url>',
         "malformed sitemap XML"),
        (b"<?xml version='1.0'?><catalog><book/></catalog>", "no RSS or Atom root element"),
    ],
)
def test_a_body_that_is_not_a_feed_is_a_clear_error(body: bytes, reason: str) -> None:
    with pytest.raises(FeedParseError, match=reason):
        parse_feed(body, feed_url=FEED, now=NOW)


def test_body_naming_a_local_file_is_parsed_as_text_not_opened() -> None:
    with pytest.raises(FeedParseError, match="malformed XML"):
        parse_feed(b"/etc/hostname", feed_url=FEED, now=NOW)


def test_truncated_feed_keeps_its_complete_entries_with_a_warning() -> None:
    body = rss_items("<link>https://a.example/whole</link>")[: -len(b"</channel></rss>")]
    body += b"<item><title>cut off"
    parsed = parse_feed(body, feed_url=FEED, now=NOW)
    assert [i.url for i in parsed.items] == ["https://a.example/whole"]
    assert parsed.warning is not None


def test_valid_feed_without_entries_gives_no_items_and_no_error() -> None:
    parsed = parse_feed(rss_items(), feed_url=FEED, now=NOW)
    assert parsed.items == ()


def test_each_parse_is_counted() -> None:
    before = PARSE_STATS.calls
    parse_feed(RSS091, feed_url=FEED, now=NOW)
    assert PARSE_STATS.calls == before + 1


def test_html_to_text_drops_scripts_and_separates_blocks() -> None:
    html = "<div>One<br>two</div><script>var x = 1;</script><p>caf&eacute; &amp; more</p>"
    assert html_to_text(html) == "One two café & more"


# --- canonical URLs --------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("HTTPS://News.Example.ORG/a/b.html", "https://news.example.org/a/b.html"),
        ("http://example.org:80/x", "http://example.org/x"),
        ("https://example.org:443/x", "https://example.org/x"),
        ("https://example.org:8443/x", "https://example.org:8443/x"),
        ("https://example.org/x#section-2", "https://example.org/x"),
        ("https://example.org", "https://example.org/"),
        ("https://example.org/x?b=2&a=1", "https://example.org/x?a=1&b=2"),
        (
            "https://example.org/x?utm_source=tw&UTM_Medium=social&id=7&fbclid=Q&gclid=Z"
            "&mc_cid=1&mc_eid=2&ref=home&cmpid=rss",
            "https://example.org/x?id=7",
        ),
        ("https://example.org/x?utm_source=only", "https://example.org/x"),
        ("https://example.org/search?q=a%20b&q=a+c", "https://example.org/search?q=a%20b&q=a+c"),
        ("https://bücher.example/x", "https://xn--bcher-kva.example/x"),
    ],
)
def test_canonical_url(raw: str, canonical: str) -> None:
    assert canonical_url(raw) == canonical


def test_relative_links_resolve_against_the_feed_url() -> None:
    feed = "https://news.example.org/feeds/world.xml"
    assert canonical_url("../2021/a.html", feed) == "https://news.example.org/2021/a.html"
    assert canonical_url("b.html", feed) == "https://news.example.org/feeds/b.html"
    assert canonical_url("//cdn.example.org/c", feed) == "https://cdn.example.org/c"


@pytest.mark.parametrize("raw", ["ftp://example.org/x", "mailto:desk@example.org", "/just/a/path"])
def test_non_http_urls_are_refused(raw: str) -> None:
    with pytest.raises(InvalidArticleUrl):
        canonical_url(raw)


def test_item_id_is_the_truncated_sha256_of_the_canonical_url() -> None:
    expected = hashlib.sha256(b"https://example.org/story?id=7").hexdigest()[:32]
    assert item_id("https://Example.org/story?id=7&utm_source=x#top") == expected
    assert len(expected) == 32
