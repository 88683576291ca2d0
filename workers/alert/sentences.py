"""Sentence splitting that keeps character offsets into the article text.

Place spans from the geotagger are offsets into `article.text`; keeping the
offsets lets each place be mapped to its sentence and paragraph without
re-searching for names.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n\s*")
# A terminator, optional closing quotes/brackets, then the next sentence must
# start with a capital, a digit or an opening quote: "said Mr Wali. "The ..."
# Written to open with one character set (scanned for at C speed): a run of
# terminators, or a newline.
_SENTENCE_END = re.compile(
    r"""[.!?\n](?:(?<=[.!?])[.!?]*["'\u201d\u2019)\]]*(?=\s+["'\u201c\u2018(\[]?[A-Z0-9])"""
    r"""|(?<=\n))"""
)
_TOKEN_BEFORE = re.compile(r"""["'\u201c\u2018(\[]?([\w.\u2019'-]+)$""")
_INITIALISM = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")
_ABBREVIATIONS = frozenset(
    {
        "mr", "mrs", "ms", "dr", "prof", "gen", "lt", "col", "maj", "capt", "sgt", "cpl",
        "adm", "gov", "sen", "rep", "pres", "st", "mt", "ft", "no", "vs", "etc", "inc",
        "ltd", "co", "corp", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
        "sept", "oct", "nov", "dec", "approx", "est", "fig", "jr", "sr",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence: `text == article_text[start:end]`, trimmed of whitespace."""

    start: int
    end: int
    paragraph: int
    text: str


def _is_abbreviation(text: str, dot: int) -> bool:
    """Whether the "." at `dot` ends an abbreviation or initial, not a sentence."""
    if text[dot] != ".":
        return False
    # Fast path for a plain word before the dot (most sentence ends): C-speed
    # rfind instead of a regex tried at every offset of the window.
    space = text.rfind(" ", max(0, dot - 30), dot)
    if space != -1:
        token = text[space + 1 : dot]
        if token.isalpha():
            return token.lower() in _ABBREVIATIONS or (len(token) == 1 and token.isupper())
    match = _TOKEN_BEFORE.search(text, max(0, dot - 30), dot)
    if match is None:
        return False
    token = match.group(1)
    if token.lower() in _ABBREVIATIONS:
        return True
    if len(token) == 1 and token.isupper():
        return True
    return _INITIALISM.fullmatch(token) is not None


def _trimmed(text: str, start: int, end: int, paragraph: int) -> Sentence | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start == end:
        return None
    return Sentence(start, end, paragraph, text[start:end])


def split_sentences(text: str) -> list[Sentence]:
    """Split `text` into sentences; paragraphs are separated by a blank line.

    A single newline inside a paragraph also ends a sentence (headlines and
    datelines are often on their own line).
    """
    sentences: list[Sentence] = []
    bounds: list[tuple[int, int]] = []
    pos = 0
    for brk in _PARAGRAPH_BREAK.finditer(text):
        bounds.append((pos, brk.start()))
        pos = brk.end()
    bounds.append((pos, len(text)))
    for paragraph, (p_start, p_end) in enumerate(bounds):
        start = p_start
        for end_match in _SENTENCE_END.finditer(text, p_start, p_end):
            if _is_abbreviation(text, end_match.start()):
                continue
            sentence = _trimmed(text, start, end_match.end(), paragraph)
            if sentence is not None:
                sentences.append(sentence)
            start = end_match.end()
        sentence = _trimmed(text, start, p_end, paragraph)
        if sentence is not None:
            sentences.append(sentence)
    return sentences


class SentenceIndex:
    """Maps a character offset to the sentence that contains it."""

    def __init__(self, sentences: list[Sentence]) -> None:
        self._sentences = sentences
        self._starts = [s.start for s in sentences]

    def find(self, offset: int) -> int | None:
        """Index of the sentence containing `offset`, or None if between sentences."""
        i = bisect_right(self._starts, offset) - 1
        if i < 0 or offset >= self._sentences[i].end:
            return None
        return i
