"""fetch_page against real page servers on 127.0.0.1: decoding, caps, error classes."""

from __future__ import annotations

import asyncio
import codecs
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ingest.core.http_client import HttpClient
from ingest.core.models import Item, RawPage
from ingest.core.settings import HttpSettings
from ingest.fetcher.charset import codec_name, decode_html
from ingest.fetcher.fetch import FetchError, fetch_page
from ingest.poller.urls import item_id

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CAP = 100_000

PAGE = """<!DOCTYPE html>
<html><head>{meta}<title>Checkpoint reopened</title></head>
<body><article><h1>Checkpoint reopened</h1>
<p>Traders crossed again on Monday after a week of closure, {word}.</p>
</article></body></html>
"""


def page(word: str, meta: str = "") -> str:
    return PAGE.format(meta=meta, word=word)


def respond(body: bytes, content_type: str = "text/html", **headers: str) -> Handler:
    async def handler(_: web.Request) -> web.Response:
        return web.Response(body=body, headers={"Content-Type": content_type, **headers})

    return handler


@asynccontextmanager
async def serving(routes: dict[str, Handler], **http: Any) -> AsyncIterator[Fetcher]:
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    client = HttpClient(HttpSettings(**{"allow_private_networks": True, **http}))
    try:
        yield Fetcher(server, client)
    finally:
        await client.close()
        await server.close()


class Fetcher:
    def __init__(self, server: TestServer, client: HttpClient) -> None:
        self.server, self.client = server, client

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    async def fetch(self, path: str, max_bytes: int = CAP) -> RawPage:
        return await fetch_page(self.client, make_item(self.url(path)), max_bytes)

    async def failure(self, path: str, max_bytes: int = CAP) -> FetchError:
        with pytest.raises(FetchError) as caught:
            await self.fetch(path, max_bytes)
        return caught.value


def make_item(url: str) -> Item:
    return Item(
        item_id=item_id(url),
        url=url,
        feed_url="https://desk.example.org/feed.xml",
        feed_name="Desk",
        discovered_at=datetime(2021, 6, 22, tzinfo=UTC),
    )


def run(coro: Awaitable[Any]) -> Any:
    async def main() -> Any:
        return await coro

    return asyncio.run(main())


def test_page_is_decoded_with_the_charset_of_the_content_type_header() -> None:
    word = "Кундуз"
    body = page(word).encode("cp1251")

    async def scenario() -> None:
        async with serving({"/p": respond(body, "text/html; charset=windows-1251")}) as f:
            raw = await f.fetch("/p")
            assert raw.final_url == f.url("/p")
            assert raw.item.url == f.url("/p")
        assert word in raw.html
        assert (raw.encoding, raw.status, raw.truncated) == ("cp1251", 200, False)
        assert raw.content_type == "text/html; charset=windows-1251"
        assert raw.fetched_at.tzinfo is not None

    run(scenario())


def test_meta_charset_and_http_equiv_are_used_when_the_header_has_none() -> None:
    euro = page("prices up 5 €", '<meta charset="iso-8859-15">').encode("iso8859-15")
    sjis = page(
        "市場", '<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">'
    ).encode("shift_jis")

    async def scenario() -> None:
        routes = {"/euro": respond(euro), "/sjis": respond(sjis)}
        async with serving(routes) as f:
            first, second = await f.fetch("/euro"), await f.fetch("/sjis")
        assert "prices up 5 €" in first.html
        assert first.encoding == "iso8859-15"
        assert "市場" in second.html
        assert second.encoding == "shift_jis"

    run(scenario())


