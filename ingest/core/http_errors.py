"""The typed errors of `ingest.core.http_client`: one class per way a request can fail.

Each `str()` is one line naming the URL, ready for a log line or a dead letter;
`kind` is a short stable label for metrics and feed health.
"""

from __future__ import annotations

from typing import ClassVar


class HttpError(Exception):
    """A request that produced no usable response. `str()` is one line naming the URL."""

    kind: ClassVar[str] = "http"

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{reason}: {url}")
        self.url = url
        self.reason = reason


class HttpTimeout(HttpError):
    kind = "timeout"


class BodyTooLarge(HttpError):
    kind = "too_large"


class RedirectError(HttpError):
    """Too many redirects, a loop, or a redirect to something that is not http(s)."""

    kind = "redirect"


class PrivateAddressRefused(HttpError):
    kind = "private_address"


class DnsFailure(HttpError):
    kind = "dns"


class ConnectFailure(HttpError):
    """Connection refused, reset or unreachable, or the server hung up mid-response."""

    kind = "connection"


class TlsFailure(HttpError):
    kind = "tls"


class InvalidUrl(HttpError):
    kind = "invalid_url"


class ContentTypeRefused(HttpError):
    kind = "content_type"


class HttpStatusError(HttpError):
    kind = "status"

    def __init__(self, url: str, status: int, reason: str, retry_after: str | None) -> None:
        super().__init__(url, f"HTTP {status} {reason}".rstrip())
        self.status = status
        self.retry_after = retry_after
