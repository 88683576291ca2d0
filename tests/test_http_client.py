"""HttpClient against real aiohttp servers on 127.0.0.1: limits, redirects, errors."""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ingest.core.http_client import (
    BodyTooLarge,
    ConnectFailure,
    ContentTypeRefused,
    HttpClient,
    HttpStatusError,
    HttpTimeout,
    PrivateAddressRefused,
    RedirectError,
    TlsFailure,
    is_public_address,
    parse_content_type,
    retry_after_seconds,
)
from ingest.core.settings import HttpSettings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def serve(routes: dict[str, Handler]) -> AsyncIterator[TestServer]:
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


def settings(**overrides: Any) -> HttpSettings:
    return HttpSettings(**{"allow_private_networks": True, **overrides})


def text(body: str | bytes, **headers: str) -> Handler:
    async def handler(_: web.Request) -> web.Response:
        payload = body.encode() if isinstance(body, str) else body
        return web.Response(body=payload, headers=headers)

    return handler


def run(coro: Awaitable[Any]) -> Any:
    async def main() -> Any:
        return await coro

    return asyncio.run(main())


def test_response_carries_status_body_and_caching_headers() -> None:
    async def scenario() -> None:
        headers = {
            "ETag": '"v1"',
            "Last-Modified": "Tue, 22 Jun 2021 08:00:00 GMT",
            "Content-Type": "text/html; charset=utf-8",
            "Cache-Control": "max-age=600",
        }
        route = text("<p>hello</p>", **headers)
        async with serve({"/page": route}) as srv, HttpClient(settings()) as client:
            url = str(srv.make_url("/page"))
            resp = await client.get(url, max_bytes=10_000)
        assert (resp.status, resp.body, resp.truncated) == (200, b"<p>hello</p>", False)
        assert (resp.final_url, resp.redirects) == (url, 0)
        assert resp.etag == '"v1"'
        assert resp.last_modified == "Tue, 22 Jun 2021 08:00:00 GMT"
        assert (resp.media_type, resp.charset) == ("text/html", "utf-8")
        assert resp.cache_control == "max-age=600"

    run(scenario())


