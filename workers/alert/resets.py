"""Resets: control changing hands back ("the army retook Kunduz", "were driven out").

A reset cue names who lost the city, and sometimes who won it: the state
retaking or repelling keeps the cue's kind (`retaken`, `repelled`), an armed
group "recapturing" a city or "driving troops out of" it has captured it,
state forces withdrawing is no reset at all. A repulse cue ("beat back",
"fought off") also turns the attempt that follows it in its clause into a
repulse ("forced back fighters who had tried to storm Huddur").
"""

from __future__ import annotations

import re

from workers.alert.actors import AgentMention
from workers.alert.attribution import UNNAMED_PENALTY, Attribution, by_before, clause_start
from workers.alert.cues import Cue
from workers.alert.modality import clause_bounds, discard_reason
from workers.alert.sentences import Sentence
from workers.alert.vocabulary import CIVILIANS, EventKind, PartClass, verb_kind

# A retaking by the state that names no group: the group is unknown, the news is not.
UNNAMED_GROUP = "unnamed armed group"
_STATE_IN_CUE = re.compile(r"\b(?:government|state|army|military|forces|troops)\b", re.I)
_OUT_OF_TAIL = re.compile(
    r"\s*(?:back\s+)?(?:out\s+of|back\s+from|away\s+from|from)$", re.IGNORECASE
)
_THEM = re.compile(r"\bthem\b", re.IGNORECASE)
# The group held the city, or left it: what makes the state's return a retaking.
_HELD = re.compile(
    r"\b(?:held|had\s+run|seized|captured|occupied|overran|controlled|withdrew|withdrawn"
    r"|pulled\s+out|retreated|fled|abandoned|driven\s+out|drove\s+out|driving\s+out)\b",
    re.IGNORECASE,
)

_FROM_BEFORE = re.compile(r"\bfrom\s+(?:the\s+)?$", re.IGNORECASE)
_WON_BACK = re.compile(r"\b(?:retook|recaptured|regained|reclaimed|liberated|cleared)\b", re.I)

Decision = tuple[EventKind, str, float]
"""(kind, armed group, confidence penalty)."""


