"""Which capital a cue is about: the object or subject it governs, and references.

A cue's object is read word by word ("entered [the northern city of] Kunduz",
"seized [the city's entrance]"); a passive cue's subject is the capital just
before it ("Kunduz fell"). References ("the city") resolve to the nearest
usable capital in the sentence, else in earlier sentences of the paragraph.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ingest.core.models import Place
from workers.alert.mentions import Mention, sentence_mentions
from workers.alert.sentences import Sentence, SentenceIndex
from workers.alert.vocabulary import (
    FILLER,
    INSIDE,
    LANDMARK,
    NOT_TARGET_NOUNS,
    PART_AHEAD,
    SEAT,
    PartClass,
    part_of,
)

Resolution = Literal["explicit", "reference", "previous"]

_NP_TOKEN = re.compile(r"\s*(?:(?P<word>[A-Za-z][\w\u2019'-]*)|(?P<punct>\S))")
_POSSESSIVE = re.compile(r"['\u2019]s?(?=\s)")
_SUBJECT_GAP = re.compile(
    r"(?:\s+(?:city|town))?(?:\s*,[^,;]{1,80},)?"
    r"(?:\s+(?:itself|also|finally|briefly|quickly|now|then|almost|nearly|effectively"
    r"|largely|reportedly|again|eventually|both|all))*\s*",
    re.IGNORECASE,
)
# "Kunduz and Taloqan", "Kunduz, Taloqan and Maimana"
_COORDINATION = re.compile(r"(?:\s+(?:city|town))?(?:\s*,\s*(?:and\s+)?|\s+and\s+)(?:the\s+)?")
_APPOSITION_END = re.compile(r"[^,;]{0,40},\s*")
_PART_BEFORE = re.compile(r"\b([a-z]+)\s+of\s+(?:the\s+)?$", re.IGNORECASE)
_MAX_NP_WORDS = 8
_MAX_PART_WORDS = 5
# Words that can begin a SEAT or LANDMARK phrase.
_LANDMARK_FIRST = frozenset((
    "the", "main", "central", "provincial", "city", "city's", "city\u2019s", "police",
    "intelligence", "prison", "jail", "hospital", "university", "stadium", "bazaar", "market",
    "governor", "governor's", "governor\u2019s", "governors", "governors'", "government",
))  # fmt: skip
# "central Aden", "downtown Kunduz": the middle of the city named next.
_CENTRAL = frozenset(("central", "downtown"))


@dataclass(frozen=True, slots=True)
class Target:
    """The capital a cue applies to, which part of it, and how it was found."""

    place: Place
    part: PartClass
    resolution: Resolution


class TargetFinder:
    """Finds the capital each cue governs, within one article.

    Created per article; mentions are computed lazily per sentence, so
    sentences without cues cost nothing.
    """

    def __init__(self, text: str, sentences: list[Sentence], capitals: Sequence[Place]) -> None:
        self._text = text
        self._sentences = sentences
        self._by_sentence: dict[int, list[Place]] = {}
        index = SentenceIndex(sentences)
        seen: set[int] = set()
        for place in sorted(capitals, key=lambda p: p.start):
            i = index.find(place.start)
            if i is None or place.start in seen:
                continue
            seen.add(place.start)
            self._by_sentence.setdefault(i, []).append(place)
        self._mentions: dict[int, list[Mention]] = {}
        self._mention_at: dict[int, dict[int, Mention]] = {}

    def has_capital_context(self, i: int) -> bool:
        """Whether sentence i or an earlier sentence of its paragraph names a capital."""
        paragraph = self._sentences[i].paragraph
        j = i
        while j >= 0 and self._sentences[j].paragraph == paragraph:
            if j in self._by_sentence:
                return True
            j -= 1
        return False

    def mentions(self, i: int) -> list[Mention]:
        """Capital mentions and reference phrases of sentence i, in text order."""
        cached = self._mentions.get(i)
        if cached is None:
            cached = sentence_mentions(self._text, self._sentences[i], self._by_sentence.get(i, ()))
            self._mentions[i] = cached
        return cached

    def resolve(self, i: int, pos: int) -> tuple[Place, bool] | None:
        """The capital a reference at `pos` in sentence i stands for.

        The nearest usable capital before `pos` in the same sentence, else the
        first after it, else one whose officials are quoted, else the last
        capital named in an earlier sentence of the same paragraph. The flag
        says whether it came from an earlier sentence.
        """
        named = [(m, m.place) for m in self.mentions(i) if m.place is not None]
        before = [p for m, p in named if m.exclusion is None and m.end <= pos]
        if before:
            return before[-1], False
        # "Ghazni's governor surrendered the city": the city whose officials act.
        quoted = [p for m, p in named if m.exclusion == "attribution" and m.end <= pos]
        if quoted:
            return quoted[-1], False
        after = [p for m, p in named if m.exclusion is None and m.start >= pos]
        if after:
            return after[0], False
        quoted = [p for m, p in named if m.exclusion == "attribution"]
        if quoted:
            return quoted[0], False
        paragraph = self._sentences[i].paragraph
        j = i - 1
        while j >= 0 and self._sentences[j].paragraph == paragraph:
            earlier = [
                m.place
                for m in self.mentions(j)
                if m.place is not None and m.exclusion in (None, "attribution")
            ]
            if earlier:
                return earlier[-1], True
            j -= 1
        return None

    def _target(
        self, i: int, mention: Mention, part: PartClass, *, origin: bool = False
    ) -> Target | None:
        """`origin`: the cue itself says "from" ("withdrew from"), so a place
        marked as a reference point by that "from" is the target after all."""
        if mention.exclusion is not None and not (
            origin and mention.exclusion == "reference-point"
        ):
            return None
        if mention.place is not None:
            return Target(mention.place, part, "explicit")
        resolved = self.resolve(i, mention.start)
        if resolved is None:
            return None
        place, previous = resolved
        return Target(place, part, "previous" if previous else "reference")

    def _part_after(self, mention: Mention, limit: int) -> PartClass | None:
        """The part named right after a mention ("the city's entrance"), or None
        when the mention only modifies another noun ("Kunduz's council")."""
        text = self._text
        pos = mention.end
        possessive = _POSSESSIVE.match(text, pos, limit)
        is_its = mention.place is None and text[mention.start : mention.end].lower() == "its"
        if possessive is not None:
            pos = possessive.end()
        if possessive is not None or is_its:
            skip = pos
            while skip < limit and text[skip].isspace():
                skip += 1
            if SEAT.match(text, skip, limit):
                return "seat"
            if LANDMARK.match(text, skip, limit):
                return "inside"
        for n, token in enumerate(_NP_TOKEN.finditer(text, pos, limit)):
            word = token.group("word")
            if word is None or n >= _MAX_PART_WORDS:
                break
            lower = word.lower()
            part = part_of(lower)
            if part is not None:
                return part
            if possessive is not None or is_its:
                # "Kunduz's Sar-e Pul quarter", "its cattle market"
                if lower not in NOT_TARGET_NOUNS:
                    continue
                return None
            if lower in NOT_TARGET_NOUNS:
                return None
            break
        return None if possessive is not None or is_its else "whole"

    def _mentions_by_start(self, i: int) -> dict[int, Mention]:
        found = self._mention_at.get(i)
        if found is None:
            found = self._mention_at[i] = {m.start: m for m in self.mentions(i)}
        return found

    def object_of(
        self, i: int, pos: int, *, origin: bool = False, indefinite: bool = False
    ) -> list[Target]:
        """The capitals governed by a cue ending at `pos`: "entered [the city of]
        Kunduz", "captured Kunduz and Taloqan", or "moved into the periphery" of
        the capital in context. Empty when the object is something else.
        `indefinite`: "a square" is a part of the city in context too."""
        sentence = self._sentences[i]
        mentions = self._mentions_by_start(i)
        part: PartClass = "whole"
        seen_part = strong = False
        first_word: str | None = None
        words = names = 0
        cursor = pos
        while cursor < sentence.end and words <= _MAX_NP_WORDS:
            token = _NP_TOKEN.match(self._text, cursor, sentence.end)
            if token is None:
                break
            start = token.start("word") if token.group("word") else token.start("punct")
            mention = mentions.get(start)
            if mention is not None:
                return self._coordinated(i, mention, part, origin=origin)
            word = token.group("word")
            if word is None:
                break
            lower = word.lower()
            first_word = first_word or lower
            words += 1
            landmark = self._landmark(lower, start, sentence.end)
            if landmark is not None:
                part, cursor = landmark
                seen_part = strong = True
                continue
            named = part_of(lower)
            if named is not None:
                part = named if part == "whole" or named in ("edge", "fringe") else part
                seen_part = True
                strong = strong or lower in INSIDE or named in ("edge", "fringe")
            elif lower in _CENTRAL and part == "whole" and token.end() + 1 in mentions:
                part = "inside"
            elif word[0].isupper() and not seen_part and names < 3:
                names += 1  # "the Albu Faraj neighbourhood of Ramadi": only with a part after
            elif not (
                lower in FILLER
                or (lower in ("in", "to") and seen_part)
                or (
                    words == 2
                    and first_word == "the"
                    and self._part_next(token.end(), sentence.end)
                )
            ):
                break
            cursor = token.end()
        if names and not seen_part:
            return []
        if indefinite and first_word in ("a", "an"):
            first_word = "the"  # "raised their flag over a main square"
        implicit = self._implicit(i, pos, part, strong, first_word)
        return [] if implicit is None else [implicit]

    def _part_next(self, pos: int, end: int) -> bool:
        """Whether the word after `pos` names a part of a city: "the port
        [neighbourhoods] of Mopti", one word describing the part."""
        return PART_AHEAD.match(self._text, pos, end) is not None

    def _landmark(self, lower: str, start: int, end: int) -> tuple[PartClass, int] | None:
        """("seat" or "inside", end) for "the governor's office", "the main bazaar"."""
        if lower not in _LANDMARK_FIRST:  # spares two regexes for most words
            return None
        seat = SEAT.match(self._text, start, end)
        if seat is not None:
            return "seat", seat.end()
        landmark = LANDMARK.match(self._text, start, end)
        return None if landmark is None else ("inside", landmark.end())

    def _coordinated(
        self, i: int, first: Mention, part: PartClass, *, origin: bool = False
    ) -> list[Target]:
        """Targets for `first` and any capitals coordinated with it."""
        sentence = self._sentences[i]
        mentions = self._mentions_by_start(i)
        targets: list[Target] = []
        mention: Mention | None = first
        while mention is not None:
            after = self._part_after(mention, sentence.end)
            if after is None:
                break
            target = self._target(i, mention, part if part != "whole" else after, origin=origin)
            if target is not None:
                targets.append(target)
            link = _COORDINATION.match(self._text, mention.end, sentence.end)
            mention = None if link is None else mentions.get(link.end())
            if mention is not None and mention.place is None:
                mention = None
        return targets

    def _implicit(
        self, i: int, pos: int, part: PartClass, strong: bool, first_word: str | None
    ) -> Target | None:
        """A city part with no city named means the city in context ("moving into
        the periphery"); quantities ("parts") and "districts" never do."""
        if not strong or first_word != "the" or part == "around":
            return None
        resolved = self.resolve(i, pos)
        if resolved is None:
            return None
        place, previous = resolved
        return Target(place, part, "previous" if previous else "reference")

    def subject_of(self, i: int, cue_start: int) -> list[Target]:
        """The capitals that are the subject of a passive cue ("Kunduz fell",
        "Kunduz and Taloqan fell", "the city was taken"); empty if none."""
        sentence = self._sentences[i]
        mentions = self.mentions(i)
        for n in range(len(mentions) - 1, -1, -1):
            mention = mentions[n]
            if mention.end > cue_start:
                continue
            gap = _SUBJECT_GAP.fullmatch(self._text, mention.end, cue_start)
            if gap is None and (
                mention.place is None
                or mention.exclusion is not None
                or _APPOSITION_END.fullmatch(self._text, mention.end, cue_start)
            ):
                # Inside an apposition: "Bukavu, the capital of South Kivu, fell",
                # "Maidan Shahr, an hour's drive from Kabul, was captured".
                continue
            if gap is None:
                after = self._part_after(mention, sentence.end)
                possessive = _POSSESSIVE.match(self._text, mention.end, cue_start)
                if after in (None, "whole") or possessive is None:
                    return []
                target = self._target(i, mention, after)
                return [] if target is None else [target]
            return self._subjects(i, mentions[: n + 1], sentence)
        return []

    def _subjects(self, i: int, mentions: list[Mention], sentence: Sentence) -> list[Target]:
        """The last of `mentions` and those coordinated before it ("Kunduz and Taloqan")."""
        chain = [mentions[-1]]
        for earlier in reversed(mentions[:-1]):
            link = _COORDINATION.match(self._text, earlier.end, chain[-1].start)
            if earlier.place is None or link is None or link.end() != chain[-1].start:
                break
            chain.append(earlier)
        targets: list[Target] = []
        for mention in reversed(chain):
            before = _PART_BEFORE.search(
                self._text, max(sentence.start, mention.start - 40), mention.start
            )
            part: PartClass = "whole"
            if before is not None:
                part = part_of(before.group(1).lower()) or "whole"
            target = self._target(i, mention, part)
            if target is not None:
                targets.append(target)
        return targets

    def in_context(self, i: int, pos: int) -> Target | None:
        """The capital a cue without an object applies to ("raised their flag over the
        governor's office")."""
        resolved = self.resolve(i, pos)
        if resolved is None:
            return None
        place, previous = resolved
        return Target(place, "whole", "previous" if previous else "reference")
