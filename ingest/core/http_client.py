"""A small, polite HTTP client: one shared aiohttp session, bounded in every way.

`HttpClient` owns one `aiohttp.ClientSession`, created lazily on first use inside
the running event loop and closed by `close()` (or `async with`). Every GET has
connect/read/total timeouts and a body-size cap enforced while streaming;
redirects are followed by hand so that each hop is re-checked; private,
loopback, link-local, multicast and reserved addresses are refused unless
`allow_private_networks` is set; a global and a per-host semaphore bound
concurrency. Failures are raised as `HttpError` subclasses whose message is one
line naming the URL. Non-2xx statuses are *returned*, not raised: the caller
decides (`HttpResponse.raise_for_status()` gives the typed error).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Literal

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from ingest.core.http_errors import (
    BodyTooLarge,
    ConnectFailure,
    ContentTypeRefused,
    DnsFailure,
    HttpError,
    HttpStatusError,
    HttpTimeout,
    InvalidUrl,
    PrivateAddressRefused,
    RedirectError,
    TlsFailure,
)
from ingest.core.settings import HttpSettings

__all__ = [
    "BodyTooLarge", "ConnectFailure", "ContentTypeRefused", "DnsFailure", "HttpClient",
    "HttpError", "HttpResponse", "HttpStatusError", "HttpTimeout", "InvalidUrl",
    "PrivateAddressRefused", "RedirectError", "TlsFailure", "is_public_address",
    "parse_content_type", "retry_after_seconds",
]

TooLarge = Literal["truncate", "refuse"]
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 65_536


class _PrivateAddressError(OSError):
    """Raised inside the resolver; aiohttp wraps it, the client unwraps it."""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """The final response of a GET, after redirects. `body` is empty unless 2xx."""

    url: str
    final_url: str
    status: int
    reason: str
    body: bytes
    truncated: bool
    elapsed_ms: float
    redirects: int
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    retry_after: str | None = None
    cache_control: str | None = None
    expires: str | None = None
    permanent_url: str | None = None
    """where an unbroken chain of 301/308 from the requested URL led, if it did"""

    @property
    def media_type(self) -> str | None:
        return parse_content_type(self.content_type)[0]

    @property
    def charset(self) -> str | None:
        return parse_content_type(self.content_type)[1]

    def raise_for_status(self) -> None:
        """Raise `HttpStatusError` unless the status is 2xx or 304."""
        if self.status >= 300 and self.status != 304:
            raise HttpStatusError(self.final_url, self.status, self.reason, self.retry_after)


def parse_content_type(value: str | None) -> tuple[str | None, str | None]:
    """`'text/html; charset="UTF-8"'` → `('text/html', 'UTF-8')`; absent parts are None."""
    if not value:
        return None, None
    media, *params = value.split(";")
    charset = None
    for param in params:
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset":
            charset = val.strip().strip("\"'").strip() or None
    return media.strip().lower() or None, charset


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP-date); None if unusable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address; False for private, loopback and the like."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (
        ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local
    )


class _GuardedResolver(AbstractResolver):
    """Checks addresses where aiohttp connects to them, so DNS rebinding cannot slip past."""

    def __init__(self, allow_private: bool) -> None:
        self._inner = DefaultResolver()
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not self._allow_private:
            blocked = [r["host"] for r in results if not is_public_address(r["host"])]
            if blocked:
                raise _PrivateAddressError(f"{host} resolves to non-public address {blocked[0]}")
        return results

    async def close(self) -> None:
        await self._inner.close()


class _HostSlots:
    """One semaphore per host, dropped when nobody holds or waits for it.

    `enter(host)` gives the host's semaphore (acquire it yourself); every `enter`
    must be paired with a `leave` in a `finally`. Plain calls, not a context
    manager: this runs for every request, and a generator-based one costs more.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._slots: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}

    def enter(self, host: str) -> asyncio.Semaphore:
        slot = self._slots.get(host)
        if slot is None:
            slot = self._slots[host] = (asyncio.Semaphore(self._limit), [0])
        slot[1][0] += 1
        return slot[0]

    def leave(self, host: str) -> None:
        users = self._slots[host][1]
        users[0] -= 1
        if users[0] == 0:
            del self._slots[host]


