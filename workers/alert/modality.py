"""Whether a cue reports something that happened now.

A cue is discarded when its clause is hypothetical ("if reinforcements come
... the Taliban cannot enter the city"), negated or denied ("did not enter",
"officials denied that ..."), in the future or only intended ("vowed to
take", "plans to"), or historical ("was taken by the Taliban in 2015"; a year
before the article's own year is the tell).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

Reason = Literal["question", "conditional", "modal", "negated", "denied", "historical"]

# Clause boundaries: a conditional or a negation does not reach past them.
# The one-letter lookaheads let the engine reject most positions at once.
_CLAUSE_BREAK = re.compile(
    r";|:\s|\s[\u2014\u2013]\s|\s--\s"
    r"|,\s*(?=[abtwABTW])(?=(?:and|but|while|whereas|although|though|who|which|as|when)\b)"
    r"|\s(?=[abwABW])(?=(?:but|while|whereas|although)\b)",
    re.IGNORECASE,
)
_RELATIVE_END = re.compile(r",\s*(?=[wW])(?:who|which|whose|where)\b[^,;]*(,)", re.IGNORECASE)
# The patterns below are matched against lower-cased text, hence no IGNORECASE.
_CONDITIONAL = re.compile(r"\b(?:if|unless|in\s+case)\b")
# Case-sensitive on purpose: "May" and "Will" are more often a month and a name.
_MODAL = re.compile(
    r"\b(?:(?:could|would|might|may|will|shall|can|cannot|should|must"
    r"|Could|Would|Might|Can|Cannot|Should|Must)(?:n[\u2019']t)?|(?:wo|ca|Wo|Ca)n[\u2019']t)\b"
)
# "to enter" is an intention or an attempt unless one of these precedes it.
_INFINITIVE = re.compile(
    r"\b(?P<head>[a-z]+)\s+to\s+(?:(?:not|never|yet|still|soon|also|eventually|now|be|have"
    r"|been|again|even|finally|quickly|fully)\s+)*$"
)
_ACHIEVED = frozenset({"managed", "began", "begun", "started", "continued", "on", "able",
                       "appeared", "appear", "appears", "seemed", "seem", "seems", "proceeded",
                       "went"})  # fmt: skip
_BE_ABLE = re.compile(r"\bbe\s+able\s+to\s+$")
_QUESTION_END = re.compile(r"\?[\"'\u201d\u2019)]*$")
_NEGATION = re.compile(
    r"(?:\b(?:not|never|no|nor|neither|without|failed|fail|fails|failing|unable)\b|n[\u2019']t\b)"
)
_DENIAL = re.compile(
    r"\b(?:denied|denies|deny|denying|rejected|rejects|dismissed|dismisses|refuted|refutes"
    r"|rumou?rs?|false\s+reports?|untrue"
    # Corrections and retractions: "wrongly said the Taliban had entered".
    r"|(?:wrongly|falsely|erroneously|incorrectly|mistakenly)\s+(?:said|says|reported|reports"
    r"|stated|claimed|suggested)|retract(?:ed|s|ing)?"
    r"|call(?:ed|s|ing)?\s+(?:the\s+|these\s+|such\s+)?(?:reports?|claims?|accounts?|allegations?))\b"
)
_YEAR = re.compile(r"(?:1[89]|20)\d\d(?!\d|,\d)")
_SINCE = re.compile(r"since\s+$")
_COUNTED = re.compile(
    r"\s+(?:fighters|troops|people|soldiers|militants|men|families|residents|civilians"
    r"|insurgents|police|members|government|security|forces|districts|villages|km|miles)\b"
)
_LEADING_YEAR = re.compile(
    r"^\W*(?:back\s+)?(?:in|by|during)\s+(?:(?:early|late|mid-?)\s*)?(?:[a-z]+\s+)?"
    r"(?P<year>1[89]\d\d|20\d\d)\b"
)
_PAST_MARKER = re.compile(
    r"\bin\s+the\s+past\b(?=\s*(?:[,.;\"\u201d]|$))|\bpreviously\b|\byears?\s+ago\b"
    r"|\blast\s+year\b|\bonce\s+before\b|\btwice\s+before\b|\bin\s+previous\s+years\b"
    r"|\bhistorically\b|\bdecades?\s+ago\b"
    r"|\banniversary\b"
)
# The cue dated by what follows it: "three years after the Taliban captured Kabul".
_YEARS_AFTER = re.compile(r"\b(?:\w+|\d+)\s+(?:years?|months?|decades?)\s+(?:after|since)\b")
# "until Marib is liberated", "before the Taliban reach the city": a time
# clause in the present tense looks ahead; "until the Taliban entered" happened.
_PENDING = re.compile(r"\b(?:until|till|before)\b(?!.*\b(?:until|till|before)\b)")
_PRESENT_BE = re.compile(r"\b(?:is|are|am|be|has|have)\b")
_PAST_IRREGULAR = frozenset({
    "took", "fell", "overran", "broke", "swept", "drove", "rode", "fought", "won", "beat", "made",
    "came", "was", "were", "had", "retook", "held", "laid", "bore", "fled", "withdrew", "hit",
    "struck", "stood", "ran", "got", "went", "spread", "burst", "crept", "snuck", "lost",
    "overtook", "threw", "cut", "shot", "led", "began", "slid", "stole",
})  # fmt: skip
_PREPOSITIONS = frozenset({
    "in", "inside", "into", "at", "near", "around", "outside", "on", "towards", "toward", "to",
    "through", "throughout", "across", "within", "close", "only", "just", "barely", "few",
})  # fmt: skip
# Someone told to act has not acted: "urging fighters to wait at the gates".
_URGED = re.compile(
    r"\b(?:urg(?:e|es|ed|ing)|order(?:s|ed|ing)?|told|tell(?:s|ing)?|instruct(?:s|ed|ing)?"
    r"|call(?:s|ed|ing)?\s+(?:on|upon)|ask(?:s|ed|ing)?|direct(?:s|ed|ing)?|encourag(?:e|es|ed|ing)"
    r"|appeal(?:s|ed|ing)?\s+to|want(?:s|ed)?|invit(?:e|es|ed|ing))\s+(?:[\w'-]+\s+){0,4}?"
    r"to\s+(?!be\b)[a-z]+\s+(?:(?!(?:that|said|says|as|after|when|while|and|but)\b)"
    r"[\w'-]+\s+){0,5}$"
)
# "aimed at capturing", "in a bid at seizing", "capable of taking".
_PURPOSE = re.compile(
    r"\b(?:aim(?:ed|ing|s)?|bid|attempts?|efforts?|plans?|planning|hopes?|hoping|intent"
    r"|intention|goal|objective|ambitions?|dreams?|bent|designs?|preparing|prepared|capable"
    r"|capability|chance|possibility|prospect|risk|danger|fears?|threats?|focus(?:ed)?)\s+"
    r"(?:at|of|on|for|upon)\s+$"
)
# An attack noun whose own verb looks ahead: "an assault on the city would begin soon".
_ATTACK_NOUNS = frozenset({
    "attack", "attacks", "assault", "assaults", "offensive", "push", "siege", "sieges",
    "blockade", "blockades", "raid", "incursion",
})  # fmt: skip
_AHEAD_AFTER = re.compile(
    r"\b(?:is|was|are|were)\s+(?:widely\s+)?(?:expected|planned|imminent|looming|feared|likely"
    r"|coming|about\s+to)\b|\b(?:imminent|looming|soon|to\s+(?:begin|start|come))\b"
)
_AHEAD_BEFORE = re.compile(
    r"\b(?:expected|planned|imminent|feared|possible|potential|looming|anticipated|likely"
    r"|future|threatened|impending|new\s+threat\s+of)\s+(?:[\w-]+\s+)?$"
    r"|\b(?:prepar\w*(?:\s+for)?|plan|plans|planned|planning|plott\w*|threat\w*|vow\w*"
    r"|promis\w*|warn\w*\s+of|mull\w*|consider\w*|readying)\s+(?:(?:an?|the|their|its|new"
    r"|fresh|major|final|full-scale|large-scale|another)\s+){0,3}$"
    # "the possibility of an RSF assault on El Obeid": what might come, named by its attacker.
    r"|\b(?:possibility|prospect|likelihood|risk|danger|spectre|specter|fears?|chance"
    r"|eventuality)\s+of\s+(?:(?:an?|the|another|new|fresh|renewed|major|final|full-scale"
    r"|large-scale)\s+){0,2}(?:[\w'-]+\s+){0,2}$"
)
# A report refuted later in the sentence: "reports that ... turned out to be false".
_REFUTED = re.compile(
    r"\b(?:false|untrue|baseless|unfounded|fake|fabricated|groundless|inaccurate|not\s+true"
    r"|(?:dismissed|denied|rejected)\s+(?:as|by))\b",
    re.IGNORECASE,
)
# A clause dated by the one before it: "..., when Iraqi forces retook the city",
# "..., and the army retook the city three years later".
_WHEN_CLAUSE = re.compile(r"^\W*when\b|\b(?:years?|months?|decades?)\s+later\b")
_NEGATION_WINDOW_WORDS = 5
_MODAL_WINDOW_WORDS = 4


def clause_bounds(text: str, start: int, end: int, pos: int) -> tuple[int, int]:
    """The clause of text[start:end] containing offset `pos`, as (start, end).

    A relative clause ends at its closing comma: in "Kunduz, which the Taliban
    held in 2015, fell on Sunday" the year does not belong to "fell".
    """
    breaks = [m.span() for m in _CLAUSE_BREAK.finditer(text, start, end)]
    breaks += [m.span(1) for m in _RELATIVE_END.finditer(text, start, end)]
    lo, hi = start, end
    for b_start, b_end in sorted(breaks):
        if b_end <= pos:
            lo = b_end
        elif b_start >= pos:
            hi = b_start
            break
    return lo, hi


def _last_words(text: str, count: int) -> str:
    words = text.split()
    return " ".join(words[-count:]) if words else ""


def discard_reason(
    text: str, sentence: tuple[int, int], cue: tuple[int, int], year: int
) -> Reason | None:
    """Why the cue at `cue` (offsets) in `sentence` (offsets) does not report a
    current event, or None if it does. `year`: the article's publication year."""
    s_start, s_end = sentence
    c_start, c_end = cue
    lo, hi = clause_bounds(text, s_start, s_end, c_start)
    clause = text[lo:hi].lower()
    before = text[lo:c_start]
    cue_word = text[c_start:c_end].split(None, 1)[0].lower() if c_end > c_start else ""
    # Cheapest and most decisive first; evaluated lazily.
    checks: tuple[tuple[Reason, Callable[[], object]], ...] = (
        ("question", lambda: _QUESTION_END.search(text, s_start, s_end)),
        ("conditional", lambda: _CONDITIONAL.search(clause)),
        (
            "modal",
            lambda: _is_modal(before, cue_word) or _is_ahead(before, cue_word, text[c_end:hi]),
        ),
        ("negated", lambda: _NEGATION.search(_last_words(before, _NEGATION_WINDOW_WORDS).lower())),
        (
            "denied",
            lambda: (
                _DENIAL.search(text[s_start:c_start].lower()) or _REFUTED.search(text, c_end, s_end)
            ),
        ),
        (
            "historical",
            lambda: (
                _is_historical(clause, text[s_start:s_end].lower(), year)
                or (_WHEN_CLAUSE.search(clause) and _past_year(text[s_start:lo].lower(), year))
                or _YEARS_AFTER.search(before.lower())
            ),
        ),
    )
    return next((reason for reason, applies in checks if applies()), None)


