"""Candidates: what a cue would report, for each capital it governs.

A cue's reading depends on its class: a passive ("Kunduz fell") reads its
subject, an active verb ("entered", "besieged") its object, a preposition
("fighting near Kunduz", "seen in the alleys of Kunduz") counts only with
fighting or presence in its clause. The kind comes from the verb (or
preposition) and the part of the city governed (`vocabulary.verb_kind`,
`vocabulary.prep_kind`). Who did it is decided later (`attribution`, `resets`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from workers.alert.attribution import Attribution
from workers.alert.cues import Cue
from workers.alert.modality import clause_bounds
from workers.alert.sentences import Sentence
from workers.alert.targets import Target, TargetFinder
from workers.alert.vocabulary import (
    CIVILIANS,
    COMBAT,
    GROUND_COMBAT,
    IN_PREPS,
    PRESENCE,
    STRIKE,
    STRIKE_BEFORE,
    TALKS,
    EventKind,
    prep_kind,
    verb_kind,
)

# Passive cue classes and the active verb whose table gives their kind.
PASSIVE_VERB = {
    "passive_capture": "capture",
    "passive_enter": "enter",
    "passive_threat": "approach",
    "passive_retake": "retake",
    "passive_repel": "repel",
    "passive_halt": "repel",
    "government_held": "government_held",
}
RESET_VERBS = frozenset(
    (
        "retake", "repel", "withdraw", "passive_retake", "passive_repel", "passive_halt",
        "passive_withdraw",
    )
)  # fmt: skip
_ATTACK_NOUNS = frozenset(("attack", "attacks", "assault", "assaults", "offensive", "push"))
_ASSAULTS = frozenset(("stormed", "storming", "storms", "storm"))
# "ISWAP fighters are in Maiduguri": a group said to be in a city is there.
_BE_BEFORE = re.compile(
    r"\s+(?:are|is|were|was)\s+(?:now\s+|already\s+|still\s+|reportedly\s+)?", re.IGNORECASE
)
_BE_TAIL = re.compile(
    r"\b(?:are|is|were|was)\s+(?:now\s+|already\s+|still\s+|reportedly\s+)?$", re.IGNORECASE
)
# "a village 5 km from Kunduz" locates the village; "fighters 5 km from Kunduz" threaten it.
_PLACE_BEFORE = re.compile(
    r"\b(?:village|villages|district|districts|town|towns|base|bases|camp|camps|airport|bridge"
    r"|road|highway|dam|area|areas|settlement|hamlet|market|checkpoint|border)\s*,?\s+(?:"
    r"(?:only|just|barely|about|some|a|located|lying|situated|roughly|around)\s+)*$",
    re.IGNORECASE,
)
_AGAINST_AFTER = re.compile(r"\s+against\b", re.IGNORECASE)
# "people displaced by the M23 offensive ... in camps around Goma": the
# fighting is why they left, not what happens where they are.
_CAUSE_BEFORE = re.compile(
    r"\b(?:displaced|uprooted|made\s+homeless|driven\s+from\s+their\s+homes)\s+by\s+"
    r"(?:the\s+|a\s+|an\s+)?(?:[\w'-]+\s+){0,3}$",
    re.IGNORECASE,
)
_DETERMINER_BEFORE = re.compile(r"\b(?:the|their|its|our|a|his|her)\s+$", re.IGNORECASE)
# "an assault on Kunduz ... was repulsed", "fighters who tried to enter Kunduz were repelled".
_ATTACK_BEFORE = re.compile(
    r"\b(?:(?:attacks?|assaults?|offensive|push|advance|raids?)\s+(?:on|against)"
    r"|(?:siege|blockade|encirclement)\s+(?:of|on|around)"
    r"|(?:tried|trying|attempted|attempting|sought)\s+to\s+(?:enter|take|seize|capture|storm"
    r"|overrun|reach))\s+$",
    re.IGNORECASE,
)
# "a commander who surrendered in Gardez", "a fighter arrested in Mopti": the
# place of one person's fate; "the sound of gunfire carried into the bazaar".
_NOT_MOVING_IN = re.compile(
    r"\b(?:surrendered|defected|arrested|detained|jailed|imprisoned|born|buried|sentenced"
    r"|convicted|hospitali[sz]ed|treated|lives|lived|resides|resided|settled|sheltering"
    r"|sheltered|carried|drifted|wafted)\s+$",
    re.IGNORECASE,
)
_ATTACK_TAIL = re.compile(
    r"\b(?:attacks?|assaults?|offensive|push|advance|raids?|incursions?)\s+$", re.IGNORECASE
)
# A place phrase names the whole city only loosely ("in Kunduz" may be its district).
_PREP_PENALTY = 0.1


@dataclass(frozen=True, slots=True)
class Candidate:
    """A cue's reading for one capital: the kind, the target, whether the
    clause reports fighting (so either side may be the group), whether the cue
    is passive, and the confidence penalty of the reading."""

    kind: EventKind
    target: Target
    combat: bool
    passive: bool
    penalty: float


class CandidateReader:
    """Reads cues into candidates within one article."""

    def __init__(self, text: str, finder: TargetFinder, attribution: Attribution) -> None:
        self._text = text
        self._finder = finder
        self._who = attribution

    def candidates(
        self, i: int, sentence: Sentence, cue: Cue, *, fighting: bool = False
    ) -> list[Candidate]:
        """What the cue would report, for each capital it governs; `fighting`: the
        clause reports a repulse, so "near Marib" in it places the fight."""
        verb = cue.verb
        if verb == "prep":  # nine cues in ten: the shortest path
            targets = self._finder.object_of(i, cue.end)
            return self._prep_candidates(sentence, cue, targets, fighting=fighting)
        if verb in PASSIVE_VERB:
            passive = PASSIVE_VERB[verb]
            if verb == "passive_halt":
                subjects = self._attacked(i, sentence, cue)
            else:
                subjects = self._finder.subject_of(i, cue.start)
            if not subjects and verb == "passive_repel":
                subjects = self._attacked(i, sentence, cue)
            return [
                Candidate(kind, target, False, True, 0.0)
                for target in subjects
                if (kind := verb_kind(passive, target.part)) is not None
            ]
        # "returned to Goma": the place is the destination, not a reference point.
        origin = verb in ("near", "return") or (
            verb in RESET_VERBS and cue.text.lower().endswith(("from", "of"))
        )
        if verb in ("near", "approach") and self._not_an_advance(sentence, cue):
            return []
        targets = self._finder.object_of(i, cue.end, origin=origin, indefinite=verb == "flag")
        if verb == "flag" and not targets:
            context = self._finder.in_context(i, cue.start)
            targets = [] if context is None else [context]
        table = "repel" if verb in ("withdraw", "passive_withdraw") else verb
        table = "retake" if verb == "return" else table
        # Storming the outskirts is an attack on them, not an entry.
        assault = cue.text.lower() in _ASSAULTS
        found = []
        for t in targets:
            kind = verb_kind("capture" if assault and t.part == "fringe" else table, t.part)
            if kind is not None:
                found.append(Candidate(kind, t, False, False, 0.0))
        return found

    def _prep_candidates(
        self, sentence: Sentence, cue: Cue, targets: list[Target], *, fighting: bool
    ) -> list[Candidate]:
        """ "fighting near Kunduz", "seen in the alleys of Kunduz": a place phrase
        is an incursion only with fighting or presence in its clause."""
        if not targets:
            return []
        text = self._text
        if _NOT_MOVING_IN.search(text, max(sentence.start, cue.start - 16), cue.start):
            return []
        lo, hi = clause_bounds(text, sentence.start, sentence.end, cue.start)
        combat = fighting or self._combat(lo, hi)
        presence = self._present(sentence, lo, cue.start)
        if not presence and _BE_TAIL.search(text, max(lo, cue.start - 24), cue.start):
            presence = any(
                _BE_BEFORE.fullmatch(text, a.end, cue.start) and not a.opponent
                for a in self._who.of_sentence(sentence)
                if lo <= a.end <= cue.start
            )
        found: list[Candidate] = []
        for target in targets:
            kind = prep_kind(cue.text, target.part, combat=combat, presence=presence)
            if kind is not None:
                penalty = _PREP_PENALTY if target.part in ("whole", "around") else 0.0
                found.append(Candidate(kind, target, combat and not presence, False, penalty))
        if not found or TALKS.search(text, lo, hi):
            return []
        # A bomb or a shell landing in a city places no one inside it.
        inward = cue.text.lower() in IN_PREPS
        hit = [
            c
            for c in found
            if c.target.part in ("inside", "seat", "edge") or (inward and c.target.part == "whole")
        ]
        if (
            hit
            and not presence
            and STRIKE.search(text, lo, hi) is not None
            and GROUND_COMBAT.search(text, lo, hi) is None
        ):
            return [c for c in found if c not in hit]
        return found

    def _present(self, sentence: Sentence, lo: int, pos: int) -> bool:
        """A presence word ("gathered", "seen") before `pos` in the clause whose
        subject is a group: not "protesters gathered", nor "the scars are visible"."""
        found = PRESENCE.search(self._text, lo, pos)
        if found is None:
            return False
        agents = [a for a in self._who.of_sentence(sentence) if lo <= a.start < found.start()]
        if not agents:
            return False
        return CIVILIANS.search(self._text, agents[-1].end, found.start()) is None

    def _not_an_advance(self, sentence: Sentence, cue: Cue) -> bool:
        """A rocket attack on a city, or a village a few kilometres from it."""
        lo = max(sentence.start, cue.start - 60)
        if cue.verb == "near":
            return _PLACE_BEFORE.search(self._text, lo, cue.start) is not None
        if cue.verb == "approach" and cue.text.split(None, 1)[0].lower() in _ATTACK_NOUNS:
            return STRIKE_BEFORE.search(self._text, lo, cue.start) is not None
        return False

    def _combat(self, lo: int, hi: int) -> bool:
        """Fighting words in text[lo:hi], not counting a campaign ("the fight
        against") nor the cause of a displacement ("displaced by the offensive")."""
        text = self._text
        for found in COMBAT.finditer(text, lo, hi):
            if _AGAINST_AFTER.match(text, found.end(), hi) and _DETERMINER_BEFORE.search(
                text, lo, found.start()
            ):
                continue
            if _CAUSE_BEFORE.search(text, max(lo, found.start() - 60), found.start()):
                continue
            return True
        return False

    def _attacked(self, i: int, sentence: Sentence, cue: Cue) -> list[Target]:
        """The capital of "an assault on Kunduz by the Taliban was repulsed", or of
        "Qala-i-Naw ... after a Taliban assault was repelled" (the city in context)."""
        for mention in reversed(self._finder.mentions(i)):
            if mention.place is None or mention.end > cue.start or mention.exclusion:
                continue
            if _ATTACK_BEFORE.search(self._text, sentence.start, mention.start):
                return [Target(mention.place, "whole", "explicit")]
        if _ATTACK_TAIL.search(self._text, max(sentence.start, cue.start - 20), cue.start):
            # Only a capital of this sentence: one named earlier may not be the one attacked.
            context = self._finder.in_context(i, cue.start)
            return [] if context is None or context.resolution == "previous" else [context]
        return []
