"""Find the places an article's text mentions: `tag_places`.

Matching: every gazetteer spelling is found with one Aho-Corasick pass over
the normalised text. A match counts only as a whole word (the characters
either side are not letters or digits, so "Farah" is not found in
"Farahnaz" and "Kunduz's" still is) and only if the original text does not
start it with a lower-case letter (so "a mazar" is a shrine, not
Mazar-i-Sharif). Overlapping matches: the longest wins ("Bagram Airfield",
not "Bagram"; "Maidan Wardak", not a piece of it).

Deciding the type of a name that several places share (a capital named like
its province), in order; `decided_by` records which step decided:

1. a cue word around the mention (see `cues`): the cue's name;
2. a plural cue on a list the mention is part of ("Kunduz and Takhar
   provinces"): "coordination";
3. the nearest mention of the same name elsewhere in the text that steps 1-2
   decided with a cue that says what the writer means by the name
   (`Cue.spreads`: "Kunduz city" does, "Kunduz's provincial council" does
   not), the one before it, else the one after: "document-context";
4. otherwise the gazetteer's default for the name (`Candidates.default`):
   "default-capital" or "default-province", with a low confidence.

Before that, names that are more than a place are sorted out (see
`ambiguity`): a mention that is part of a person's name is dropped; a name
of places in several countries is narrowed to the country the text names
(its confidence then at most `CONFIDENCE_COUNTRY_FOCUS`), or, when the
text does not say, kept as the default reading with `decided_by`
"ambiguous-country" and confidence `CONFIDENCE_AMBIGUOUS_COUNTRY`; a weak
name (common word, very short) without a cue or its country named
elsewhere is dropped.

A name of one place only gets that place: `decided_by` is the cue that
agrees with it if there is one, else "unique-name" (a contradicting cue
only lowers the confidence). No mention is dropped for being ambiguous.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import cache

from ingest.core.models import Place
from workers.geotag.ambiguity import (
    choose_country,
    country_evidence,
    person_after,
    person_before,
)
from workers.geotag.cues import Cue, Sense, dateline_cue, find_cue
from workers.geotag.gazetteer import Candidates, Entry, Gazetteer
from workers.geotag.normalise import Normalised, normalise

__all__ = ["TagResult", "tag_places"]

CONFIDENCE_UNIQUE_WITH_CUE = 0.95
CONFIDENCE_UNIQUE = 0.9
CONFIDENCE_CUE = 0.9
CONFIDENCE_COORDINATION = 0.85
CONFIDENCE_UNIQUE_AGAINST_CUE = 0.75
CONFIDENCE_DOCUMENT = 0.7
CONFIDENCE_DEFAULT = 0.5
CONFIDENCE_COUNTRY_FOCUS = 0.8
CONFIDENCE_AMBIGUOUS_COUNTRY = 0.3

# What may stand between two names of one list: ", ", " and ", ", or " ...
_LIST_JOINER = re.compile(r",? (?:and|or|&) |, ")


@dataclass(frozen=True, slots=True)
class TagResult:
    """The places of one text, in text order, and its countries by mentions."""

    places: list[Place]
    focus_countries: list[str]


@dataclass(slots=True)
class _Mention:
    start: int
    end: int
    candidates: Candidates
    cue: Cue | None = None
    sense: Sense | None = None
    decided_by: str | None = None
    spreads: bool = False
    country_guess: bool = False
    """The name has places in several countries and the text did not say which."""
    country_focus: bool = False
    """The name has places in several countries; the text's other names chose one."""


def _whole_word_matches(norm: Normalised, original: str, gazetteer: Gazetteer) -> list[_Mention]:
    text = norm.text
    found: list[_Mention] = []
    for last, index in gazetteer.automaton.iter(text):
        candidates = gazetteer.candidates_at(index)
        end = last + 1
        start = end - len(candidates.key)
        if start > 0 and text[start - 1].isalnum():
            continue
        if end < len(text) and text[end].isalnum():
            continue
        begin = norm.original_start(start)
        if original[begin].islower():
            continue
        if person_before(original, begin) or person_after(
            original, norm.original_start(end - 1) + 1, candidates.key
        ):
            continue
        found.append(_Mention(start, end, candidates))
    return _longest(found)