def test_byte_order_mark_outranks_a_wrong_header_charset() -> None:
    utf8 = codecs.BOM_UTF8 + page("naïve café").encode("utf-8")
    utf16 = codecs.BOM_UTF16_LE + page("Taloqan").encode("utf-16-le")

    async def scenario() -> None:
        routes = {
            "/utf8": respond(utf8, "text/html; charset=iso-8859-1"),
            "/utf16": respond(utf16, "text/html"),
        }
        async with serving(routes) as f:
            first, second = await f.fetch("/utf8"), await f.fetch("/utf16")
        assert "naïve café" in first.html
        assert first.html.startswith("<!DOCTYPE html>")  # the BOM itself is not text
        assert first.encoding == "utf-8"
        assert "Taloqan" in second.html
        assert second.encoding == "utf-16-le"

    run(scenario())


def test_unknown_charset_name_falls_back_without_crashing() -> None:
    with_meta = page("déjà vu", '<meta charset="utf-8">').encode("utf-8")
    bare = page("déjà vu").encode("utf-8")

    async def scenario() -> None:
        routes = {
            "/meta": respond(with_meta, "text/html; charset=utf-99"),
            "/bare": respond(bare, "text/html; charset=rot13"),
        }
        async with serving(routes) as f:
            first, second = await f.fetch("/meta"), await f.fetch("/bare")
        assert "déjà vu" in first.html
        assert "déjà vu" in second.html
        assert first.encoding == second.encoding == "utf-8"

    run(scenario())


def test_undecodable_bytes_become_replacement_characters() -> None:
    body = page("ok").encode("ascii").replace(b"ok", b"ok \xff\xfe end")

    async def scenario() -> None:
        async with serving({"/p": respond(body)}) as f:
            raw = await f.fetch("/p")
        assert "ok \ufffd\ufffd end" in raw.html

    run(scenario())


def test_page_over_the_cap_is_truncated_and_flagged() -> None:
    body = page("x" * 50_000).encode("ascii")

    async def scenario() -> None:
        async with serving({"/long": respond(body)}) as f:
            raw = await f.fetch("/long", max_bytes=20_000)
        assert raw.truncated is True
        assert raw.html == body[:20_000].decode("ascii")

    run(scenario())


def test_truncation_inside_a_multibyte_character_drops_the_partial_character() -> None:
    body = ("é" * 10_000).encode("utf-8")  # 2 bytes each

    async def scenario() -> None:
        async with serving({"/p": respond(body, "text/html; charset=utf-8")}) as f:
            raw = await f.fetch("/p", max_bytes=10_001)
        # 10 001 bytes: 5 000 whole characters and half of the next.
        assert raw.html == "é" * 5_000

    run(scenario())


def test_binary_content_type_is_a_permanent_error() -> None:
    async def scenario() -> None:
        routes = {"/doc": respond(b"%PDF-1.7 ...", "application/pdf")}
        async with serving(routes) as f:
            err = await f.failure("/doc")
            assert f.url("/doc") in str(err)
        assert err.permanent is True
        assert "application/pdf" in str(err)

    run(scenario())


