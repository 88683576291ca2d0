"""Canonical article URLs and the item ids derived from them.

The canonical form is what identifies an article across feeds and polls:
lower-case scheme and host (IDNA-encoded), no default port, no fragment, no
tracking parameters, remaining query parameters sorted (their original
encoding kept). `item_id` hashes it; the same article linked with different
campaign tags gets the same id.
"""

from __future__ import annotations

import hashlib
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}

TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "yclid", "twclid", "igshid",
        "mc_cid", "mc_eid", "ref", "ref_src", "ref_url", "cmpid", "cmp", "ocid", "ncid",
        "smid", "sr_share", "s_cid", "wt.mc_id", "_ga", "_gl", "_hsenc", "_hsmi",
        "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id", "rb_clickid", "soc_src",
        "soc_trk", "at_medium", "at_campaign", "at_custom1", "at_custom2", "spm",
        "__twitter_impression", "icid", "taid", "guccounter",
    }
)
"""Query parameters that only track the reader; `utm_*` is matched by prefix."""


class InvalidArticleUrl(ValueError):
    """The link is not an absolute http(s) URL even after resolving it."""


def _is_tracking(piece: str) -> bool:
    key = unquote_plus(piece.split("=", 1)[0]).strip().lower()
    return key.startswith("utm_") or key in TRACKING_PARAMS


def _host(hostname: str) -> str:
    host = hostname.lower().rstrip(".")
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:  # a label IDNA 2003 rejects: keep the lower-cased form
        return host


def canonical_url(url: str, base: str | None = None) -> str:
    """The canonical form of `url`, resolved against `base` first if given.

    Raises `InvalidArticleUrl` for anything that is not an absolute http(s) URL.
    """
    raw = url.strip()
    # urljoin (a third of the cost) changes no absolute http(s) URL in a way that
    # survives canonicalisation: skip it for those, the usual case.
    if base and not raw[:8].lower().startswith(("http://", "https://")):
        raw = urljoin(base, raw)
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise InvalidArticleUrl(f"invalid URL {url!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise InvalidArticleUrl(f"not an absolute http(s) URL: {url!r}")
    host = _host(parts.hostname)
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    if parts.username is not None:
        userinfo = parts.netloc.rpartition("@")[0]
        host = f"{userinfo}@{host}"
    query = "&".join(
        sorted(p for p in parts.query.split("&") if p and not _is_tracking(p))
    )
    return urlunsplit((scheme, host, parts.path or "/", query, ""))


def item_id(url: str) -> str:
    """sha256 of the canonical URL, hex, first 32 characters."""
    return id_of_canonical(canonical_url(url))


def id_of_canonical(canonical: str) -> str:
    """`item_id` of a URL already in canonical form (canonicalising twice changes nothing)."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]