class HttpClient:
    """Owns the shared session; create once per process, `close()` at shutdown.

    Construction needs no event loop; the session and semaphores bind to the
    loop of the first `get()`, so use one client from one event loop only.
    """

    def __init__(self, settings: HttpSettings) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._global = asyncio.Semaphore(settings.global_concurrency)
        self._hosts = _HostSlots(settings.per_host_concurrency)

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            s = self.settings
            connector = aiohttp.TCPConnector(
                resolver=_GuardedResolver(s.allow_private_networks),
                limit=s.global_concurrency,
            )
            timeout = aiohttp.ClientTimeout(
                connect=s.connect_timeout.total_seconds(),
                sock_read=s.read_timeout.total_seconds(),
            )
            # No cookie jar: cookies from one site must not follow us to the next.
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=timeout, headers={"User-Agent": s.user_agent},
                cookie_jar=aiohttp.DummyCookieJar(), trust_env=False,
            )
        return self._session

    async def get(
        self, url: str, *, max_bytes: int, on_too_large: TooLarge = "refuse",
        headers: Mapping[str, str] | None = None,
        accept_types: Collection[str] | None = None, parsed: URL | None = None,
    ) -> HttpResponse:
        """GET `url`, following redirects; return the final response of any status.

        A 2xx body over `max_bytes` is cut at the cap and flagged (`truncate`) or
        refused with `BodyTooLarge` (`refuse`); compressed bodies are inflated
        only as far as the cap. `accept_types` (media types) refuses any other
        declared type of a 2xx response with `ContentTypeRefused` before its body
        is read; a response without Content-Type passes. `parsed` is `url` as a
        `URL`, from a caller that requests the same URLs again and again (parsing
        one takes over 15 microseconds; yarl caches only 128). Raises `HttpError`.
        """
        req = _Request(url, headers, max_bytes, on_too_large, accept_types)
        started = time.monotonic()
        budget = self.settings.total_timeout.total_seconds()
        current: str | URL = parsed if parsed is not None else url
        visited: set[str] = set()
        permanent: str | None = None
        still_permanent = True
        for hop in range(self.settings.max_redirects + 1):
            target = self._check_url(current, url)
            visited.add(str(target))
            remaining = max(budget - (time.monotonic() - started), 0.001)
            host = target.host or ""
            slot = self._hosts.enter(host)
            try:
                async with slot, self._global:
                    step = await self._request(target, req, remaining)
            finally:
                self._hosts.leave(host)
            if not isinstance(step, tuple):
                return step(started, hop, permanent)
            nxt, status = step
            if hop >= self.settings.max_redirects:
                raise RedirectError(url, f"more than {self.settings.max_redirects} redirects")
            if str(nxt) in visited:
                raise RedirectError(url, f"redirect loop back to {nxt}")
            still_permanent = still_permanent and status in (301, 308)
            if still_permanent:
                permanent = str(nxt)
            current = nxt
        raise AssertionError("unreachable: the loop returns or raises")

    def _check_url(self, current: str | URL, original: str) -> URL:
        try:
            target = current if isinstance(current, URL) else URL(current)
        except (ValueError, TypeError) as exc:
            raise InvalidUrl(original, f"invalid URL {current!r} ({exc})") from None
        if target.scheme not in ("http", "https") or not target.host:
            raise InvalidUrl(original, f"not an http(s) URL: {current}")
        if not self.settings.allow_private_networks:
            try:
                public = is_public_address(target.host)
            except ValueError:  # a host name: the resolver checks its addresses
                public = True
            if not public:
                raise PrivateAddressRefused(original, f"refused non-public address {target.host}")
        return target

    async def _request(
        self, target: URL, req: _Request, timeout: float
    ) -> _Finish | tuple[URL, int]:
        """One hop: the response (to finish), or the URL a redirect points to and its status."""
        session = self._get_session()
        try:
            async with asyncio.timeout(timeout):
                async with session.get(
                    target, headers=req.headers, allow_redirects=False
                ) as resp:
                    location = resp.headers.get("Location")
                    if resp.status in _REDIRECTS and location:
                        return _redirect_target(resp.url, location, req.url), resp.status
                    body, truncated = b"", False
                    if 200 <= resp.status < 300:
                        _check_type(resp, req)
                        body, truncated = await _read_capped(resp, req)
                    return _Finish(resp, body, truncated, req.url)
        except HttpError:
            raise
        except Exception as exc:
            raise _translate(exc, req.url, timeout) from exc


