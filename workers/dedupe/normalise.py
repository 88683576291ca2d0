"""Text normalisation for exact-duplicate detection.

Two copies of a wire story differ in trivia: curly or straight quotes, dashes,
case, line breaks, non-breaking spaces, soft hyphens, full-width forms. After
`normalise_text` those copies are equal, so `text_hash` is too.
"""

from __future__ import annotations

import hashlib
import unicodedata


class _PunctuationTable(dict[int, str | None]):
    """A `str.translate` table filled on first sight of each code point.

    Punctuation (P*) and symbols (S*) become a space, format characters (Cf:
    soft hyphen, zero-width space, joiners) vanish, everything else stays.
    Filling lazily keeps the table to the characters actually seen, and after
    the first sight a lookup is a plain dict hit.
    """

    def __missing__(self, code_point: int) -> str | None:
        category = unicodedata.category(chr(code_point))
        replacement: str | None
        if category[0] in "PS":
            replacement = " "
        elif category == "Cf":
            replacement = None
        else:
            replacement = chr(code_point)
        self[code_point] = replacement
        return replacement


_TABLE = _PunctuationTable()


def normalise_text(text: str) -> str:
    """Unicode NFKC, case-folded, punctuation and symbols removed, whitespace collapsed.

    Words stay separated by one space: "Kunduz's  GATE--today" (any quote or
    dash) and "kunduz s gate today" normalise alike.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(folded.translate(_TABLE).split())


def text_hash(text: str) -> str:
    """sha256 (hex) of `normalise_text(text)`: equal for texts that differ only in trivia."""
    return hash_normalised(normalise_text(text))


def hash_normalised(normalised: str) -> str:
    """sha256 (hex) of text that is already the output of `normalise_text`."""
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()