@asynccontextmanager
async def raw_http_server(body: bytes) -> AsyncIterator[str]:
    """A bare asyncio server: aiohttp's own always adds a Content-Type, this one sends none."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        writer.write(head.encode("ascii") + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/page"
    finally:
        server.close()
        await server.wait_closed()


async def fetch_untyped(body: bytes) -> RawPage:
    settings = HttpSettings(allow_private_networks=True)
    async with raw_http_server(body) as url, HttpClient(settings) as client:
        return await fetch_page(client, make_item(url), CAP)


def test_binary_body_without_content_type_is_a_permanent_error() -> None:
    with pytest.raises(FetchError, match="binary") as caught:
        run(fetch_untyped(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"))
    assert caught.value.permanent is True


def test_missing_content_type_on_an_html_body_is_accepted() -> None:
    raw = run(fetch_untyped(page("plain").encode()))
    assert "plain" in raw.html
    assert raw.content_type is None


def status(code: int, **headers: str) -> Handler:
    async def handler(_: web.Request) -> web.Response:
        return web.Response(status=code, text="no", headers=headers)

    return handler


def test_404_and_410_are_permanent_5xx_and_429_are_transient() -> None:
    async def scenario() -> None:
        routes = {
            "/404": status(404),
            "/410": status(410),
            "/403": status(403),
            "/500": status(500),
            "/503": status(503, **{"Retry-After": "30"}),
            "/429": status(429),
        }
        async with serving(routes) as f:
            errors = {path: await f.failure(path) for path in routes}
        assert {p: e.permanent for p, e in errors.items()} == {
            "/404": True,
            "/410": True,
            "/403": True,
            "/500": False,
            "/503": False,
            "/429": False,
        }
        assert {p: e.status for p, e in errors.items()} == {
            "/404": 404,
            "/410": 410,
            "/403": 403,
            "/500": 500,
            "/503": 503,
            "/429": 429,
        }
        assert errors["/503"].retry_after == 30.0
        assert "HTTP 410" in str(errors["/410"])

    run(scenario())


def test_redirect_is_followed_and_the_final_url_recorded() -> None:
    async def moved(_: web.Request) -> web.Response:
        raise web.HTTPFound(location="/articles/42")

    async def scenario() -> None:
        routes = {"/a/42": moved, "/articles/42": respond(page("moved").encode())}
        async with serving(routes) as f:
            raw = await f.fetch("/a/42")
            assert raw.final_url == f.url("/articles/42")
            assert raw.item.url == f.url("/a/42")

    run(scenario())


def test_redirect_loop_is_a_permanent_error() -> None:
    async def loop(_: web.Request) -> web.Response:
        raise web.HTTPFound(location="/loop")

    async def scenario() -> None:
        async with serving({"/loop": loop}) as f:
            err = await f.failure("/loop")
        assert err.permanent is True
        assert "redirect" in str(err)

    run(scenario())


def test_timeout_is_transient() -> None:
    async def stall(_: web.Request) -> web.Response:
        await asyncio.sleep(3)
        return web.Response(text="late")

    async def scenario() -> None:
        async with serving({"/stall": stall}, read_timeout=0.3, total_timeout=0.5) as f:
            err = await f.failure("/stall")
        assert err.permanent is False
        assert "timeout" in str(err)

    run(scenario())


def test_connection_refused_is_transient() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def scenario() -> None:
        settings = HttpSettings(allow_private_networks=True)
        async with HttpClient(settings) as client:
            with pytest.raises(FetchError) as caught:
                await fetch_page(client, make_item(f"http://127.0.0.1:{port}/x"), CAP)
        assert caught.value.permanent is False

    run(scenario())


def test_refused_private_address_is_permanent() -> None:
    async def scenario() -> None:
        routes = {"/p": respond(page("secret").encode())}
        async with serving(routes, allow_private_networks=False) as f:
            err = await f.failure("/p")
        assert err.permanent is True
        assert "non-public" in str(err)

    run(scenario())


# --- decoding, as a plain function ---------------------------------------------


def test_codec_names_follow_browsers_and_refuse_non_text_codecs() -> None:
    assert codec_name("ISO-8859-1") == "cp1252"  # browsers decode latin-1 as windows-1252
    assert codec_name(' "UTF8" ') == "utf-8"
    assert codec_name("utf-99") is None
    assert codec_name("base64") is None
    assert codec_name("unicode_escape") is None


def test_meta_declaring_utf16_in_an_ascii_readable_page_means_utf8() -> None:
    body = page("ok é", '<meta charset="utf-16">').encode("utf-8")
    decoded = decode_html(body, None)
    assert (decoded.encoding, decoded.source) == ("utf-8", "meta")
    assert "ok é" in decoded.text


def test_rejected_charset_names_are_reported() -> None:
    decoded = decode_html(b"<p>x</p>", "no-such-charset")
    assert decoded.rejected == ("no-such-charset",)
    assert (decoded.encoding, decoded.source) == ("utf-8", "default")
