"""Attribution: which armed group is behind a cue in a sentence.

An `Attribution` is made per article. It knows the sentence's agents (less
those the sentence rules out: "clan militias, not al-Shabaab"), and picks
the one a cue belongs to: the subject of its clause, the "by" agent of a
passive, the nearest named group of a fight. Generic words ("militants")
stand for the article's dominant group, at a confidence penalty.
"""

from __future__ import annotations

import re

from workers.alert.actors import ActorMatcher, AgentMention
from workers.alert.cues import Cue
from workers.alert.sentences import Sentence
from workers.alert.vocabulary import GROUND_COMBAT

# Confidence lost when the group is the article's, not named in the sentence.
GENERIC_PENALTY = 0.05
UNNAMED_PENALTY = 0.2

_NEGATED_AGENT = re.compile(r"\b(?:not|rather\s+than|instead\s+of|and\s+not)\s+(?:the\s+)?$", re.I)
# "..., adding the Taliban were not involved": the group is ruled out.
_NEGATED_AFTER = re.compile(
    r"\s+(?:(?:were|was|are|is|had\s+been|have\s+been)\s+not|(?:were|was|are|is)n['\u2019]t)"
    r"\s+(?:involved|responsible|behind|present|there|part)",
    re.IGNORECASE,
)
_TO_BEFORE = re.compile(r"\bto\s+(?:the\s+)?$", re.IGNORECASE)
_COMMA = re.compile(r"[,;:]")
_BY_BEFORE = re.compile(r"\bby\s+(?:the\s+)?$", re.IGNORECASE)
# "Officials and troops abandoned Dhusamareb and al-Shabaab fighters took over
# the town": an agent opening a coordinated clause right before the verb.
_AND_BEFORE = re.compile(r"\band\s+(?:then\s+)?(?:the\s+)?$", re.IGNORECASE)
_COORDINATED = re.compile(r"\s*,?\s*(?:and|or)\s+(?:the\s+)?", re.IGNORECASE)
_VERB_GAP = re.compile(
    r"\s+(?:(?:then|later|soon|quickly|swiftly|promptly|eventually|finally|also|reportedly"
    r"|had|have|has)\s+){0,2}",
    re.IGNORECASE,
)


def clause_start(text: str, sentence: Sentence, pos: int) -> int:
    """Where the comma clause holding `pos` begins (the sentence start if none)."""
    start = sentence.start
    for comma in _COMMA.finditer(text, sentence.start, pos):
        start = comma.end()
    return start


def by_before(text: str, sentence: Sentence, pos: int) -> bool:
    """Whether the agent at `pos` follows "by (the)": the agent of a passive."""
    return _BY_BEFORE.search(text, sentence.start, pos) is not None


