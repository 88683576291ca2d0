"""Bytes of an HTML page to text, with the charset the page most credibly declares.

Order of evidence (as browsers do, WHATWG "encoding sniffing"): a byte-order
mark, which cannot lie about the bytes that follow it; then the Content-Type
header's charset; then a `<meta charset>` or `http-equiv` declaration near the
top; else UTF-8. Unknown or non-text charset names are skipped with a note,
never an exception, and undecodable bytes become U+FFFD.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_META = re.compile(rb"<meta\b[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9_:.\-]+)", re.I)
_META_WINDOW = 4096
# Browsers read these labels as windows-1252, and so do the pages that use them.
_WHATWG_ALIASES = {
    "ascii": "cp1252", "us-ascii": "cp1252", "iso-8859-1": "cp1252", "iso8859-1": "cp1252",
    "latin1": "cp1252", "latin-1": "cp1252", "l1": "cp1252", "x-user-defined": "cp1252",
}
# Text codecs of Python that no web page is written in; some would misread backslashes.
_NOT_CHARSETS = frozenset({"idna", "punycode", "unicode-escape", "raw-unicode-escape"})


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    encoding: str
    """Python codec name actually used, e.g. 'utf-8', 'cp1252', 'shift_jis'"""
    source: str
    """where the charset came from: 'bom', 'header', 'meta' or 'default'"""
    rejected: tuple[str, ...] = ()
    """declared charset names that were unknown or unusable, in the order met"""


def codec_name(label: str) -> str | None:
    """The Python text codec for a charset label, or None if there is none."""
    label = label.strip().strip("\"'").lower()
    label = _WHATWG_ALIASES.get(label, label)
    try:
        info = codecs.lookup(label)
        "".encode(info.name)  # rejects codecs.lookup's non-text codecs (rot13, base64 …)
    except (LookupError, ValueError):
        return None
    return None if info.name in _NOT_CHARSETS else info.name


def decode_html(body: bytes, header_charset: str | None, *, complete: bool = True) -> Decoded:
    """Decode a page body; `complete=False` (a truncated body) drops a cut-off last character."""
    for bom, bom_codec in _BOMS:
        if body.startswith(bom):
            text = _decode(body[len(bom) :], bom_codec, complete)
            return Decoded(text, codec_name(bom_codec) or bom_codec, "bom")
    rejected: list[str] = []
    candidates: list[tuple[str, str | None]] = [("header", header_charset)]
    meta = _META.search(body[:_META_WINDOW])
    candidates.append(("meta", meta.group(1).decode("ascii") if meta else None))
    for source, label in candidates:
        if not label:
            continue
        name = codec_name(label)
        # A page that is readable as ASCII cannot really be UTF-16; browsers say UTF-8.
        if name is not None and source == "meta" and name.startswith("utf-16"):
            name = "utf-8"
        if name is None:
            rejected.append(label)
            continue
        return Decoded(_decode(body, name, complete), name, source, tuple(rejected))
    return Decoded(_decode(body, "utf-8", complete), "utf-8", "default", tuple(rejected))


def _decode(body: bytes, encoding: str, complete: bool) -> str:
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    return decoder.decode(body, final=complete)