class ResetReader:
    """Decides reset cues within one article, with the article's `Attribution`."""

    def __init__(self, text: str, year: int, attribution: Attribution) -> None:
        self._text = text
        self._year = year
        self._who = attribution

    def repulse_clause(self, sentence: Sentence, cue: Cue) -> tuple[int, int] | None:
        """The clause in which "beat back", "fought off" turn what follows into a
        repulse, when the state is the one beating back and the cue happened."""
        span = (sentence.start, sentence.end)
        if discard_reason(self._text, span, (cue.start, cue.end), self._year) is not None:
            return None
        agents = self._who.of_sentence(sentence)
        lo, hi = clause_bounds(self._text, sentence.start, sentence.end, cue.start)
        before = [a for a in agents if lo <= a.start < cue.start]
        after = [a for a in agents if cue.start <= a.start < hi]
        if before and not before[-1].opponent:
            return None
        if not before and (not after or after[0].opponent):
            return None
        return lo, hi

    def decide(
        self, sentence: Sentence, cue: Cue, kind: EventKind, part: PartClass
    ) -> Decision | None:
        """(kind, armed group, penalty) for a cue of control changing hands, whose
        candidate reading is `kind` of `part` of the capital."""
        agents = self._who.of_sentence(sentence)
        passive = cue.verb.startswith("passive_")
        # The agent nearest before a reset cue is its subject: "Kunduz fell to the
        # Taliban after government forces withdrew".
        start = clause_start(self._text, sentence, cue.start)
        before = [a for a in agents if start <= a.start < cue.start]
        subject = before[-1] if before else None
        if passive:
            by_agent = [
                a for a in agents if a.start >= cue.end and by_before(self._text, sentence, a.start)
            ]
            if cue.verb == "passive_retake" and by_agent and not by_agent[0].opponent:
                return self._captured_by(by_agent[0], part)
            if cue.verb == "passive_withdraw" and subject is not None and subject.opponent:
                return None
        else:
            decided = self._active(agents, subject, cue, kind, part)
            if not isinstance(decided, bool):
                return decided
        group = self._who.armed_group(agents, cue.start)
        if group is not None:
            return (kind, *group)
        state = (
            any(a.opponent for a in agents) or _STATE_IN_CUE.search(cue.text) is not None
            if passive
            else subject is not None and subject.opponent
        )
        if kind == "retaken" and state:
            return "retaken", UNNAMED_GROUP, UNNAMED_PENALTY
        return None

    def by_the_state(self, sentence: Sentence, cue: Cue) -> Decision | None:
        """A capture cue whose subject is the state ("Kenyan and Somali troops
        have taken control of Kismayo") retakes the city from the group named;
        so does the state returning to a city the group held or left."""
        agents = self._who.of_sentence(sentence)
        start = clause_start(self._text, sentence, cue.start)
        before = [a for a in agents if start <= a.start < cue.start]
        if not before or not before[-1].opponent:
            return None
        named = [a for a in agents if a.actor is not None]
        if not named:
            return None
        if cue.verb == "return" and not _HELD.search(self._text, sentence.start, sentence.end):
            return None  # troops returning to a city the group never held
        group = self._who.named(min(named, key=lambda a: abs(a.start - cue.start)))
        return None if group is None else ("retaken", *group)

    def flag_of_the_state(self, sentence: Sentence, cue: Cue) -> Decision | None:
        """State forces raising their flag over the seat of a city the group held
        ("retook the centre of Ramadi from Islamic State militants and raised the
        national flag over the government compound") have retaken it."""
        agents = self._who.of_sentence(sentence)
        subject = self._who.subject(agents, sentence, cue, passive=False)
        if subject is None or not subject.opponent:
            return None
        text = self._text
        if not (
            _HELD.search(text, sentence.start, sentence.end)
            or _WON_BACK.search(text, sentence.start, cue.start)
        ):
            return None
        named = [a for a in agents if a.actor is not None]
        if not named:
            return None
        group = self._who.named(min(named, key=lambda a: abs(a.start - cue.start)))
        return None if group is None else ("retaken", *group)

    def _active(
        self,
        agents: list[AgentMention],
        subject: AgentMention | None,
        cue: Cue,
        kind: EventKind,
        part: PartClass,
    ) -> Decision | bool | None:
        """The decision for an active reset cue, or True: "a reset by the state"."""
        if cue.verb == "withdraw":
            # "... encircled Menaka and residents have fled the town": not the group.
            named = (
                None
                if subject is None
                or subject.opponent
                or CIVILIANS.search(self._text, subject.end, cue.start)
                else self._who.named(subject)
            )
            return None if named is None else (kind, *named)
        if subject is not None and not subject.opponent:
            if subject.generic and self._acts_on_the_group(agents, cue):
                return True
            inside = [a for a in agents if cue.start < a.start < cue.end]
            if cue.verb == "retake" or (inside and inside[0].opponent):
                return self._captured_by(subject, part)
            return None
        if cue.verb == "repel" and _OUT_OF_TAIL.search(cue.text) and not self._someone_out(cue):
            return None
        return True

    def _acts_on_the_group(self, agents: list[AgentMention], cue: Cue) -> bool:
        """Whether the cue names the group it pushed out or took the city from
        ("resistance fighters pushed the Houthis out of Aden", "liberated Dhale
        from Houthi forces"): unnamed fighters doing so are the other side."""
        for a in agents:
            if a.actor is None or not cue.start < a.start <= cue.end + 60:
                continue
            if a.start < cue.end or _FROM_BEFORE.search(self._text, cue.end, a.start):
                return True
        return False

    def _someone_out(self, cue: Cue) -> bool:
        """Whether "drove ... out of" names whom it drove out: an armed group or "them"."""
        words = cue.text.split(None, 1)
        interior = words[1] if len(words) > 1 else ""
        interior = _OUT_OF_TAIL.sub("", interior)
        if not interior.strip() or _THEM.search(interior):
            return True
        found = self._who.matcher.agents(interior)
        return any(not a.opponent for a in found)

    def _captured_by(self, agent: AgentMention, part: PartClass) -> Decision | None:
        named = self._who.named(agent)
        kind = verb_kind("capture", part)
        if named is None or kind is None:
            return None
        return (kind, *named)