def test_relative_redirect_is_followed_to_the_final_url() -> None:
    async def moved(_: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently(location="/new?x=1")

    async def scenario() -> None:
        async with serve({"/old": moved, "/new": text("arrived")}) as srv:
            async with HttpClient(settings()) as client:
                resp = await client.get(str(srv.make_url("/old")), max_bytes=10_000)
            assert resp.final_url == str(srv.make_url("/new?x=1"))
            assert resp.url == str(srv.make_url("/old"))
        assert (resp.status, resp.body, resp.redirects) == (200, b"arrived", 1)

    run(scenario())


def test_redirect_loop_is_refused_naming_the_url() -> None:
    async def to_b(_: web.Request) -> web.Response:
        raise web.HTTPFound(location="/b")

    async def to_a(_: web.Request) -> web.Response:
        raise web.HTTPFound(location="/a")

    async def scenario() -> None:
        async with serve({"/a": to_b, "/b": to_a}) as srv, HttpClient(settings()) as client:
            url = str(srv.make_url("/a"))
            with pytest.raises(RedirectError, match="loop") as caught:
                await client.get(url, max_bytes=10_000)
        assert url in str(caught.value)

    run(scenario())


def test_redirect_chain_longer_than_max_redirects_is_refused() -> None:
    async def hop(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        raise web.HTTPFound(location=f"/r/{n + 1}")

    async def scenario() -> None:
        strict = settings(max_redirects=3)
        async with serve({"/r/{n}": hop}) as srv, HttpClient(strict) as client:
            with pytest.raises(RedirectError, match="more than 3 redirects"):
                await client.get(str(srv.make_url("/r/0")), max_bytes=10_000)

    run(scenario())


def test_redirect_to_a_non_http_scheme_is_refused() -> None:
    async def to_ftp(_: web.Request) -> web.Response:
        raise web.HTTPFound(location="ftp://files.example.org/a.txt")

    async def scenario() -> None:
        async with serve({"/x": to_ftp}) as srv, HttpClient(settings()) as client:
            with pytest.raises(RedirectError, match="non-http"):
                await client.get(str(srv.make_url("/x")), max_bytes=10_000)

    run(scenario())


def test_body_over_the_cap_is_refused_when_declared_and_when_streamed() -> None:
    async def chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(10):
            await resp.write(b"x" * 5000)
        await resp.write_eof()
        return resp

    async def scenario() -> None:
        routes = {"/declared": text(b"x" * 50_000), "/chunked": chunked}
        async with serve(routes) as srv, HttpClient(settings()) as client:
            for path in ("/declared", "/chunked"):
                with pytest.raises(BodyTooLarge, match="10000 byte cap"):
                    await client.get(str(srv.make_url(path)), max_bytes=10_000)

    run(scenario())


def test_body_over_the_cap_is_cut_at_the_cap_and_flagged_when_truncating() -> None:
    async def scenario() -> None:
        routes = {"/big": text(b"y" * 50_000), "/exact": text(b"z" * 10_000)}
        async with serve(routes) as srv, HttpClient(settings()) as client:
            big = await client.get(
                str(srv.make_url("/big")), max_bytes=10_000, on_too_large="truncate"
            )
            exact = await client.get(
                str(srv.make_url("/exact")), max_bytes=10_000, on_too_large="truncate"
            )
        assert (big.body, big.truncated) == (b"y" * 10_000, True)
        assert (exact.body, exact.truncated) == (b"z" * 10_000, False)

    run(scenario())


def test_cap_counts_decompressed_bytes_of_a_gzip_body() -> None:
    """A 1 MB body gzipped to ~1 KB is still over a 10 KB cap."""
    bomb = gzip.compress(b"a" * 1_000_000)

    async def scenario() -> None:
        route = text(bomb, **{"Content-Encoding": "gzip", "Content-Type": "text/plain"})
        async with serve({"/gz": route}) as srv, HttpClient(settings()) as client:
            url = str(srv.make_url("/gz"))
            cut = await client.get(url, max_bytes=10_000, on_too_large="truncate")
            with pytest.raises(BodyTooLarge):
                await client.get(url, max_bytes=10_000, on_too_large="refuse")
        assert (cut.body, cut.truncated) == (b"a" * 10_000, True)

    run(scenario())


def test_slow_drip_server_hits_the_total_timeout() -> None:
    async def drip(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        for _ in range(50):
            await resp.write(b".")
            await asyncio.sleep(0.1)
        return resp

    async def scenario() -> None:
        async with serve({"/drip": drip}) as srv:
            quick = settings(total_timeout=0.5, read_timeout=2, connect_timeout=2)
            async with HttpClient(quick) as client:
                url = str(srv.make_url("/drip"))
                with pytest.raises(HttpTimeout, match="timeout") as caught:
                    await client.get(url, max_bytes=10_000)
        assert url in str(caught.value)

    run(scenario())


def test_silent_server_hits_the_read_timeout() -> None:
    async def silent(_: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="too late")

    async def scenario() -> None:
        async with serve({"/silent": silent}) as srv:
            quick = settings(total_timeout=5, read_timeout=0.3, connect_timeout=2)
            async with HttpClient(quick) as client:
                with pytest.raises(HttpTimeout, match="read timeout"):
                    await client.get(str(srv.make_url("/silent")), max_bytes=10_000)

    run(scenario())


def test_loopback_is_refused_without_a_request_when_private_networks_are_not_allowed() -> None:
    hits: list[str] = []

    async def page(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text="secret")

    async def scenario() -> None:
        guarded = settings(allow_private_networks=False)
        async with serve({"/": page}) as srv, HttpClient(guarded) as client:
            by_ip = str(srv.make_url("/"))
            with pytest.raises(PrivateAddressRefused, match=r"127\.0\.0\.1") as caught:
                await client.get(by_ip, max_bytes=10_000)
            assert by_ip in str(caught.value)
            # A host name is checked on the addresses it resolves to.
            by_name = f"http://localhost:{srv.port}/"
            with pytest.raises(PrivateAddressRefused):
                await client.get(by_name, max_bytes=10_000)
        assert hits == []

    run(scenario())


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.9", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("224.0.0.251", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("240.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("93.184.215.14", True),
        ("2a00:1450:4001::1", True),
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def test_connection_refused_is_a_connect_failure() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port once the socket is closed.

    async def scenario() -> None:
        async with HttpClient(settings()) as client:
            with pytest.raises(ConnectFailure, match=f"127.0.0.1:{port}"):
                await client.get(f"http://127.0.0.1:{port}/", max_bytes=10_000)

    run(scenario())


def test_https_to_a_plain_http_server_is_a_tls_failure() -> None:
    async def scenario() -> None:
        async with serve({"/": text("plain")}) as srv, HttpClient(settings()) as client:
            url = str(srv.make_url("/")).replace("http://", "https://")
            with pytest.raises(TlsFailure):
                await client.get(url, max_bytes=10_000)

    run(scenario())


def test_error_status_is_returned_and_raise_for_status_gives_retry_after() -> None:
    async def busy(_: web.Request) -> web.Response:
        return web.Response(status=503, text="later", headers={"Retry-After": "120"})

    async def scenario() -> None:
        async with serve({"/busy": busy}) as srv, HttpClient(settings()) as client:
            url = str(srv.make_url("/busy"))
            resp = await client.get(url, max_bytes=10_000)
        assert (resp.status, resp.body, resp.retry_after) == (503, b"", "120")
        with pytest.raises(HttpStatusError, match="HTTP 503") as caught:
            resp.raise_for_status()
        assert (caught.value.status, caught.value.retry_after) == (503, "120")
        assert url in str(caught.value)

    run(scenario())


def test_unwanted_content_type_is_refused() -> None:
    async def scenario() -> None:
        route = text(b"\x89PNG\r\n", **{"Content-Type": "image/png"})
        async with serve({"/img": route}) as srv, HttpClient(settings()) as client:
            with pytest.raises(ContentTypeRefused, match="image/png"):
                await client.get(
                    str(srv.make_url("/img")), max_bytes=10_000, accept_types={"text/html"}
                )

    run(scenario())


def _concurrency_probe() -> tuple[Handler, list[int]]:
    state = [0, 0]  # in flight, most seen at once

    async def handler(_: web.Request) -> web.Response:
        state[0] += 1
        state[1] = max(state[1], state[0])
        await asyncio.sleep(0.05)
        state[0] -= 1
        return web.Response(text="ok")

    return handler, state


def test_per_host_limit_bounds_requests_in_flight_to_one_host() -> None:
    handler, state = _concurrency_probe()

    async def scenario() -> None:
        limits = settings(per_host_concurrency=2)
        async with serve({"/slow": handler}) as srv, HttpClient(limits) as client:
            url = str(srv.make_url("/slow"))
            results = await asyncio.gather(*(client.get(url, max_bytes=1000) for _ in range(6)))
        assert [r.status for r in results] == [200] * 6
        assert state[1] == 2

    run(scenario())


def test_global_limit_bounds_requests_in_flight_overall() -> None:
    handler, state = _concurrency_probe()

    async def scenario() -> None:
        async with serve({"/slow": handler}) as srv:
            limits = settings(per_host_concurrency=10, global_concurrency=3)
            async with HttpClient(limits) as client:
                url = str(srv.make_url("/slow"))
                await asyncio.gather(*(client.get(url, max_bytes=1000) for _ in range(7)))
        assert state[1] == 3

    run(scenario())


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = 1_624_348_800.0  # 2021-06-22 08:00:00 UTC
    assert retry_after_seconds("120", now) == 120.0
    assert retry_after_seconds("Tue, 22 Jun 2021 08:05:00 GMT", now) == 300.0
    assert retry_after_seconds("Tue, 22 Jun 2021 07:00:00 GMT", now) == 0.0
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None


def test_parse_content_type() -> None:
    assert parse_content_type('Text/HTML; Charset="ISO-8859-1"') == ("text/html", "ISO-8859-1")
    assert parse_content_type("application/rss+xml") == ("application/rss+xml", None)
    assert parse_content_type(None) == (None, None)
