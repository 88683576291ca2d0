"""Cues: the verbs and prepositions that may report an incursion.

A cue is a verb or preposition whose object (or, for passives, subject) may
be a provincial capital: "entered", "fell", "took control of", "near". Cues
are found by looking up each word of a sentence in a lexicon keyed by first
word, so only the sentence's own words are tried, never every alternative at
every offset (a single alternation regex was several times slower).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_ADVERB = (
    r"(?:(?:also|now|then|briefly|quickly|reportedly|effectively|finally|largely|fully"
    r"|completely)\s+)?"
)
_CAPTURED = r"(?:captured|seized|overrun|taken(?:\s+over)?|conquered|lost)"
_STORMED = r"(?:stormed|infiltrated|breached|penetrated)"
_BESIEGED = (
    r"(?:besieged|surrounded|encircled|attacked|threatened|shelled|under\s+siege"
    r"|under\s+(?:heavy\s+)?(?:attack|fire|threat|pressure))"
)
_UNDER_CONTROL = r"\s+under\s+(?:the\s+)?(?:full\s+|complete\s+|total\s+)?(?:[\w-]+\s+)?control"
_BE = "was were is are been being"
_HAVE = "has have had"

_GOVERNMENT = (
    r"(?:the\s+)?(?:full\s+|firm\s+)?(?:afghan\s+|iraqi\s+|malian\s+|somali\s+|nigerian\s+"
    r"|syrian\s+|yemeni\s+|congolese\s+|sudanese\s+|national\s+)?"
    r"(?:government|state|army|military|federal|official|security\s+forces['\u2019]?)"
)
_RETAKEN = r"(?:retaken|recaptured|reclaimed|liberated|won\s+back|taken\s+back)"
_REPELLED = (
    r"(?:repelled|repulsed|thwarted|foiled|beaten\s+back|pushed\s+back|fought\s+off"
    r"|fended\s+off|cleared)"
)
# What a repelled attack is called: "repelled a Taliban attack on Kunduz".
_ATTACK_ON = (
    r"\s+(?:off\s+|back\s+)?(?:(?:an?|the|their|its|another)\s+)?(?:[\w'-]+\s+){0,3}?"
    r"(?:attacks?|assaults?|offensive|push|advance|raids?|incursions?|attempts?\s+to\s+"
    r"(?:enter|take|seize|capture|storm|overrun))\s+(?:on|against|towards|into|in)"
)
# Someone pushed out of a place: "drove the militants out of Kunduz".
_OUT_OF = (
    r"\s+(?:(?:the|them|their|its|all|remaining)\s+)?(?:[\w'-]+\s+){0,3}?(?:back\s+)?"
    r"(?:out\s+of|back\s+from|away\s+from|from)"
)

# The cue lexicon: (verb class, first words, what must follow the first word).
# Cues are found by looking up each word of a sentence here, so only
# sentences' own words are tried, never every alternative at every offset.
# For one first word, earlier rows win ("was captured" before "was in control").
_LEXICON: list[tuple[str, str, str]] = [
    # Control returning to the government, or an attack pushed back.
    ("passive_retake", _BE, rf"\s+{_ADVERB}{_RETAKEN}"),
    ("passive_retake", _HAVE, rf"\s+been\s+{_ADVERB}{_RETAKEN}"),
    (
        "passive_retake",
        "is was are were came comes come returned returns returning",
        rf"\s+(?:now\s+)?(?:back|returned)\s+(?:in|under|to)\s+{_GOVERNMENT}"
        r"\s+(?:control|hands)",
    ),
    ("passive_retake", "returned returns returning", rf"\s+to\s+{_GOVERNMENT}\s+control"),
    # "remains under government control" says nothing happened.
    (
        "government_held",
        "is was are were remains remained remain",
        rf"\s+(?:still\s+|now\s+|firmly\s+)?(?:in|under)\s+{_GOVERNMENT}\s+(?:control|hands)",
    ),
    (
        "passive_withdraw",
        _BE + " " + _HAVE,
        r"\s+(?:been\s+)?(?:driven|pushed|forced|chased|flushed|beaten|expelled|ousted|evicted"
        r"|routed)\s+(?:back\s+)?(?:out\s+of|from|away\s+from)",
    ),
    ("passive_repel", _BE, rf"\s+{_ADVERB}{_REPELLED}"),
    ("passive_repel", _HAVE, rf"\s+been\s+{_ADVERB}{_REPELLED}"),
    (
        "retake",
        "regained regain regains regaining retook retake retakes retaking retaken",
        r"\s+(?:full\s+|complete\s+)?control\s+(?:of|over)",
    ),
    (
        "retake",
        "took take takes taking won win wins winning",
        r"\s+back(?:\s+control\s+(?:of|over))?",
    ),
    ("retake", "wrested wrest wresting", r"\s+back(?:\s+control\s+(?:of|over))?"),
    (
        "retake",
        "retook retake retakes retaking retaken recaptured recapture recaptures recapturing"
        " reclaimed reclaim reclaims reclaiming liberated liberate liberates liberating regained"
        " regain regains regaining",
        "",
    ),
    (
        "repel",
        "repelled repel repels repelling repulsed repulse repulses repulsing thwarted thwart foiled"
        " foil fought beat beating fended fending halted halt stopped stop",
        _ATTACK_ON,
    ),
    (
        "repel",
        "drove drive drives driving pushed push pushes pushing forced forcing chased"
        " chase chasing flushed flush flushing expelled expel expelling ousted oust ousting evicted"
        " evict evicting routed rout repelled repulsed",
        _OUT_OF,
    ),
    ("repel", "cleared clear clears clearing", ""),
    (
        "withdraw",
        "withdrew withdraw withdraws withdrawing retreated retreat retreats retreating pulled pull"
        " pulls pulling fled flee flees fleeing",
        r"\s+(?:back\s+|out\s+|hastily\s+)?(?:from|out\s+of)",
    ),
    ("withdraw", "fled flee flees fleeing abandoned abandon abandons abandoning", ""),
    ("passive_capture", _BE, rf"\s+{_ADVERB}{_CAPTURED}"),
    ("passive_capture", _HAVE, rf"\s+been\s+{_ADVERB}{_CAPTURED}|\s+{_ADVERB}fallen"),
    ("passive_capture", "came come comes is was are were fell", _UNDER_CONTROL),
    ("passive_capture", _HAVE, rf"\s+come{_UNDER_CONTROL}"),
    ("passive_capture", _BE, rf"\s+{_ADVERB}in\s+(?:the\s+)?(?:[\w-]+\s+)?hands"),
    ("passive_capture", "fell falls", ""),
    ("passive_enter", "was were", rf"\s+{_STORMED}"),
    ("passive_enter", _HAVE, rf"\s+been\s+{_STORMED}"),
    ("passive_threat", _BE, rf"\s+{_ADVERB}{_BESIEGED}"),
    ("passive_threat", _HAVE, rf"\s+been\s+{_ADVERB}{_BESIEGED}"),
    (
        "passive_threat",
        "came come comes coming",
        r"\s+under\s+(?:heavy\s+|sustained\s+|renewed\s+)?(?:[\w-]+\s+)?"
        r"(?:attack|fire|siege|assault|pressure)",
    ),
    (
        "capture",
        "took take takes taking taken seized seize seizes seizing gained gain gaining assumed"
        " wrested wrest",
        r"\s+(?:full\s+|complete\s+|total\s+|effective\s+)?control\s+(?:of|over)",
    ),
    ("capture", "are is were was now", r"\s+in\s+(?:full\s+|complete\s+)?control\s+of"),
    ("capture", "now", r"\s+(?:hold|holds|control|controls)"),
    ("capture", "took take takes taking taken", r"\s+over"),
    (
        "capture",
        "captured capture captures capturing seized seize seizes seizing overran overrun"
        " overruns overrunning took take takes taking taken conquered conquer conquers"
        " conquering",
        "",
    ),
    (
        "enter",
        "stormed storming storms broke break breaks breaking burst bursts bursting pushed push"
        " pushes pushing moved move moves moving advanced advancing swept sweep sweeping rolled"
        " rolling poured pouring streamed streaming marched marching rode drove entry incursion"
        " incursions slipped slipping crept creeping sneaked sneaking snuck",
        r"\s+into",
    ),
    ("enter", "made", r"\s+(?:their|its)\s+way\s+into"),
    (
        "enter",
        "dispersed dispersing disperse spread spreading",
        r"\s+(?:throughout|through|across|into|in)",
    ),
    ("enter", "fanned fanning", r"\s+out\s+(?:throughout|through|across|into|in)"),
    (
        "enter",
        "entered enter enters entering stormed storming infiltrated infiltrating infiltrate"
        " penetrated penetrating patrolled patrolling patrols roamed roaming",
        "",
    ),
    (
        "approach",
        "advanced advancing advance advances pushed pushing moved moving marched marching closed"
        " closing converged converging bore bearing",
        r"\s+(?:in\s+)?(?:on|towards|toward|upon)",
    ),
    ("approach", "laid lay laying lays", r"\s+siege\s+to"),
    # Nouns: "an attack on Kunduz"; an attack *in* a city (a bombing) is no incursion.
    ("approach", "attack attacks assault assaults offensive push", r"\s+(?:on|against|towards)"),
    (
        "approach",
        "besieged besieging besiege besieges encircled encircling encircle surrounded surrounding"
        " surround attacked attacking attack attacks assaulted assaulting threatening threatened"
        " threaten threatens shelled shelling pounded pounding",
        "",
    ),
    ("reach", "reached reaching reach reaches", ""),
    ("reach", "arrived arriving arrive arrives", r"\s+(?:at|in)"),
    (
        "flag",
        "raised raising raise hoisted hoisting hoist planted planting",
        r"\s+(?:their|its|the|a|an)\s+(?:[\w-]+\s+){0,2}?flags?\s+(?:over|above|on|atop|at|in"
        r"|outside)",
    ),
    (
        "flag",
        "flag flags",
        r"\s+(?:now\s+|was\s+|were\s+|is\s+|has\s+been\s+)?(?:flies|flew|flying|fluttered"
        r"|fluttering|raised|hoisted)\s+(?:over|above|atop|from|on)",
    ),
    (
        "prep",
        "inside into in throughout through across within at near around outside on towards"
        " toward to",
        "",
    ),
    ("prep", "close", r"\s+to"),
]


@dataclass(frozen=True, slots=True)
class Cue:
    """One cue in the text: offsets, verb class ("capture", "passive_enter",
    "prep" ...) and the words as written."""

    start: int
    end: int
    verb: str
    text: str


def _lexicon() -> dict[str, list[tuple[str, re.Pattern[str] | None]]]:
    table: dict[str, list[tuple[str, re.Pattern[str] | None]]] = {}
    for verb, words, rest in _LEXICON:
        follow = re.compile(rf"(?:{rest})\b", re.IGNORECASE) if rest else None
        for word in words.split():
            table.setdefault(word, []).append((verb, follow))
    return table


_BY_FIRST_WORD = _lexicon()
_WORD = re.compile(r"[A-Za-z]+")


def find_cues(text: str, start: int, end: int) -> Iterator[Cue]:
    """The cues in text[start:end], left to right, not overlapping."""
    resume = start
    for word in _WORD.finditer(text, start, end):
        if word.start() < resume:
            continue
        forms = _BY_FIRST_WORD.get(word.group().lower())
        if forms is None:
            continue
        for verb, follow in forms:
            if follow is None:
                cue_end = word.end()
            else:
                rest = follow.match(text, word.end(), end)
                if rest is None:
                    continue
                cue_end = rest.end()
            yield Cue(word.start(), cue_end, verb, text[word.start() : cue_end])
            resume = cue_end
            break
