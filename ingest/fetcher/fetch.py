"""Download one article page and decode it to text.

`fetch_page` returns a `RawPage` or raises `FetchError`. `FetchError.permanent`
tells the caller what to do: permanent failures (404, 410, other 4xx,
refused addresses, non-HTML content, too many redirects, TLS failures) will
fail the same way again and belong in the dead-letter topic; transient ones
(timeouts, 5xx, 408/425/429, DNS and connection errors) are worth a retry,
after `retry_after` seconds if the server said so. A page over the size cap
is kept, cut at the cap and flagged `truncated`.
"""

from __future__ import annotations

import structlog
from yarl import URL

from ingest.core.http_client import (
    ConnectFailure,
    DnsFailure,
    HttpClient,
    HttpError,
    HttpStatusError,
    HttpTimeout,
    retry_after_seconds,
)
from ingest.core.models import Item, RawPage, utc_now
from ingest.fetcher.charset import decode_html
from ingest.fetcher.pacing import HostPacer
from ingest.fetcher.robots import RobotsCache

log = structlog.get_logger(__name__)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
_TRANSIENT_ERRORS = (HttpTimeout, DnsFailure, ConnectFailure)
_TRANSIENT_STATUSES = frozenset({408, 425, 429})
_BINARY_MAGIC = (
    b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"PK\x03\x04", b"\x1f\x8b", b"RIFF",
    b"\x00\x00\x00", b"ID3", b"OggS", b"\x7fELF",
)


class FetchError(Exception):
    """A page that could not be fetched; `str()` is one line naming the URL."""

    def __init__(
        self, url: str, reason: str, *, permanent: bool, status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason if url in reason else f"{reason}: {url}")
        self.url = url
        self.reason = reason
        self.permanent = permanent
        self.status = status
        self.retry_after = retry_after


async def fetch_page(
    client: HttpClient, item: Item, max_bytes: int, *, robots: RobotsCache | None = None,
    pacer: HostPacer | None = None,
) -> RawPage:
    """Fetch `item.url` (following redirects) as an HTML page; raise `FetchError`.

    With `robots`, a page its host's robots.txt disallows is a permanent
    error (an unreadable robots.txt a transient one); with `pacer`, the
    request waits for the host's next slot, and a 429/503 Retry-After pauses
    the whole host.
    """
    host = URL(item.url).host or ""
    crawl_delay = None
    if robots is not None:
        verdict = await robots.check(item.url)
        if not verdict.allowed:
            raise FetchError(item.url, verdict.reason, permanent=not verdict.transient)
        crawl_delay = verdict.crawl_delay
    if pacer is not None:
        await pacer.wait(host, crawl_delay)
    try:
        resp = await client.get(
            item.url, max_bytes=max_bytes, on_too_large="truncate",
            headers={"Accept": PAGE_ACCEPT}, accept_types=HTML_TYPES,
        )
        resp.raise_for_status()
    except HttpStatusError as exc:
        status = exc.status
        transient = status >= 500 or status in _TRANSIENT_STATUSES
        wait = retry_after_seconds(exc.retry_after)
        if pacer is not None and status in (429, 503):
            pacer.pause(host, wait if wait is not None else 60.0)
        raise FetchError(
            item.url, str(exc), permanent=not transient, status=status,
            retry_after=wait,
        ) from exc
    except HttpError as exc:
        transient = isinstance(exc, _TRANSIENT_ERRORS)
        raise FetchError(item.url, str(exc), permanent=not transient) from exc
    if resp.status == 304:  # we sent no validators: a confused server or cache
        raise FetchError(item.url, "unexpected 304 Not Modified", permanent=False, status=304)
    if resp.media_type is None and _looks_binary(resp.body):
        raise FetchError(
            item.url, "not an HTML page: binary body without a Content-Type", permanent=True,
            status=resp.status,
        )
    decoded = decode_html(resp.body, resp.charset, complete=not resp.truncated)
    if decoded.rejected:
        log.warning(
            "page_charset_unknown", url=resp.final_url, declared=list(decoded.rejected),
            used=decoded.encoding, source=decoded.source,
        )
    return RawPage(
        item=item, final_url=resp.final_url, status=resp.status,
        content_type=resp.content_type, encoding=decoded.encoding, html=decoded.text,
        truncated=resp.truncated, fetched_at=utc_now(), elapsed_ms=resp.elapsed_ms,
    )


def _looks_binary(body: bytes) -> bool:
    """File signatures, or NUL bytes in the head that no HTML text (without a BOM) has."""
    head = body[:1024]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    return head.startswith(_BINARY_MAGIC) or b"\x00" in head
