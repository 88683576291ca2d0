"""Text normalisation for place matching, with a map back to original offsets.

Both gazetteer names and article texts go through `normalise`, so a name
matches whatever way a text writes it:

- case and diacritics are folded ("Herāt" -> "herat"); every apostrophe-like
  mark becomes "'" (so a curly "Kunduz's" reads as "kunduz's");
- whitespace, hyphens, dashes and underscores become one space
  ("Lashkar-Gah" and "Lashkar  Gah" -> "lashkar gah");
- the Persian ezafe connectors written as separate words between two words
  ("-i-", "-e-", "-e ", " i ", "-ye ") are dropped, so "Mazar-i-Sharif",
  "Mazar-e Sharif" and "Mazar e Sharif" all become "mazar sharif". Forms that
  fuse the connector into a word ("Mazari Sharif", "Puli Khumri") are not
  rewritten: the gazetteer lists them as variants;
- other punctuation is kept as is, so a name never matches across a comma
  or a full stop.

Speed matters (thousands of articles per second per core): the character fold
is one `str.translate` that maps every character to exactly one character, and
the only length-changing edits (space runs, connectors, combining marks) are
deletions found by one precompiled regex. Offsets are kept as a few segments,
not one integer per character.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass

__all__ = ["Normalised", "normalise", "normalise_name"]

_APOSTROPHES = "'`´‘’‛ʹʻʼʽʾʿ′"  # noqa: RUF001 -- these look-alikes are the point
_DELETE = "\x00"  # marks a character that step two deletes (combining marks, format chars)

# Every length-changing edit starts at a space: a run of spaces (all but the
# first go), or a connector word with the spaces before it (deleted when a
# word stands before it). One alternation with a literal first character is
# what keeps sre fast here; looking behind at every position was 5x slower.
_EDITS = re.compile(r" (?: *(?:[ie]|y[ei])(?= +[a-z0-9])| +)")
_DELETES = re.compile(r"\x00+")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _fold_char(char: str) -> str:
    """The one character that `char` folds to (never empty, never longer)."""
    if char in _APOSTROPHES:
        return "'"
    if char.isspace() or char == "_":
        return " "
    category = unicodedata.category(char)
    if category == "Pd":
        return " "
    if category in ("Mn", "Me", "Cf"):
        return _DELETE
    base = "".join(
        part for part in unicodedata.normalize("NFKD", char) if not unicodedata.combining(part)
    ).lower()
    if len(base) == 1:
        return base
    lower = char.lower()
    # A fold to several characters ("ß" -> "ss", "ﬁ" -> "fi") would break the
    # one-to-one offsets; such characters never occur in the gazetteer's names.
    return lower if len(lower) == 1 else char


class _FoldTable(dict[int, str]):
    """`str.translate` table filled on first sight of each code point."""

    def __missing__(self, codepoint: int) -> str:
        folded = _fold_char(chr(codepoint))
        self[codepoint] = folded
        return folded


_FOLD = _FoldTable()
# Bytes 128-255 never occur: the input is encoded to ASCII with "?" in place
# of every other character, which `_fold` then patches one by one.
_ASCII_FOLD = bytes(ord(_fold_char(chr(byte))) for byte in range(128)) + bytes(range(128, 256))


def _fold(text: str) -> str:
    """`text` with every character folded, one character for one."""
    folded = text.encode("ascii", "replace").translate(_ASCII_FOLD).decode("ascii")
    if text.isascii():
        return folded
    pieces: list[str] = []
    kept_from = 0
    for char in _NON_ASCII.finditer(text):
        index = char.start()
        pieces.append(folded[kept_from:index])
        pieces.append(_FOLD[ord(text[index])])
        kept_from = index + 1
    pieces.append(folded[kept_from:])
    return "".join(pieces)


def _deletions(folded: str) -> list[tuple[int, int]]:
    """The spans of `folded` to delete, in order."""
    spans: list[tuple[int, int]] = []
    for edit in _EDITS.finditer(folded):
        start, end = edit.span()
        if folded[end - 1] == " ":
            spans.append((start + 1, end))
        elif start > 0 and folded[start - 1].isalnum():
            spans.append((start, end))
        else:
            # A lone "i" or "e" after punctuation is a word, not a connector:
            # only the extra spaces before it go.
            spaces_end = end - len(folded[start:end].lstrip(" "))
            if spaces_end - start > 1:
                spans.append((start + 1, spaces_end))
    if _DELETE in folded:
        spans.extend(mark.span() for mark in _DELETES.finditer(folded))
        spans.sort()
    return spans


@dataclass(frozen=True, slots=True)
class Normalised:
    """A normalised text and the way back to offsets in the original.

    `text` is the normalised text. The map is a list of segments: runs of
    `text` that correspond one character for one to a run of the original.
    `_norm_starts[k]` and `_orig_starts[k]` are where segment k starts in
    `text` and in the original; between two segments the original had
    characters that normalising deleted.
    """

    text: str
    _norm_starts: tuple[int, ...]
    _orig_starts: tuple[int, ...]

    def original_start(self, index: int) -> int:
        """Offset in the original text of the character at `index` of `text`."""
        segment = bisect_right(self._norm_starts, index) - 1
        return self._orig_starts[segment] + index - self._norm_starts[segment]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The original (start, end) of the non-empty normalised span [start, end)."""
        return self.original_start(start), self.original_start(end - 1) + 1


def normalise(text: str) -> Normalised:
    """Normalise `text` for matching, keeping the map to its original offsets."""
    folded = _fold(text)
    spans = _deletions(folded)
    if not spans:
        return Normalised(folded, (0,), (0,))
    pieces: list[str] = []
    norm_starts = [0]
    orig_starts = [0]
    kept_from = 0
    length = 0
    for start, end in spans:
        pieces.append(folded[kept_from:start])
        length += start - kept_from
        kept_from = end
        norm_starts.append(length)
        orig_starts.append(end)
    pieces.append(folded[kept_from:])
    return Normalised("".join(pieces), tuple(norm_starts), tuple(orig_starts))


def normalise_name(name: str) -> str:
    """The matching key of a gazetteer name: normalised and stripped."""
    return normalise(name).text.strip()