class Attribution:
    """The agents of one article's sentences and the group each cue belongs to."""

    def __init__(self, text: str, matcher: ActorMatcher, dominant: str | None) -> None:
        self.text = text
        self.matcher = matcher
        self.dominant = dominant
        self._agents: dict[int, list[AgentMention]] = {}
        self._negated: dict[int, set[str]] = {}
        self._negated_now: set[str] = set()

    def of_sentence(self, sentence: Sentence) -> list[AgentMention]:
        """The sentence's agents, less those it denies ("clan militias, not
        al-Shabaab"), whose groups are kept in `_negated_now` for the sentence."""
        cached = self._agents.get(sentence.start)
        if cached is None:
            cached = []
            negated: set[str] = set()
            for agent in self.matcher.agents(self.text, sentence.start, sentence.end):
                lo = max(sentence.start, agent.start - 16)
                if _NEGATED_AGENT.search(self.text, lo, agent.start) or _NEGATED_AFTER.match(
                    self.text, agent.end, sentence.end
                ):
                    negated.add(agent.actor or "")
                else:
                    cached.append(agent)
            self._agents[sentence.start] = cached
            self._negated[sentence.start] = negated
        self._negated_now = self._negated[sentence.start]
        return cached

    def named(self, agent: AgentMention) -> tuple[str, float] | None:
        """(group, penalty) an agent stands for: its own name, else the article's group."""
        if agent.opponent:
            return None
        if agent.actor is not None:
            return agent.actor, 0.0
        if self.dominant is None or self.dominant in self._negated_now:
            return None
        return self.dominant, GENERIC_PENALTY

    def armed_group(self, agents: list[AgentMention], pos: int) -> tuple[str, float] | None:
        """The group that lost ground: the named group nearest the cue, else the article's."""
        named = [a for a in agents if a.actor is not None]
        if named:
            return self.named(min(named, key=lambda a: abs(a.start - pos)))
        if self.dominant is None or self.dominant in self._negated_now:
            return None
        return self.dominant, GENERIC_PENALTY

    def actor(
        self, sentence: Sentence, cue: Cue, *, entry: bool, combat: bool, passive: bool
    ) -> tuple[str, float] | None:
        """The armed group behind a cue, with a confidence penalty, or None.

        `entry`: the cue reports an entry; `combat`: its clause reports
        fighting; `passive`: the cue is passive ("Kunduz was taken by ...").
        """
        agents = self.of_sentence(sentence)
        if cue.verb == "handover":  # "surrendered the city to the Taliban"
            to = [
                a
                for a in agents
                if a.start >= cue.end and _TO_BEFORE.search(self.text, cue.end, a.start)
            ]
            return self.named(to[0]) if to else None
        if combat:
            return self.combatant(agents, cue.start)
        agent = self.subject(agents, sentence, cue, passive=passive, entry=entry)
        if agent is not None and agent.opponent and not passive:
            # "Fighting between the army and the RSF reached the outskirts".
            start = clause_start(self.text, sentence, cue.start)
            if GROUND_COMBAT.search(self.text, start, agent.start):
                return self.combatant(agents, cue.start)
        return None if agent is None else self.named(agent)

    def combatant(self, agents: list[AgentMention], pos: int) -> tuple[str, float] | None:
        """Fighting is symmetric ("security forces clashed with the Taliban near
        ..."): the named group nearest the cue, else the article's main group."""
        named = [a for a in agents if a.actor is not None]
        if named:
            return self.named(min(named, key=lambda a: abs(a.start - pos)))
        if self.dominant is None or self.dominant in self._negated_now:
            return None
        if any(a.generic for a in agents):
            return self.dominant, GENERIC_PENALTY
        return self.dominant, UNNAMED_PENALTY

    def _opens_clause(self, previous: AgentMention, last: AgentMention, cue: Cue) -> bool:
        """Whether `last` is the subject of a clause coordinated by "and" that
        `cue` is the verb of, not one of two coordinated subjects ("the RSF and
        allied militias overran")."""
        text = self.text
        return (
            _VERB_GAP.fullmatch(text, last.end, cue.start) is not None
            and _AND_BEFORE.search(text, max(previous.end, last.start - 14), last.start) is not None
            and _COORDINATED.fullmatch(text, previous.end, last.start) is None
        )

    def subject(
        self,
        agents: list[AgentMention],
        sentence: Sentence,
        cue: Cue,
        *,
        passive: bool,
        entry: bool = False,
    ) -> AgentMention | None:
        """The agent of a non-combat cue: the first agent of the cue's comma
        clause, else the "by" agent of a passive, else the sentence's first."""
        start = clause_start(self.text, sentence, cue.start)
        in_clause = [a for a in agents if start <= a.start < cue.start]
        if len(in_clause) > 1 and self._opens_clause(in_clause[-2], in_clause[-1], cue):
            in_clause = [in_clause[-1]]
        after = [a for a in agents if a.start >= cue.start]  # "under Taliban control"
        by_agents = [a for a in after if passive and by_before(self.text, sentence, a.start)]
        before = [a for a in agents if a.start < cue.start]
        # "gathered in Mogadishu to discuss al-Shabaab": whoever is present comes first.
        if cue.verb == "prep" and not passive and entry:
            after = []
        for group in (in_clause, by_agents, before, after):
            if group:
                return group[0]
        return None