def _apply_countries(mentions: list[_Mention]) -> list[_Mention]:
    """Narrow each name of several countries to one (see `ambiguity`);
    returns the narrowed mentions, whose cues must be read again."""
    evidence = country_evidence(
        mention.candidates for mention in mentions if mention.sense or not mention.candidates.weak
    )
    narrowed = []
    for mention in mentions:
        candidates = mention.candidates
        if len(candidates.countries) < 2:
            continue
        narrowed.append(mention)
        mention.sense = mention.decided_by = None
        chosen = choose_country(candidates, evidence)
        if chosen is None:
            mention.candidates = candidates.per_country[candidates.default.country]
            mention.country_guess = True
        else:
            mention.candidates = chosen
            mention.country_focus = True
    return narrowed


def _supported(mentions: list[_Mention]) -> list[_Mention]:
    """The mentions without the weak names that nothing supports."""
    evidence = country_evidence(
        mention.candidates for mention in mentions if mention.sense or not mention.candidates.weak
    )
    kept = []
    for mention in mentions:
        if mention.candidates.weak and not mention.country_guess:
            own = mention.candidates.countries[0]
            agreeing = mention.sense is not None or mention.decided_by is not None
            if not agreeing and mention.cue is not None:
                agreeing = _pick(mention.candidates, mention.cue.sense) is not None
            if not agreeing and evidence[own] == 0:
                continue
        elif mention.candidates.weak:
            continue
        kept.append(mention)
    return kept


def _longest(found: list[_Mention]) -> list[_Mention]:
    """Drop every match that overlaps a longer one (ties: the earlier wins)."""
    found.sort(key=lambda mention: (mention.start, mention.start - mention.end))
    kept: list[_Mention] = []
    cluster: list[_Mention] = []
    cluster_end = -1
    for mention in [*found, None]:
        if mention is not None and mention.start < cluster_end:
            cluster.append(mention)
            cluster_end = max(cluster_end, mention.end)
            continue
        if len(cluster) == 1:
            kept.extend(cluster)
        elif cluster:
            # Overlaps are rare, so the quadratic pick only runs on small clusters.
            chosen: list[_Mention] = []
            for candidate in sorted(cluster, key=lambda m: (m.start - m.end, m.start)):
                if all(candidate.end <= c.start or candidate.start >= c.end for c in chosen):
                    chosen.append(candidate)
            kept.extend(sorted(chosen, key=lambda m: m.start))
        if mention is not None:
            cluster = [mention]
            cluster_end = mention.end
    return kept


def _pick(candidates: Candidates, sense: Sense) -> Entry | None:
    """The entry of `candidates` that `sense` points at, if it has one."""
    if sense == "province":
        wanted: tuple[str, ...] = ("province",)
    else:
        wanted = ("capital", "other")
    for kind in wanted:
        for entry in candidates.entries:
            if entry.type == kind:
                return entry
    return None


def _apply_cues(norm: Normalised, original: str, mentions: list[_Mention]) -> None:
    for index, mention in enumerate(mentions):
        if mention.candidates.default.type == "country":
            continue
        cue = None
        if index == 0:
            cue = dateline_cue(original, *norm.original_span(mention.start, mention.end))
        if cue is None:
            cue = find_cue(norm.text, mention.start, mention.end)
        mention.cue = cue
        if cue is not None and _pick(mention.candidates, cue.sense) is not None:
            mention.sense = cue.sense
            mention.decided_by = cue.name
            mention.spreads = cue.spreads


def _apply_coordination(text: str, mentions: list[_Mention]) -> None:
    """Spread a plural cue over the list of names it qualifies."""
    lists: list[list[_Mention]] = []
    for mention in mentions:
        if lists:
            previous = lists[-1][-1]
            if _LIST_JOINER.fullmatch(text, previous.end, mention.start):
                lists[-1].append(mention)
                continue
        lists.append([mention])
    for names in lists:
        if len(names) < 2:
            continue
        first, last = names[0].cue, names[-1].cue
        cue = last if last is not None and last.plural else first
        if cue is None or not cue.plural:
            continue
        for mention in names:
            if mention.sense is None and _pick(mention.candidates, cue.sense) is not None:
                mention.sense = cue.sense
                mention.decided_by = "coordination"
                mention.spreads = cue.spreads