def _is_modal(before: str, cue_word: str = "") -> bool:
    if _MODAL.search(_last_words(before, _MODAL_WINDOW_WORDS)):
        return True
    tail = _last_words(before, 8).lower() + " "
    # "were able to take" happened; "be able to take" follows a modal or "to" and has not.
    if _BE_ABLE.search(tail):
        return True
    if cue_word in _PREPOSITIONS:  # "advanced to within 10 km of" is no infinitive
        return False
    infinitive = _INFINITIVE.search(tail)
    return infinitive is not None and infinitive.group("head") not in _ACHIEVED


def _is_ahead(before: str, cue_word: str, after: str) -> bool:
    """Whether the cue is urged, intended or still to come: "urging fighters to
    wait at the gates", "aimed at capturing", "until Marib is liberated", "an
    assault on the city would begin soon"."""
    tail = _last_words(before, 16).lower() + " "
    if _URGED.search(tail):
        return True
    if cue_word.endswith("ing") and _PURPOSE.search(tail):
        return True
    pending = _PENDING.search(tail)
    if pending is not None:
        if _PRESENT_BE.search(tail, pending.end()):
            return True
        past = cue_word.endswith(("ed", "ing")) or cue_word in _PAST_IRREGULAR
        if not past and cue_word not in _PREPOSITIONS:
            return True
    if cue_word in _ATTACK_NOUNS:
        ahead = _AHEAD_BEFORE.search(tail) or _MODAL.search(after)
        return bool(ahead or _AHEAD_AFTER.search(after.lower()))
    return False


def _past_year(text: str, year: int) -> bool:
    """A year before `year` in `text`, not "since 2016" nor "2000 fighters"."""
    for found in _YEAR.finditer(text):
        preceding = text[found.start() - 1] if found.start() else " "
        if preceding.isdigit() or preceding in ",.":
            continue  # part of a longer number
        if int(found.group()) >= year or _COUNTED.match(text, found.end()):
            continue
        if not _SINCE.search(text, max(0, found.start() - 8), found.start()):
            return True
    return False


def _is_historical(clause: str, sentence: str, year: int) -> bool:
    """A year before the article's in the clause (not "since 2016", not "2000
    fighters"), a leading "In 2015, ...", or words such as "years ago"."""
    if _past_year(clause, year):
        return True
    leading = _LEADING_YEAR.match(sentence)
    if leading is not None and int(leading.group("year")) < year:
        return True
    return _PAST_MARKER.search(clause) is not None
