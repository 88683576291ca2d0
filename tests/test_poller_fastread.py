"""The feedparser-rs fast path reads feeds as feedparser does; known entries are not rebuilt."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.poller import fastread
from ingest.poller.entries import ParsedFeed, guid_key
from ingest.poller.feeds import parse_feed
from ingest.poller.urls import canonical_url

NOW = datetime(2021, 6, 23, 12, 0, tzinfo=UTC)
FEED = "https://n.example/feeds/world.xml"


def rss(*items: str, head: str = '<?xml version="1.0" encoding="UTF-8"?>') -> bytes:
    return (
        f'{head}<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">'
        "<channel><title>Harbour &amp; Hills Courier</title><link>https://n.example/</link>"
        "<ttl>20</ttl><sy:updatePeriod>hourly</sy:updatePeriod>"
        + "".join(f"<item>{item}</item>" for item in items)
        + "</channel></rss>"
    ).encode()


def atom(*entries: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        '<title type="html">Ridge &amp;amp; Valley</title><link href="https://w.example/"/>'
        "<id>tag:w.example,2021:feed</id><updated>2021-06-22T09:00:00Z</updated>"
        + "".join(f"<entry>{entry}</entry>" for entry in entries)
        + "</feed>"
    ).encode()


BODIES = {
    "rss guids of every kind": rss(
        "<title>Ferry &amp; bus &amp;amp; tram</title><link>https://n.example/1</link>"
        "<guid>desk-1</guid><pubDate>Tue, 22 Jun 2021 10:00:00 EST</pubDate>",
        "<title><![CDATA[Bridge <i>closed</i> & detour]]></title><link> /2 </link>"
        "<description><![CDATA[<p>First</p><p>second &nbsp; part</p>]]></description>"
        "<dc:date>2021-06-22T09:00:00+02:00</dc:date>",
        "<title>a &lt; b, c &gt; d</title><guid>https://n.example/3</guid>",
        "<title>Tagged</title><link>https://n.example/4?utm_source=x&amp;b=2&amp;a=1</link>"
        "<guid isPermaLink='true'>https://n.example/4</guid><pubDate>2021-06-22</pubDate>",
        "<link>https://n.example/5</link><guid isPermaLink='false'>desk-5</guid>"
        "<description>short &amp; plain</description>",
        "<title>  spaced\n  out </title><link>six.html</link><guid>  desk-6 </guid>",
        "<title>Café ünd 港口 ✓</title><link>https://bücher.example/7</link><guid>desk-7</guid>",
        "<title>twin one</title><link>https://n.example/8</link><guid>twin</guid>",
        "<title>twin two</title><link>https://n.example/9</link><guid>twin</guid>",
        "<title>bad link</title><link>javascript:void(0)</link><guid>desk-10</guid>",
    ),
    "atom ids and content": atom(
        '<id>e1</id><title type="text">Plain &amp; simple &lt;3</title>'
        '<link href="https://w.example/1"/><updated>2021-06-22T08:45:00Z</updated>'
        '<summary type="html">&lt;p&gt;x &amp;amp; y&lt;/p&gt;</summary>',
        '<id>e2</id><title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">An'
        " <b>xhtml</b> title</div></title><link rel=\"alternate\" href=\"/2\"/>"
        '<published>2021-06-22T07:30:00-05:00</published>'
        '<content type="html">&lt;b&gt;content&lt;/b&gt; only</content>',
        "<id>tag:w.example,2021:e3</id><title>dated without zone</title>"
        '<link href="https://w.example/3"/><updated>2021-06-22T08:45:00</updated>',
    ),
    "rss short items like the benchmark's": rss(
        *(f"<title>Story {k}</title><link>/a/{k}</link><guid>q-{k}</guid>" for k in range(6))
    ),
    "rss without a channel link": rss("<link>/a/1</link><guid>q-1</guid>").replace(
        b"<link>https://n.example/</link>", b""),
}


def reference(body: bytes, monkeypatch: pytest.MonkeyPatch, **kwargs: object) -> ParsedFeed:
    """The same body read by feedparser (the fast path declining it)."""
    with monkeypatch.context() as m:
        m.setattr(fastread, "read", lambda *args: None)
        return parse_feed(body, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", list(BODIES))
def test_the_fast_path_gives_what_feedparser_gives(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = BODIES[name]
    base = "https://n.example/feeds/world.xml"
    assert fastread.read(body, base, "application/rss+xml") is not None  # it is the fast path
    kwargs = {"feed_url": FEED, "base_url": base, "now": NOW}
    assert parse_feed(body, **kwargs) == reference(body, monkeypatch, **kwargs)  # type: ignore[arg-type]


def test_entry_ids_resolve_against_the_feed_url_as_feedparser_resolves_them() -> None:
    body = rss(
        "<link>https://n.example/a</link><guid>story-7</guid>",
        "<link>https://n.example/b</link><guid isPermaLink='false'>story-8</guid>",
        "<link>https://n.example/c</link><guid isPermaLink='False'>story-9</guid>",
        "<link>https://n.example/d</link><guid>tag:n.example,2021:10</guid>",
    )
    parsed = parse_feed(body, feed_url=FEED, now=NOW)
    # A guid is a permalink unless isPermaLink is other than exactly "true"; a permalink
    # is resolved against the feed's URL; a tag: URI has no relative form.
    assert [i.guid for i in parsed.items] == [
        "https://n.example/feeds/story-7", "story-8", "story-9", "tag:n.example,2021:10",
    ]
    parsed = parse_feed(atom("<id>e1</id><link href='https://w.example/1'/>"),
                        feed_url="https://w.example/atom/all", now=NOW)
    assert [i.guid for i in parsed.items] == ["https://w.example/atom/e1"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (rss("<link>https://n.example/1</link><title>Caf\u00e9</title>",
             head='<?xml version="1.0" encoding="windows-1252"?>').replace(
                 "é".encode(), b"\xe9"), None),
        (rss("<link>https://n.example/1</link>"), "application/rss+xml; charset=ISO-8859-1"),
        (rss("<link>https://n.example/1</link>").replace(b"<channel>",
                                                          b'<channel xml:base="/news/">'), None),
        (rss("<link>https://n.example/1</link>")[:-30], None),  # cut short: malformed
        (rss(), None),  # no entries
        (rss("<link>https://n.example/1</link>").replace(b'version="2.0"', b'version="0.91"'),
         None),
        (rss("<link>http://127.0.0.1:8080/story</link>"), None),
        (rss("<link>https://n.example/1</link>", "<title>no link</title>"), None),
        (atom("<id>e1</id><link href='https://w.example/1'/>").replace(
            b'href="https://w.example/"', b'href="http://192.168.1.9/"'), None),
    ],
    ids=["windows-1252", "latin-1 header", "xml:base", "malformed", "empty", "rss 0.91",
         "loopback link", "entry without link", "private feed link"],
)
def test_feedparser_reads_what_the_fast_path_declines(
    body: bytes, content_type: str | None
) -> None:
    assert fastread.read(body, FEED, content_type) is None


def test_a_declined_body_is_still_read_right() -> None:
    body = rss("<link>https://n.example/1</link><title>Caf\u00e9 open</title>",
               head='<?xml version="1.0" encoding="windows-1252"?>').replace("é".encode(), b"\xe9")
    (item,) = parse_feed(body, feed_url=FEED, now=NOW).items
    assert item.title == "Café open"


def test_links_to_loopback_and_private_addresses_are_kept() -> None:
    # feedparser-rs blanks them; the poller must not: the HTTP client decides whether
    # such a link may be fetched (tests and private deployments allow it).
    body = rss("<link>http://127.0.0.1:8080/story</link><guid isPermaLink='false'>s1</guid>",
               "<link>http://10.2.3.4/other</link><guid isPermaLink='false'>s2</guid>")
    parsed = parse_feed(body, feed_url=FEED, now=NOW)
    assert [i.url for i in parsed.items] == ["http://127.0.0.1:8080/story", "http://10.2.3.4/other"]
    assert parsed.skipped == 0


def test_entries_known_by_their_trusted_guid_are_listed_not_built() -> None:
    body = rss(
        "<link>https://n.example/1</link><guid isPermaLink='false'>k1</guid>",
        "<link>javascript:void(0)</link><guid isPermaLink='false'>k2</guid>",
        "<link>https://n.example/3</link><guid isPermaLink='false'>k3</guid>",
        "<link>https://n.example/4</link>",
    )
    known = frozenset({guid_key("k1"), guid_key("k2")})
    parsed = parse_feed(body, feed_url=FEED, now=NOW, known=known.intersection)
    assert parsed.known_keys == (guid_key("k1"), guid_key("k2"))
    # Only the unknown entries become items; the known one whose link went bad since it
    # was delivered is neither rebuilt nor counted as skipped.
    assert [i.url for i in parsed.items] == ["https://n.example/3", "https://n.example/4"]
    assert parsed.skipped == 0
    everything = parse_feed(body, feed_url=FEED, now=NOW)
    assert everything.known_keys == ()
    assert [i.guid for i in everything.items] == ["k1", "k3", None]
    assert everything.skipped == 1


def test_an_absolute_link_is_canonical_whatever_the_base() -> None:
    link = "HTTPS://Example.org/a/../b?utm_source=x&z=1#frag"
    # urljoin leaves an absolute URL's path as it is, so the base changes nothing.
    assert canonical_url(link, "https://n.example/feeds/x.xml") == "https://example.org/a/../b?z=1"
    assert canonical_url(link) == "https://example.org/a/../b?z=1"