def _apply_document_context(mentions: list[_Mention]) -> None:
    """Give an undecided shared name the sense of its nearest mention that a
    spreading cue decided (see `Cue.spreads`)."""
    decided: dict[tuple[str, ...], list[_Mention]] = {}
    for mention in mentions:
        if mention.spreads and mention.candidates.ambiguous:
            decided.setdefault(mention.candidates.group, []).append(mention)
    for mention in mentions:
        if mention.sense is not None or not mention.candidates.ambiguous:
            continue
        others = decided.get(mention.candidates.group)
        if not others:
            continue
        before = [other for other in others if other.start < mention.start]
        nearest = before[-1] if before else others[0]
        mention.sense = nearest.sense
        mention.decided_by = "document-context"


def _resolve(mention: _Mention) -> tuple[Entry, str, float]:
    candidates = mention.candidates
    if not candidates.ambiguous:
        entry = candidates.default
        if entry.type == "country":
            return entry, "country-name", CONFIDENCE_UNIQUE
        if mention.cue is None:
            return entry, "unique-name", CONFIDENCE_UNIQUE
        if _pick(candidates, mention.cue.sense) is entry:
            return entry, mention.cue.name, CONFIDENCE_UNIQUE_WITH_CUE
        return entry, "unique-name", CONFIDENCE_UNIQUE_AGAINST_CUE
    if mention.sense is not None and mention.decided_by is not None:
        entry_or_none = _pick(candidates, mention.sense)
        if entry_or_none is not None:
            confidence = {
                "coordination": CONFIDENCE_COORDINATION,
                "document-context": CONFIDENCE_DOCUMENT,
            }.get(mention.decided_by, CONFIDENCE_CUE)
            return entry_or_none, mention.decided_by, confidence
    entry = candidates.default
    how = "default-capital" if entry.type == "capital" else f"default-{entry.type}"
    return entry, how, CONFIDENCE_DEFAULT


def _place(
    entry: Entry, original: str, span: tuple[int, int], decided_by: str, confidence: float
) -> Place:
    start, end = span
    # model_validate on a dict is about twice as fast as keyword construction.
    return Place.model_validate(
        {
            **_static_fields(entry),
            "matched": original[start:end],
            "start": start,
            "end": end,
            "confidence": confidence,
            "decided_by": decided_by,
        }
    )


@cache
def _static_fields(entry: Entry) -> dict[str, object]:
    """The fields of a `Place` that come from the gazetteer entry alone."""
    return {
        "place_id": entry.place_id,
        "name": entry.name,
        "type": entry.type,
        "country": entry.country,
        "province": entry.province,
        "iso_3166_2": entry.iso_3166_2,
        "geonames_id": entry.geonames_id,
        "lat": entry.lat,
        "lon": entry.lon,
    }


def _focus_countries(places: list[Place]) -> list[str]:
    counts = Counter(place.country for place in places)
    first_seen = {place.country: index for index, place in reversed(list(enumerate(places)))}
    return sorted(counts, key=lambda country: (-counts[country], first_seen[country]))


def tag_places(text: str, gazetteer: Gazetteer) -> TagResult:
    """Every place `text` mentions, with spans into `text` itself.

    Pure and thread-safe: reads `gazetteer`, builds nothing that outlives
    the call.
    """
    norm = normalise(text)
    mentions = _whole_word_matches(norm, text, gazetteer)
    _apply_cues(norm, text, mentions)
    narrowed = _apply_countries(mentions)
    _apply_cues(norm, text, narrowed)
    mentions = _supported(mentions)
    _apply_coordination(norm.text, mentions)
    _apply_document_context(mentions)
    places = []
    for mention in mentions:
        entry, decided_by, confidence = _resolve(mention)
        if mention.country_guess:
            decided_by = "ambiguous-country"
            confidence = min(confidence, CONFIDENCE_AMBIGUOUS_COUNTRY)
        elif mention.country_focus:
            confidence = min(confidence, CONFIDENCE_COUNTRY_FOCUS)
        span = norm.original_span(mention.start, mention.end)
        places.append(_place(entry, text, span, decided_by, confidence))
    return TagResult(places=places, focus_countries=_focus_countries(places))
