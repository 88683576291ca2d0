"""Text normalisation for duplicate detection.

Two copies of a wire story differ in trivia: curly or straight quotes, dashes,
case, line breaks, non-breaking spaces, soft hyphens, full-width forms. After
`normalise_text` those copies are equal, so `text_hash` is too.

They also differ in what each outlet wraps around the story: a dateline with
an agency tag ("KABUL (Wire) —"), a byline, a credit line ("NYTIMES,
BLOOMBERG"), "Read more: ..." and "Share this story" lines. `strip_furniture`
removes those before the near-duplicate comparison, so that they neither hide
a copy nor make two different stories look alike.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import numpy as np


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

# "KABUL (Wire) —", "KABUL, June 20 (Reuters) -", "KABUL •", "KABUL, Afghanistan —",
# "(AP) —": an upper-case place, optional date and agency, then a dash or bullet.
_DATELINE = re.compile(
    r"""^\s*(?:
        [A-Z][A-Z.'\u2019\- ]{1,40}(?:,\s*[A-Z][A-Za-z.]+(?:\s+\d{1,2})?)*   # place, region, date
        (?:\s*\([^()]{1,40}\))?                                     # (agency)
      | \([^()]{1,40}\)                                             # (agency) alone
    )\s*[—\u2013\-:•|]+\s*""",
    re.VERBOSE,
)
# Whole paragraphs that an outlet adds around a story rather than part of it.
_FURNITURE = re.compile(
    r"""^\s*\(?\s*(?:
        read\ (?:more|also|next)|also\ read|related(?:\ stories|\ articles)?\s*:|see\ also|
        more\ on\ this|share\ this|share\ on|follow\ us|follow\ the|sign\ up|subscribe|
        click\ here|distributed\ by|republished|syndicated|this\ (?:article|story)\ (?:was|first|
        originally|has\ been)|originally\ published|copyright|©|all\ rights\ reserved|
        (?:additional\ )?reporting\ by|with\ (?:additional\ )?reporting|editing\ by|
        writing\ by|compiled\ by|photo\s*:|image\s*:|caption\s*:|advertisement|
        listen\ to\ this|download\ our\ app|get\ our|watch\s*:|updated\ (?:on|at)
    )""",
    re.VERBOSE | re.IGNORECASE,
)
_NAME = r"[\w.'\u2019\- ]+"
_BYLINE = re.compile(rf"^\s*(?:by|from)\s+{_NAME}(?:\s+(?:and|&)\s+{_NAME})?", re.IGNORECASE)
_AGENCY_WORDS = re.compile(r"^[A-Z0-9][A-Z0-9 .,/&'\u2019\-]*$")


def strip_furniture(text: str) -> str:
    """`text` without datelines, agency tags, bylines, credits and site boilerplate lines.

    Works paragraph by paragraph (lines, or blank-line separated blocks): a
    paragraph is dropped when it is a known boilerplate line, a short byline,
    or a short all-capitals credit ("NYTIMES, BLOOMBERG"); a dateline is cut
    from the start of the first paragraphs. The story's own sentences are
    kept, in order, one per line.
    """
    lines = text.splitlines()
    return "\n".join(
        part if isinstance(part, str) else lines[part].strip() for part in furniture_free(lines)
    )


def furniture_free(lines: list[str]) -> list[int | str]:
    """What `strip_furniture` keeps of `text.splitlines()`: a line's index, or its cut text.

    A line kept whole is given by its index.
    """
    kept: list[int | str] = []
    for number, raw in enumerate(lines):
        paragraph = raw.strip()
        if not paragraph:
            continue
        # the anchored patterns fail at once on most paragraphs, the word count is dearer
        if _FURNITURE.match(paragraph) and _words(paragraph) <= 40:
            continue
        if (_BYLINE.match(paragraph) or _AGENCY_WORDS.match(paragraph)) and _words(paragraph) <= 8:
            continue
        if len(kept) < 2:
            cut = _DATELINE.sub("", paragraph, count=1)
            if cut != paragraph:
                if cut:
                    kept.append(cut)
                continue
        kept.append(number)
    return kept


def _words(paragraph: str) -> int:
    """Words in `paragraph`, counted up to 41: a long paragraph is not split whole."""
    return len(paragraph.split(maxsplit=40))


def story_texts(text: str) -> tuple[str, str, str]:
    """`normalise_text(text)`, `strip_furniture(text)` and the latter normalised."""
    normalised = normalise_text(text)
    lines = text.splitlines()
    kept = furniture_free(lines)
    stripped = "\n".join(part if isinstance(part, str) else lines[part].strip() for part in kept)
    if all(isinstance(part, int) for part in kept) and len(kept) == sum(
        1 for line in lines if line and not line.isspace()
    ):
        # every line kept whole, only blank ones dropped: the same words as the whole text
        return normalised, stripped, normalised
    return normalised, stripped, normalise_text(stripped)


def normalise_text(text: str) -> str:
    """Unicode NFKC, case-folded, punctuation and symbols removed, whitespace collapsed.

    Words stay separated by one space: "Kunduz's  GATE--today" (any quote or
    dash) and "kunduz s gate today" normalise alike. That is
    `" ".join(_fold(text).split())`, computed on UTF-8 bytes so that a word
    costs no Python object: `_fold` proper only on the characters beyond
    ASCII, a byte table for the rest, and numpy to collapse the spaces.
    """
    data = text.encode("ascii") if text.isascii() else _fold_beyond_ascii(text).encode("utf-8")
    codes = np.frombuffer(data.translate(_ASCII_FOLD), dtype=np.uint8)
    space = codes == _SPACE
    # a space is kept unless it follows another one
    keep = np.ones(codes.size, dtype=np.bool_)
    np.logical_not(space[1:] & space[:-1], out=keep[1:])
    return codes[keep].tobytes().strip(b" ").decode("utf-8")


def _fold(text: str) -> str:
    """NFKC, case-folded, punctuation and symbols to spaces, format characters removed."""
    return unicodedata.normalize("NFKC", text).casefold().translate(_TABLE)


def _ascii_table() -> bytes:
    """A `bytes.translate` table that does `_fold` to ASCII characters and turns the
    whitespace that `str.split` splits on into spaces; bytes of multi-byte UTF-8
    characters stay as they are."""
    table = bytearray(range(256))
    for code in range(128):
        folded = _fold(chr(code))
        table[code] = ord(" ") if folded.isspace() else ord(folded)
    return bytes(table)


_ASCII_FOLD = _ascii_table()
_SPACE = np.uint8(ord(" "))
# Whitespace beyond ASCII that `str.split` splits on, as a space (all of it is in
# the Basic Multilingual Plane; NFKC already turns most of it into a space).
_SPACES = {code: " " for code in range(0x80, 0x10000) if chr(code).isspace()}
# A lone surrogate (a broken character, e.g. from a "surrogateescape" decoding)
# separates words like a symbol, instead of failing the UTF-8 encoding below.
_SPACES.update(dict.fromkeys(range(0xD800, 0xE000), " "))


def _fold_beyond_ascii(text: str) -> str:
    """`text` with each run of non-ASCII characters `_fold`-ed, its whitespace as spaces.

    `str.translate` takes a dictionary look-up per character from the first
    non-ASCII one on, so one curly quote near the start of an article made
    folding all of it slow. Folding works character by character except for
    NFKC composition, which never joins an ASCII character to the one before
    it: a run is folded together with the character before it, and the
    ASCII in between is left to `_ASCII_FOLD`, which leaves `_fold`'s output
    as it is. The runs are found with numpy (a regex scan costs more).
    """
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    beyond = np.flatnonzero(codes > 0x7F)
    # a run starts where the previous character is ASCII and ends after its last one
    opens = np.empty(beyond.size, dtype=np.bool_)
    opens[:1] = True
    np.not_equal(beyond[1:], beyond[:-1] + 1, out=opens[1:])
    starts = beyond[opens]
    ends = np.append(beyond[np.flatnonzero(opens)[1:] - 1], beyond[-1:]) + 1
    parts: list[str] = []
    at = 0
    for run_start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        start = max(run_start - 1, at)
        parts.append(text[at:start])
        parts.append(_fold(text[start:end]).translate(_SPACES))
        at = end
    parts.append(text[at:])
    return "".join(parts)


def text_hash(text: str) -> str:
    """sha256 (hex) of `normalise_text(text)`: equal for texts that differ only in trivia."""
    return hash_normalised(normalise_text(text))


def hash_normalised(normalised: str) -> str:
    """sha256 (hex) of text that is already the output of `normalise_text`."""
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()
