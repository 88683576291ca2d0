"""Screening a page body before parsing: not HTML, binary, too big, mis-decoded.

`screen_body` is a pure function of the `RawPage`. It says either why the body
cannot be extracted at all (`problem`), or gives the HTML to extract with
notes on what was done to it (cut to size, repaired) that make the article
"partial". Each reason is a plain sentence that names what was seen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.core.models import RawPage

_HTML_TYPES = ("text/", "application/xhtml+xml", "application/xml", "application/html")
# Control characters that never occur in a text page (tab, newlines, form feed do).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
BINARY_PROBE_CHARS = 8192
BINARY_CONTROL_SHARE = 0.01
# UTF-8 read as cp1252/latin-1: "é" becomes "Ã©", a curly quote becomes "â€" + one more.
_MOJIBAKE = re.compile(r"Ã[\x80-\xbf\u0152-\u2122]|â€|Â[\xa0-\xbf]")
MOJIBAKE_MIN = 5
REPLACEMENT_SHARE = 0.005


@dataclass(frozen=True)
class Body:
    """What to extract: `html`, or nothing with `problem` saying why."""

    html: str = ""
    problem: str | None = None
    notes: tuple[str, ...] = field(default=())


def screen_body(raw: RawPage, *, max_chars: int) -> Body:
    """Check `raw`'s status, content type and body; cut it to `max_chars` characters."""
    if not 200 <= raw.status < 300:
        return Body(problem=f"the page answered HTTP {raw.status}")
    media = (raw.content_type or "").split(";")[0].strip().lower()
    if media and not media.startswith(_HTML_TYPES):
        return Body(problem=f"the page is {media}, not HTML")
    html = raw.html
    if not html.strip():
        return Body(problem="the page body is empty")
    probe = html[:BINARY_PROBE_CHARS]
    controls = len(_CONTROL.findall(probe))
    if controls > BINARY_CONTROL_SHARE * len(probe):
        return Body(
            problem=(
                f"the page body is binary data ({controls} control characters in its first "
                f"{len(probe)}), although it was served as {media or 'an unknown type'}"
            )
        )
    notes: list[str] = []
    if raw.truncated:
        notes.append("the fetcher cut the page at its size cap")
    if len(html) > max_chars:
        cut = html.rfind("<", 0, max_chars)
        html = html[: cut if cut > 0 else max_chars]
        notes.append(
            f"the page has {len(raw.html):,} characters; only its first {len(html):,} were read"
        )
    html = _repair_mojibake(html, raw.encoding)
    replaced = html.count("\ufffd")
    if replaced > REPLACEMENT_SHARE * len(html):
        notes.append(
            f"the page is badly decoded: {replaced} characters were unreadable as {raw.encoding}"
        )
    # lxml refuses NUL; a stray one in an otherwise textual page is dropped, not fatal.
    if controls:
        html = _CONTROL.sub("", html)  # a few stray ones in a text page: not worth a note
    return Body(html=html, notes=tuple(notes))


def _repair_mojibake(html: str, encoding: str) -> str:
    """Undo UTF-8 bytes decoded as cp1252 or latin-1, when the whole page round-trips."""
    # `in` is a fast scan; the regex runs only on the rare page that has the markers.
    if ("Ã" not in html and "â€" not in html) or len(_MOJIBAKE.findall(html)) < MOJIBAKE_MIN:
        return html
    for wrong in ("cp1252", "latin-1"):
        try:
            return html.encode(wrong).decode("utf-8")
        except UnicodeError:
            continue
    return html
