"""Incursion detection: which armed group threatened, entered or captured which capital.

`detect_incursions` reads one article sentence by sentence. A sentence yields
an incursion when a cue (a verb such as "entered", a phrase such as "at the
gates of") governs a provincial capital, named or referred to ("the city"),
the cue reports a current event (not hypothetical, negated, intended or
historical, see `modality`), and an armed group is its agent. Pure and
deterministic: the same article always gives the same incursions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.core.models import Article, Place
from ingest.core.settings import ActorConfig
from workers.alert.actors import AgentMention, actor_matcher, dominant_actor
from workers.alert.cues import Cue, find_cues
from workers.alert.modality import clause_bounds, discard_reason
from workers.alert.sentences import Sentence, split_sentences
from workers.alert.targets import Target, TargetFinder
from workers.alert.vocabulary import (
    COMBAT,
    PRESENCE,
    SENTENCE_PRIORITY,
    EventKind,
    prep_kind,
    verb_kind,
)

_PASSIVE_VERB = {
    "passive_capture": "capture",
    "passive_enter": "enter",
    "passive_threat": "approach",
    "passive_retake": "retake",
    "passive_repel": "repel",
    "government_held": "government_held",
}
_RESET_VERBS = frozenset(
    ("retake", "repel", "withdraw", "passive_retake", "passive_repel", "passive_withdraw")
)
_OUT_OF_TAIL = re.compile(
    r"\s*(?:back\s+)?(?:out\s+of|back\s+from|away\s+from|from)$", re.IGNORECASE
)
_CAPITALS_WORD = re.compile(r"\bcapitals?\b", re.IGNORECASE)
_COUNTED_CAPITALS = re.compile(
    r"\s+(?:(?P<count>two|three|four|five|six|one|a|another|several|more|multiple|\d)\s+)?"
    r"(?:(?:more|other|further|key|major|northern|southern|eastern|western)\s+)*"
    r"(?:provincial|regional|state)\s+capitals?\b",
    re.IGNORECASE,
)
_COUNT_WORDS = {
    "one": 1, "a": 1, "another": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    **{str(n): n for n in range(1, 10)},
}  # fmt: skip
_ATTACK_BEFORE = re.compile(
    r"\b(?:attacks?|assaults?|offensive|push|advance|raids?)\s+(?:on|against)\s+$",
    re.IGNORECASE,
)
_THEM = re.compile(r"\bthem\b", re.IGNORECASE)
_BASE_CONFIDENCE = {"explicit": 0.9, "reference": 0.8, "previous": 0.6}
_COMMA = re.compile(r"[,;:]")
_BY_BEFORE = re.compile(r"\bby\s+(?:the\s+)?$", re.IGNORECASE)
_GENERIC_PENALTY = 0.05
_UNNAMED_PENALTY = 0.2
_PREP_PENALTY = 0.1


@dataclass(frozen=True, slots=True)
class Incursion:
    """One sentence's evidence that `actor` threatened, entered or captured `capital`.

    `actor` is the canonical actor name (for `repelled` and `retaken`, the
    group that was pushed back or lost the city); `capital` the geotagger's
    place (of type "capital"); `sentence` the evidence sentence as written;
    `confidence` in [0, 1], higher for an explicit verb and name in the same
    sentence.
    """

    actor: str
    kind: EventKind
    capital: Place
    sentence: str
    confidence: float


@dataclass(frozen=True, slots=True)
class _Headline:
    sentence: str
    kind: EventKind
    actor: str
    count: int | None  # None: "several", "more"


@dataclass(frozen=True, slots=True)
class _Candidate:
    kind: EventKind
    target: Target
    combat: bool
    passive: bool
    penalty: float


class _ArticleReader:
    """Per-article state: sentences, agents and the capital finder."""

    def __init__(
        self, article: Article, capitals: Sequence[Place], actors: Sequence[ActorConfig]
    ) -> None:
        self.text = article.text
        self.year = article.published.year
        self._matcher = actor_matcher(actors)
        title = self._matcher.named(article.title) if article.title else []
        self.dominant = dominant_actor(self._matcher.named(self.text), title)
        self._agents: dict[int, list[AgentMention]] = {}
        self.sentences = split_sentences(self.text)
        self.finder = TargetFinder(self.text, self.sentences, capitals)

    def read(self) -> list[Incursion]:
        found: list[Incursion] = []
        seen: set[tuple[str, str, str, str]] = set()
        headlines: list[tuple[int, _Headline]] = []
        for i, sentence in enumerate(self.sentences):
            if _CAPITALS_WORD.search(sentence.text):
                headlines += [(i, h) for h in self._headlines(sentence)]
            if not self.finder.has_capital_context(i):
                continue
            for incursion in self._sentence(i, sentence):
                key = (
                    incursion.actor,
                    incursion.kind,
                    incursion.capital.place_id,
                    incursion.sentence,
                )
                if key not in seen:
                    seen.add(key)
                    found.append(incursion)
        return found + self._tie_headlines(headlines, found)

    def _headlines(self, sentence: Sentence) -> list[_Headline]:
        """ "The Taliban entered two provincial capitals": kind, group and how many."""
        found: list[_Headline] = []
        for cue in find_cues(self.text, sentence.start, sentence.end):
            counted = _COUNTED_CAPITALS.match(self.text, cue.end, sentence.end)
            if counted is None or cue.verb in _PASSIVE_VERB or cue.verb in _RESET_VERBS:
                continue
            kind = verb_kind(cue.verb, "whole") if cue.verb != "prep" else None
            if kind is None:
                continue
            span = (sentence.start, sentence.end)
            if discard_reason(self.text, span, (cue.start, cue.end), self.year) is not None:
                continue
            agents = self._sentence_agents(sentence)
            agent = self._subject(agents, sentence, cue, passive=False)
            named = None if agent is None else self._named(agent)
            if named is None:
                continue
            word = (counted.group("count") or "").lower()
            found.append(_Headline(sentence.text, kind, named[0], _COUNT_WORDS.get(word)))
        return found

    def _tie_headlines(
        self, headlines: list[tuple[int, _Headline]], found: list[Incursion]
    ) -> list[Incursion]:
        """A headline's sentence becomes evidence for the capitals named after it
        with the same kind, as many as it counts; it never adds a kind of its own."""
        tied: list[Incursion] = []
        for index, headline in headlines:
            later = {s.text for s in self.sentences[index + 1 :]}
            capitals: dict[str, Place] = {}
            for incursion in found:
                if incursion.kind == headline.kind and incursion.sentence in later:
                    capitals.setdefault(incursion.capital.place_id, incursion.capital)
            for capital in list(capitals.values())[: headline.count]:
                tied.append(
                    Incursion(
                        headline.actor,
                        headline.kind,
                        capital,
                        headline.sentence,
                        _BASE_CONFIDENCE["previous"],
                    )
                )
        return tied

    def _sentence(self, i: int, sentence: Sentence) -> list[Incursion]:
        best: dict[str, tuple[int, float, Incursion]] = {}
        for cue in find_cues(self.text, sentence.start, sentence.end):
            candidates = self._candidates(i, sentence, cue)
            if not candidates:
                continue
            span = (sentence.start, sentence.end)
            if discard_reason(self.text, span, (cue.start, cue.end), self.year) is not None:
                continue
            for candidate in candidates:
                if cue.verb in _RESET_VERBS:
                    decided = self._reset(sentence, cue, candidate)
                    if decided is None:
                        continue
                    kind, name, penalty = decided
                    candidate = _Candidate(kind, *_rest(candidate))  # noqa: PLW2901
                else:
                    actor = self._actor(sentence, cue, candidate)
                    if actor is None:
                        continue
                    name, penalty = actor
                base = _BASE_CONFIDENCE[candidate.target.resolution]
                confidence = round(min(0.99, max(0.05, base - candidate.penalty - penalty)), 2)
                place = candidate.target.place
                incursion = Incursion(name, candidate.kind, place, sentence.text, confidence)
                rank = (SENTENCE_PRIORITY[candidate.kind], confidence)
                current = best.get(place.place_id)
                if current is None or rank > current[:2]:
                    best[place.place_id] = (*rank, incursion)
        return [entry[2] for entry in sorted(best.values(), key=lambda e: e[2].capital.start)]

    def _candidates(self, i: int, sentence: Sentence, cue: Cue) -> list[_Candidate]:
        """What the cue would report, for each capital it governs."""
        verb = cue.verb
        if verb in _PASSIVE_VERB:
            passive = _PASSIVE_VERB[verb]
            subjects = self.finder.subject_of(i, cue.start)
            if not subjects and verb == "passive_repel":
                subjects = self._attacked(i, sentence, cue)
            return [
                _Candidate(kind, target, False, True, 0.0)
                for target in subjects
                if (kind := verb_kind(passive, target.part)) is not None
            ]
        origin = verb in _RESET_VERBS and cue.text.lower().endswith(("from", "of"))
        targets = self.finder.object_of(i, cue.end, origin=origin)
        if verb == "flag" and not targets:
            context = self.finder.in_context(i, cue.start)
            targets = [] if context is None else [context]
        if verb != "prep":
            table = "repel" if verb in ("withdraw", "passive_withdraw") else verb
            return [
                _Candidate(kind, t, False, False, 0.0)
                for t in targets
                if (kind := verb_kind(table, t.part)) is not None
            ]
        if not targets:
            return []
        lo, hi = clause_bounds(self.text, sentence.start, sentence.end, cue.start)
        combat = COMBAT.search(self.text, lo, hi) is not None
        presence = PRESENCE.search(self.text, lo, cue.start) is not None
        found: list[_Candidate] = []
        for target in targets:
            kind = prep_kind(cue.text, target.part, combat=combat, presence=presence)
            if kind is not None:
                penalty = _PREP_PENALTY if target.part in ("whole", "around") else 0.0
                found.append(_Candidate(kind, target, combat and not presence, False, penalty))
        return found

    def _reset(
        self, sentence: Sentence, cue: Cue, candidate: _Candidate
    ) -> tuple[EventKind, str, float] | None:
        """(kind, armed group, penalty) for a cue of control changing hands.

        The government retaking or repelling keeps the candidate's kind; an
        armed group "recapturing" a city or "driving troops out of" it has
        captured it; state forces withdrawing is not a reset at all.
        """
        agents = self._sentence_agents(sentence)
        passive = cue.verb.startswith("passive_")
        # The agent nearest before a reset cue is its subject: "Kunduz fell to the
        # Taliban after government forces withdrew".
        clause_start = sentence.start
        for comma in _COMMA.finditer(self.text, sentence.start, cue.start):
            clause_start = comma.end()
        before = [a for a in agents if clause_start <= a.start < cue.start]
        subject = before[-1] if before else None
        if passive:
            by_agent = [
                a
                for a in agents
                if a.start >= cue.end and _BY_BEFORE.search(self.text, sentence.start, a.start)
            ]
            if cue.verb == "passive_retake" and by_agent and not by_agent[0].opponent:
                return self._captured_by(by_agent[0], candidate)
            if cue.verb == "passive_withdraw" and subject is not None and subject.opponent:
                return None
        else:
            decided = self._reset_active(agents, subject, cue, candidate)
            if not isinstance(decided, bool):
                return decided
        group = self._armed_group(agents, cue.start)
        return None if group is None else (candidate.kind, *group)

    def _reset_active(
        self,
        agents: list[AgentMention],
        subject: AgentMention | None,
        cue: Cue,
        candidate: _Candidate,
    ) -> tuple[EventKind, str, float] | bool | None:
        """The decision for an active reset cue, or True: "a reset by the state"."""
        if cue.verb == "withdraw":
            named = None if subject is None or subject.opponent else self._named(subject)
            return None if named is None else (candidate.kind, *named)
        if subject is not None and not subject.opponent:
            inside = [a for a in agents if cue.start < a.start < cue.end]
            if cue.verb == "retake" or (inside and inside[0].opponent):
                return self._captured_by(subject, candidate)
            return None
        if cue.verb == "repel" and _OUT_OF_TAIL.search(cue.text) and not self._someone_out(cue):
            return None
        return True

    def _someone_out(self, cue: Cue) -> bool:
        """Whether "drove ... out of" names whom it drove out: an armed group or "them"."""
        words = cue.text.split(None, 1)
        interior = words[1] if len(words) > 1 else ""
        interior = _OUT_OF_TAIL.sub("", interior)
        if not interior.strip() or _THEM.search(interior):
            return True
        found = self._matcher.agents(interior)
        return any(not a.opponent for a in found)

    def _captured_by(
        self, agent: AgentMention, candidate: _Candidate
    ) -> tuple[EventKind, str, float] | None:
        named = self._named(agent)
        kind = verb_kind("capture", candidate.target.part)
        if named is None or kind is None:
            return None
        return (kind, *named)

    def _armed_group(self, agents: list[AgentMention], pos: int) -> tuple[str, float] | None:
        """The group that lost ground: the named group nearest the cue, else the article's."""
        named = [a for a in agents if a.actor is not None]
        if named:
            return self._named(min(named, key=lambda a: abs(a.start - pos)))
        if self.dominant is None:
            return None
        return self.dominant, _GENERIC_PENALTY

    def _attacked(self, i: int, sentence: Sentence, cue: Cue) -> list[Target]:
        """The capital of "an assault on Kunduz by the Taliban was repulsed"."""
        for mention in reversed(self.finder.mentions(i)):
            if mention.place is None or mention.end > cue.start or mention.exclusion:
                continue
            if _ATTACK_BEFORE.search(self.text, sentence.start, mention.start):
                return [Target(mention.place, "whole", "explicit")]
        return []

    def _sentence_agents(self, sentence: Sentence) -> list[AgentMention]:
        cached = self._agents.get(sentence.start)
        if cached is None:
            cached = self._matcher.agents(self.text, sentence.start, sentence.end)
            self._agents[sentence.start] = cached
        return cached

    def _named(self, agent: AgentMention) -> tuple[str, float] | None:
        if agent.opponent:
            return None
        if agent.actor is not None:
            return agent.actor, 0.0
        if self.dominant is None:
            return None
        return self.dominant, _GENERIC_PENALTY

    def _actor(
        self, sentence: Sentence, cue: Cue, candidate: _Candidate
    ) -> tuple[str, float] | None:
        """The armed group behind a cue, with a confidence penalty, or None."""
        agents = self._sentence_agents(sentence)
        if candidate.combat:
            return self._combatant(agents, cue.start)
        agent = self._subject(agents, sentence, cue, passive=candidate.passive)
        return None if agent is None else self._named(agent)

    def _combatant(self, agents: list[AgentMention], pos: int) -> tuple[str, float] | None:
        """Fighting is symmetric ("security forces clashed with the Taliban near
        ..."): the named group nearest the cue, else the article's main group."""
        named = [a for a in agents if a.actor is not None]
        if named:
            return self._named(min(named, key=lambda a: abs(a.start - pos)))
        if self.dominant is None:
            return None
        if any(a.generic for a in agents):
            return self.dominant, _GENERIC_PENALTY
        return self.dominant, _UNNAMED_PENALTY

    def _subject(
        self, agents: list[AgentMention], sentence: Sentence, cue: Cue, *, passive: bool
    ) -> AgentMention | None:
        """The agent of a non-combat cue: the first agent of the cue's comma
        clause, else the "by" agent of a passive, else the sentence's first."""
        clause_start = sentence.start
        for comma in _COMMA.finditer(self.text, sentence.start, cue.start):
            clause_start = comma.end()
        in_clause = [a for a in agents if clause_start <= a.start < cue.start]
        after = [a for a in agents if a.start >= cue.start]  # "under Taliban control"
        by_agents = [
            a for a in after if passive and _BY_BEFORE.search(self.text, sentence.start, a.start)
        ]
        before = [a for a in agents if a.start < cue.start]
        for group in (in_clause, by_agents, before, after):
            if group:
                return group[0]
        return None


def _rest(candidate: _Candidate) -> tuple[Target, bool, bool, float]:
    return candidate.target, candidate.combat, candidate.passive, candidate.penalty


def detect_incursions(
    article: Article, places: Sequence[Place], actors: Sequence[ActorConfig]
) -> list[Incursion]:
    """The incursions `article` reports, in text order, at most one per capital per sentence.

    `places` are the geotagger's places with offsets into `article.text`; only
    those of type "capital" can be targets. When a sentence has several cues
    for one capital, the strongest kind wins. Articles that name no capital or
    no configured actor are rejected before any sentence is read.
    """
    capitals = [p for p in places if p.type == "capital"]
    if not capitals:
        return []
    reader = _ArticleReader(article, capitals, actors)
    if reader.dominant is None:
        return []
    return reader.read()
