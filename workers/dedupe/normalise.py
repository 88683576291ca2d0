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

    A line kept whole is given by its index, so that a caller holding the
    line already normalised need not normalise it again.
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
    """`normalise_text(text)`, `strip_furniture(text)` and the latter normalised.

    Folds the text once: folding (NFKC, case, punctuation) maps no character
    to a line break or a line break to anything else, and composes nothing
    across one, so the folded text has the original's lines and each folded
    line is that line's own folding.
    """
    folded = _fold(text)
    lines = text.splitlines()
    folded_lines = folded.splitlines()
    kept = furniture_free(lines)
    stripped = "\n".join(part if isinstance(part, str) else lines[part].strip() for part in kept)
    normalised = " ".join(folded.split())
    if len(folded_lines) != len(lines):  # not expected; stay correct if it happens
        return normalised, stripped, normalise_text(stripped)
    if all(isinstance(part, int) for part in kept) and len(kept) == sum(
        1 for line in lines if line and not line.isspace()
    ):
        # every line kept whole, only blank ones dropped: the same words as the whole text
        return normalised, stripped, normalised
    story = " ".join(
        folded_lines[part] if isinstance(part, int) else _fold(part) for part in kept
    )
    return normalised, stripped, " ".join(story.split())


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().translate(_TABLE)


def normalise_text(text: str) -> str:
    """Unicode NFKC, case-folded, punctuation and symbols removed, whitespace collapsed.

    Words stay separated by one space: "Kunduz's  GATE--today" (any quote or
    dash) and "kunduz s gate today" normalise alike.
    """
    return " ".join(_fold(text).split())


def text_hash(text: str) -> str:
    """sha256 (hex) of `normalise_text(text)`: equal for texts that differ only in trivia."""
    return hash_normalised(normalise_text(text))


def hash_normalised(normalised: str) -> str:
    """sha256 (hex) of text that is already the output of `normalise_text`."""
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()