@dataclass(frozen=True, slots=True)
class _Request:
    url: str
    headers: Mapping[str, str] | None
    max_bytes: int
    on_too_large: TooLarge
    accept_types: Collection[str] | None


def _redirect_target(base: URL, location: str, original: str) -> URL:
    try:
        nxt = base.join(URL(location))
    except (ValueError, TypeError):
        raise RedirectError(original, f"unusable redirect Location {location!r}") from None
    if nxt.scheme not in ("http", "https"):
        raise RedirectError(original, f"redirect to a non-http(s) URL {location!r}")
    return nxt.with_fragment(None)


def _check_type(resp: aiohttp.ClientResponse, req: _Request) -> None:
    raw = resp.headers.get("Content-Type")
    media = parse_content_type(raw)[0]
    if req.accept_types is not None and media is not None and media not in req.accept_types:
        raise ContentTypeRefused(req.url, f"unwanted content type {raw}")


async def _read_capped(resp: aiohttp.ClientResponse, req: _Request) -> tuple[bytes, bool]:
    cap, refuse = req.max_bytes, req.on_too_large == "refuse"
    declared = resp.content_length
    if refuse and declared is not None and declared > cap:
        raise BodyTooLarge(req.url, f"body of {declared} bytes exceeds the {cap} byte cap")
    chunks: list[bytes] = []
    size = 0
    # aiohttp inflates gzip/deflate as we read, so stopping here stops inflating too.
    async for chunk in resp.content.iter_chunked(_CHUNK):
        if size + len(chunk) > cap:
            if refuse:
                raise BodyTooLarge(req.url, f"body exceeds the {cap} byte cap")
            chunks.append(chunk[: cap - size])
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False


class _Finish:
    """The final hop's response, made into an `HttpResponse` once the request's totals are
    known (built once, not built and then copied: this runs for every poll)."""

    __slots__ = ("body", "headers", "reason", "requested", "status", "truncated", "url")

    def __init__(
        self, resp: aiohttp.ClientResponse, body: bytes, truncated: bool, requested: str
    ) -> None:
        self.url, self.status, self.reason = str(resp.url), resp.status, resp.reason or ""
        self.headers, self.body, self.truncated = resp.headers, body, truncated
        self.requested = requested

    def __call__(self, started: float, hops: int, permanent: str | None) -> HttpResponse:
        h = self.headers
        return HttpResponse(
            url=self.requested, final_url=self.url, status=self.status, reason=self.reason,
            body=self.body, truncated=self.truncated,
            elapsed_ms=(time.monotonic() - started) * 1000.0, redirects=hops,
            etag=h.get("ETag"), last_modified=h.get("Last-Modified"),
            content_type=h.get("Content-Type"), retry_after=h.get("Retry-After"),
            cache_control=h.get("Cache-Control"), expires=h.get("Expires"),
            permanent_url=permanent,
        )


def _translate(exc: Exception, url: str, timeout: float) -> HttpError:  # noqa: PLR0911 (a table)
    """Map aiohttp's and asyncio's exceptions to the client's typed errors."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return HttpTimeout(url, "connect timeout")
    if isinstance(exc, aiohttp.SocketTimeoutError):
        return HttpTimeout(url, "read timeout")
    if isinstance(exc, TimeoutError):
        return HttpTimeout(url, f"total timeout after {timeout:.1f} s")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        if isinstance(exc.os_error, _PrivateAddressError):
            return PrivateAddressRefused(url, f"refused: {exc.os_error}")
        return DnsFailure(url, f"DNS lookup of {exc.host} failed ({exc.os_error.strerror})")
    if isinstance(exc, aiohttp.ClientSSLError):
        return TlsFailure(url, f"TLS failure ({_first_line(exc)})")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return ConnectFailure(url, f"cannot connect to {exc.host}:{exc.port} ({exc.strerror})")
    if isinstance(exc, aiohttp.InvalidURL):
        return InvalidUrl(url, f"invalid URL ({_first_line(exc)})")
    if isinstance(exc, aiohttp.ClientError | OSError):
        return ConnectFailure(url, f"connection error ({type(exc).__name__}: {_first_line(exc)})")
    raise exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
