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
    GROUND_COMBAT,
    IN_PREPS,
    PRESENCE,
    SENTENCE_PRIORITY,
    STRIKE,
    STRIKE_BEFORE,
    TALKS,
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
# A retaking by the state that names no group: the group is unknown, the news is not.
UNNAMED_GROUP = "unnamed armed group"
# Substrings (of the lower-cased text) without which no retaking is worded;
# plain `in` tests are far cheaper than a case-insensitive regex over the article.
_RETAKE_HINTS = (
    "retook", "retake", "recaptur", "regain", "reclaim", "liberat", "back in", "back under",
    "took back", "taken back", "won back", "wrested back", "reasserted", "restored",
    "established", "hands of", "free of",
)  # fmt: skip
_NEGATED_AGENT = re.compile(r"\b(?:not|rather\s+than|instead\s+of|and\s+not)\s+(?:the\s+)?$", re.I)
_ATTACK_NOUNS = frozenset(("attack", "attacks", "assault", "assaults", "offensive", "push"))
_ASSAULTS = frozenset(("stormed", "storming", "storms", "storm"))
# "ISWAP fighters are in Maiduguri": a group said to be in a city is there.
_BE_BEFORE = re.compile(
    r"\s+(?:are|is|were|was)\s+(?:now\s+|already\s+|still\s+|reportedly\s+)?", re.IGNORECASE
)
_BE_TAIL = re.compile(
    r"\b(?:are|is|were|was)\s+(?:now\s+|already\s+|still\s+|reportedly\s+)?$", re.IGNORECASE
)
# "..., adding the Taliban were not involved": the group is ruled out.
_NEGATED_AFTER = re.compile(
    r"\s+(?:(?:were|was|are|is|had\s+been|have\s+been)\s+not|(?:were|was|are|is)n['\u2019]t)"
    r"\s+(?:involved|responsible|behind|present|there|part)",
    re.IGNORECASE,
)
_TO_BEFORE = re.compile(r"\bto\s+(?:the\s+)?$", re.IGNORECASE)
# "a village 5 km from Kunduz" locates the village; "fighters 5 km from Kunduz" threaten it.
_PLACE_BEFORE = re.compile(
    r"\b(?:village|villages|district|districts|town|towns|base|bases|camp|camps|airport|bridge"
    r"|road|highway|dam|area|areas|settlement|hamlet|market|checkpoint|border)\s*,?\s+(?:"
    r"(?:only|just|barely|about|some|a|located|lying|situated|roughly|around)\s+)*$",
    re.IGNORECASE,
)
_AGAINST_AFTER = re.compile(r"\s+against\b", re.IGNORECASE)
_DETERMINER_BEFORE = re.compile(r"\b(?:the|their|its|our|a|his|her)\s+$", re.IGNORECASE)
_STATE_IN_CUE = re.compile(r"\b(?:government|state|army|military|forces|troops)\b", re.I)
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
# "an assault on Kunduz ... was repulsed", "fighters who tried to enter Kunduz were repelled".
_ATTACK_BEFORE = re.compile(
    r"\b(?:(?:attacks?|assaults?|offensive|push|advance|raids?)\s+(?:on|against)"
    r"|(?:tried|trying|attempted|attempting|sought)\s+to\s+(?:enter|take|seize|capture|storm"
    r"|overrun|reach))\s+$",
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
        self._negated: dict[int, set[str]] = {}
        self._negated_now: set[str] = set()
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
        span = (sentence.start, sentence.end)
        lead: tuple[int, int] | None = None  # the clause a repulse cue governs
        for cue in find_cues(self.text, sentence.start, sentence.end):
            if cue.verb == "repel_lead":
                lead = self._repel_lead(sentence, cue)
                continue
            if cue.verb == "capture_noun":
                continue
            repulsed = lead is not None and lead[0] <= cue.start < lead[1]
            candidates = self._candidates(i, sentence, cue, fighting=repulsed)
            if not candidates:
                if cue.verb == "repel":
                    lead = self._repel_lead(sentence, cue)
                continue
            reason = discard_reason(self.text, span, (cue.start, cue.end), self.year)
            # "forced back fighters who had tried to storm Huddur": the attempt was repulsed.
            if reason is not None and not (repulsed and reason == "modal"):
                continue
            for candidate in candidates:
                if cue.verb in _RESET_VERBS:
                    decided = self._reset(sentence, cue, candidate)
                elif repulsed and candidate.kind in ("threatened", "entered"):
                    group = self._armed_group(self._sentence_agents(sentence), cue.start)
                    decided = None if group is None else ("repelled", *group)
                else:
                    actor = self._actor(sentence, cue, candidate)
                    decided = None if actor is None else (candidate.kind, *actor)
                if decided is None:
                    continue
                kind, name, penalty = decided
                base = _BASE_CONFIDENCE[candidate.target.resolution]
                confidence = round(min(0.99, max(0.05, base - candidate.penalty - penalty)), 2)
                place = candidate.target.place
                incursion = Incursion(name, kind, place, sentence.text, confidence)
                rank = (SENTENCE_PRIORITY[kind], confidence)
                current = best.get(place.place_id)
                if current is None or rank > current[:2]:
                    best[place.place_id] = (*rank, incursion)
        return [entry[2] for entry in sorted(best.values(), key=lambda e: e[2].capital.start)]

    def _repel_lead(self, sentence: Sentence, cue: Cue) -> tuple[int, int] | None:
        """The clause in which "beat back", "fought off" turn what follows into a
        repulse, when the state is the one beating back and the cue happened."""
        span = (sentence.start, sentence.end)
        if discard_reason(self.text, span, (cue.start, cue.end), self.year) is not None:
            return None
        agents = self._sentence_agents(sentence)
        lo, hi = clause_bounds(self.text, sentence.start, sentence.end, cue.start)
        before = [a for a in agents if lo <= a.start < cue.start]
        after = [a for a in agents if cue.start <= a.start < hi]
        if before and not before[-1].opponent:
            return None
        if not before and (not after or after[0].opponent):
            return None
        return lo, hi

    def _candidates(
        self, i: int, sentence: Sentence, cue: Cue, *, fighting: bool = False
    ) -> list[_Candidate]:
        """What the cue would report, for each capital it governs; `fighting`: the
        clause reports a repulse, so "near Marib" in it places the fight."""
        verb = cue.verb
        if verb == "prep":  # nine cues in ten: the shortest path
            targets = self.finder.object_of(i, cue.end)
            return self._prep_candidates(sentence, cue, targets, fighting=fighting)
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
        origin = verb == "near" or (
            verb in _RESET_VERBS and cue.text.lower().endswith(("from", "of"))
        )
        if verb in ("near", "approach") and self._not_an_advance(sentence, cue):
            return []
        targets = self.finder.object_of(i, cue.end, origin=origin, indefinite=verb == "flag")
        if verb == "flag" and not targets:
            context = self.finder.in_context(i, cue.start)
            targets = [] if context is None else [context]
        table = "repel" if verb in ("withdraw", "passive_withdraw") else verb
        # Storming the outskirts is an attack on them, not an entry.
        assault = cue.text.lower() in _ASSAULTS
        found = []
        for t in targets:
            kind = verb_kind("capture" if assault and t.part == "fringe" else table, t.part)
            if kind is not None:
                found.append(_Candidate(kind, t, False, False, 0.0))
        return found

    def _prep_candidates(
        self, sentence: Sentence, cue: Cue, targets: list[Target], *, fighting: bool
    ) -> list[_Candidate]:
        """ "fighting near Kunduz", "seen in the alleys of Kunduz": a place phrase
        is an incursion only with fighting or presence in its clause."""
        if not targets:
            return []
        lo, hi = clause_bounds(self.text, sentence.start, sentence.end, cue.start)
        combat = fighting or self._combat(lo, hi)
        presence = PRESENCE.search(self.text, lo, cue.start) is not None
        if not presence and _BE_TAIL.search(self.text, max(lo, cue.start - 24), cue.start):
            presence = any(
                _BE_BEFORE.fullmatch(self.text, a.end, cue.start) and not a.opponent
                for a in self._sentence_agents(sentence)
                if lo <= a.end <= cue.start
            )
        found: list[_Candidate] = []
        for target in targets:
            kind = prep_kind(cue.text, target.part, combat=combat, presence=presence)
            if kind is not None:
                penalty = _PREP_PENALTY if target.part in ("whole", "around") else 0.0
                found.append(_Candidate(kind, target, combat and not presence, False, penalty))
        if not found or TALKS.search(self.text, lo, hi):
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
            and STRIKE.search(self.text, lo, hi) is not None
            and GROUND_COMBAT.search(self.text, lo, hi) is None
        ):
            return [c for c in found if c not in hit]
        return found

    def _not_an_advance(self, sentence: Sentence, cue: Cue) -> bool:
        """A rocket attack on a city, or a village a few kilometres from it."""
        lo = max(sentence.start, cue.start - 60)
        if cue.verb == "near":
            return _PLACE_BEFORE.search(self.text, lo, cue.start) is not None
        if cue.verb == "approach" and cue.text.split(None, 1)[0].lower() in _ATTACK_NOUNS:
            return STRIKE_BEFORE.search(self.text, lo, cue.start) is not None
        return False

    def _combat(self, lo: int, hi: int) -> bool:
        """Fighting words in text[lo:hi], not counting a campaign ("the fight against")."""
        first = COMBAT.search(self.text, lo, hi)
        if first is None:
            return False
        if not _AGAINST_AFTER.match(self.text, first.end(), hi):
            return True
        for found in COMBAT.finditer(self.text, first.start(), hi):
            if _AGAINST_AFTER.match(self.text, found.end(), hi) and _DETERMINER_BEFORE.search(
                self.text, lo, found.start()
            ):
                continue
            return True
        return False

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
        if group is not None:
            return (candidate.kind, *group)
        state = (
            any(a.opponent for a in agents) or _STATE_IN_CUE.search(cue.text) is not None
            if passive
            else subject is not None and subject.opponent
        )
        if candidate.kind == "retaken" and state:
            return "retaken", UNNAMED_GROUP, _UNNAMED_PENALTY
        return None

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
        if self.dominant is None or self.dominant in self._negated_now:
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
        """The sentence's agents, less those it denies ("clan militias, not
        al-Shabaab"), whose groups are kept in `_negated_now` for the sentence."""
        cached = self._agents.get(sentence.start)
        if cached is None:
            cached = []
            negated: set[str] = set()
            for agent in self._matcher.agents(self.text, sentence.start, sentence.end):
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

    def _named(self, agent: AgentMention) -> tuple[str, float] | None:
        if agent.opponent:
            return None
        if agent.actor is not None:
            return agent.actor, 0.0
        if self.dominant is None or self.dominant in self._negated_now:
            return None
        return self.dominant, _GENERIC_PENALTY

    def _actor(
        self, sentence: Sentence, cue: Cue, candidate: _Candidate
    ) -> tuple[str, float] | None:
        """The armed group behind a cue, with a confidence penalty, or None."""
        agents = self._sentence_agents(sentence)
        if cue.verb == "handover":  # "surrendered the city to the Taliban"
            to = [
                a
                for a in agents
                if a.start >= cue.end and _TO_BEFORE.search(self.text, cue.end, a.start)
            ]
            return self._named(to[0]) if to else None
        if candidate.combat:
            return self._combatant(agents, cue.start)
        entry = candidate.kind == "entered"
        agent = self._subject(agents, sentence, cue, passive=candidate.passive, entry=entry)
        if agent is not None and agent.opponent and not candidate.passive:
            # "Fighting between the army and the RSF reached the outskirts".
            clause_start = sentence.start
            for comma in _COMMA.finditer(self.text, sentence.start, cue.start):
                clause_start = comma.end()
            if GROUND_COMBAT.search(self.text, clause_start, agent.start):
                return self._combatant(agents, cue.start)
        return None if agent is None else self._named(agent)

    def _combatant(self, agents: list[AgentMention], pos: int) -> tuple[str, float] | None:
        """Fighting is symmetric ("security forces clashed with the Taliban near
        ..."): the named group nearest the cue, else the article's main group."""
        named = [a for a in agents if a.actor is not None]
        if named:
            return self._named(min(named, key=lambda a: abs(a.start - pos)))
        if self.dominant is None or self.dominant in self._negated_now:
            return None
        if any(a.generic for a in agents):
            return self.dominant, _GENERIC_PENALTY
        return self.dominant, _UNNAMED_PENALTY

    def _subject(
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
        clause_start = sentence.start
        for comma in _COMMA.finditer(self.text, sentence.start, cue.start):
            clause_start = comma.end()
        in_clause = [a for a in agents if clause_start <= a.start < cue.start]
        after = [a for a in agents if a.start >= cue.start]  # "under Taliban control"
        by_agents = [
            a for a in after if passive and _BY_BEFORE.search(self.text, sentence.start, a.start)
        ]
        before = [a for a in agents if a.start < cue.start]
        # "gathered in Mogadishu to discuss al-Shabaab": whoever is present comes first.
        if cue.verb == "prep" and not passive and entry:
            after = []
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
        lowered = article.text.lower()
        if not any(hint in lowered for hint in _RETAKE_HINTS):
            return []
    return reader.read()
