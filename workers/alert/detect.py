"""Incursion detection: which armed group threatened, entered or captured which capital.

`detect_incursions` reads one article sentence by sentence. A sentence yields
an incursion when a cue (a verb such as "entered", a phrase such as "at the
gates of") governs a provincial capital, named or referred to ("the city"),
the cue reports a current event (not hypothetical, negated, intended or
historical, see `modality`), and an armed group is its agent. Pure and
deterministic: the same article always gives the same incursions.

This module assembles the sentence's incursions (one per capital, the
strongest kind); the parts live apart: `lexicon` (the words), `cues` (finding
them), `targets` (which capital), `candidates` (which kind), `attribution`
(which group), `resets` (control changing hands back), `headlines` ("entered
two provincial capitals").
"""

from __future__ import annotations

from collections.abc import Sequence

from ingest.core.models import Article, Place
from ingest.core.settings import ActorConfig
from workers.alert.actors import ActorMatcher, actor_matcher, dominant_actor
from workers.alert.attribution import UNNAMED_PENALTY, Attribution
from workers.alert.candidates import RESET_VERBS, Candidate, CandidateReader
from workers.alert.cues import Cue, find_cues
from workers.alert.headlines import Headline, headline_sentences, headlines_in, tie_headlines
from workers.alert.incursion import Incursion, confidence
from workers.alert.modality import discard_reason
from workers.alert.resets import Decision, ResetReader
from workers.alert.sentences import Sentence, split_sentences
from workers.alert.targets import TargetFinder
from workers.alert.vocabulary import SENTENCE_PRIORITY

__all__ = ["Incursion", "detect_incursions"]

# Substrings (of the lower-cased text) without which no retaking is worded;
# plain `in` tests are far cheaper than a case-insensitive regex over the article.
_RETAKE_HINTS = (
    "retook", "retake", "recaptur", "regain", "reclaim", "liberat", "back in", "back under",
    "took back", "taken back", "won back", "wrested back", "reasserted", "restored",
    "established", "hands of", "free of",
)  # fmt: skip


class _ArticleReader:
    """Per-article state: sentences, the capital finder and the article's groups."""

    def __init__(
        self,
        article: Article,
        capitals: Sequence[Place],
        matcher: ActorMatcher,
        dominant: str | None,
    ) -> None:
        self.text = article.text
        self.year = article.published.year
        self.sentences = split_sentences(self.text)
        self.finder = TargetFinder(self.text, self.sentences, capitals)
        self.who = Attribution(self.text, matcher, dominant)
        self.readings = CandidateReader(self.text, self.finder, self.who)
        self.resets = ResetReader(self.text, self.year, self.who)

    def read(self) -> list[Incursion]:
        found: list[Incursion] = []
        seen: set[tuple[str, str, str, str]] = set()
        headlines: list[tuple[int, Headline]] = []
        may_be_headline = headline_sentences(self.text, self.sentences)
        for i, sentence in enumerate(self.sentences):
            if i in may_be_headline:
                found_here = headlines_in(self.text, sentence, self.year, self.who)
                headlines += [(i, h) for h in found_here]
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
        return found + tie_headlines(headlines, self.sentences, found)

    def _sentence(self, i: int, sentence: Sentence) -> list[Incursion]:
        """The sentence's incursions, at most one per capital: the strongest kind,
        then the highest confidence, in the order the capitals appear."""
        best: dict[str, tuple[int, float, Incursion]] = {}
        span = (sentence.start, sentence.end)
        lead: tuple[int, int] | None = None  # the clause a repulse cue governs
        for cue in find_cues(self.text, sentence.start, sentence.end):
            if cue.verb == "repel_lead":
                lead = self.resets.repulse_clause(sentence, cue)
                continue
            if cue.verb == "capture_noun":
                continue
            repulsed = lead is not None and lead[0] <= cue.start < lead[1]
            candidates = self.readings.candidates(i, sentence, cue, fighting=repulsed)
            if not candidates:
                if cue.verb == "repel":
                    lead = self.resets.repulse_clause(sentence, cue)
                continue
            reason = discard_reason(self.text, span, (cue.start, cue.end), self.year)
            # "forced back fighters who had tried to storm Huddur": the attempt was repulsed.
            if reason is not None and not (repulsed and reason == "modal"):
                continue
            for candidate in candidates:
                decided = self._decided(
                    i, sentence, cue, candidate, repulsed=repulsed, reason=reason
                )
                if decided is None:
                    continue
                kind, name, penalty = decided
                score = confidence(candidate.target.resolution, candidate.penalty, penalty)
                place = candidate.target.place
                incursion = Incursion(name, kind, place, sentence.text, score)
                rank = (SENTENCE_PRIORITY[kind], score)
                current = best.get(place.place_id)
                if current is None or rank > current[:2]:
                    best[place.place_id] = (*rank, incursion)
        return [entry[2] for entry in sorted(best.values(), key=lambda e: e[2].capital.start)]

    def _decided(
        self,
        i: int,
        sentence: Sentence,
        cue: Cue,
        candidate: Candidate,
        *,
        repulsed: bool,
        reason: str | None,
    ) -> Decision | None:
        """(kind, group, penalty) of a candidate, or None when no group did it."""
        if cue.verb == "return":
            return self.resets.by_the_state(sentence, cue)
        if cue.verb in RESET_VERBS:
            return self.resets.decide(sentence, cue, candidate.kind, candidate.target.part)
        if repulsed and (
            candidate.kind in ("threatened", "entered")
            # "beat back fighters who tried to overrun Damaturu"
            or (candidate.kind == "captured" and reason == "modal")
        ):
            group = self.who.armed_group(self.who.of_sentence(sentence), cue.start)
            return None if group is None else ("repelled", *group)
        return self._by_actor(i, sentence, cue, candidate)

    def _by_actor(
        self, i: int, sentence: Sentence, cue: Cue, candidate: Candidate
    ) -> Decision | None:
        actor = self.who.actor(
            sentence,
            cue,
            entry=candidate.kind == "entered",
            combat=candidate.combat,
            passive=candidate.passive,
        )
        if actor is not None:
            return candidate.kind, *actor
        if candidate.kind != "captured":
            return None
        if cue.verb == "flag":
            return self.resets.flag_of_the_state(sentence, cue)
        if cue.verb == "capture":
            # "Somali forces seized Baidoa from al-Shabab": the state taking a city retakes it.
            return self.resets.by_the_state(sentence, cue)
        if cue.verb == "passive_capture" and not self.who.of_sentence(sentence):
            # "Taloqan has fallen, an official said. 'The Taliban are in all the
            # government buildings.'": the group is named in the next sentence.
            group = self._named_next(i)
            return None if group is None else ("captured", group, UNNAMED_PENALTY)
        return None

    def _named_next(self, i: int) -> str | None:
        """The one group named in the sentence after sentence i, in its paragraph."""
        if i + 1 >= len(self.sentences):
            return None
        following = self.sentences[i + 1]
        if following.paragraph != self.sentences[i].paragraph:
            return None
        groups = {a.actor for a in self.who.of_sentence(following) if a.actor is not None}
        return groups.pop() if len(groups) == 1 else None


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
    matcher = actor_matcher(actors)
    title = matcher.named(article.title) if article.title else []
    dominant = dominant_actor(matcher.named(article.text), title)
    if dominant is None:
        lowered = article.text.lower()
        if not any(hint in lowered for hint in _RETAKE_HINTS):
            return []
    return _ArticleReader(article, capitals, matcher, dominant).read()
