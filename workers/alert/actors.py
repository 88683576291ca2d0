"""Who is acting: armed-group mentions, generic words for them, and their opponents.

An `ActorMatcher` is compiled once per actor list (see `actor_matcher`) and
then scans each article in one regex pass. Opponents ("security forces",
"government troops") are found too, so that "government forces entered
Kunduz after the Taliban withdrew" is not read as a Taliban entry.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from ingest.core.settings import ActorConfig

_GENERIC = r"insurgents|militants|fighters|rebels|jihadists|gunmen"
# State forces and those fighting beside them: "Iraqi forces", "US-backed
# forces", "army troops and allied fighters", "pro-government tribal fighters".
_OPPONENT = (
    r"(?:(?:afghan|iraqi|syrian|somali|malian|nigerian|nigerien|burkinabe|congolese|sudanese"
    r"|yemeni|mozambican|ethiopian|kenyan|chadian|rwandan|cameroonian|kurdish|african\s+union"
    r"|au|un|government|pro-government|security|national|army|police|special|commando"
    r"|coalition|u\.s\.|us|american|nato|international|foreign|elite|military|state|federal"
    r"|allied|loyalist|loyal|peacekeeping|regional|tribal|[a-z.]+-(?:backed|led|allied|aligned"
    r"|trained))\s+)+"
    r"(?:forces|troops|soldiers|units|commandos|militias?|fighters|police(?:men)?|officers"
    r"|personnel|reinforcements|militiamen|vigilantes|peacekeepers|army|military)"
    r"|the\s+(?:army|military|police|government)"
    r"|reinforcements|troops|soldiers|commandos|policemen|vigilantes|peacekeepers"
)

# "separatist rebels", "rival militants": generic words for some other group,
# which the article's named group must not stand in for.
_OTHER_GROUP_BEFORE = re.compile(
    r"\b(?:separatist|secessionist|rival|tuareg|breakaway|dissident|splinter|ethnic|clan"
    r"|self-defen[cs]e|community)\s+$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class AgentMention:
    """A phrase that can be the subject of an incursion verb.

    `actor` is the canonical actor name for a named mention, None for a
    generic word ("militants") or an opponent; `opponent` marks state forces.
    """

    start: int
    end: int
    actor: str | None
    opponent: bool

    @property
    def generic(self) -> bool:
        return self.actor is None and not self.opponent


class ActorMatcher:
    """Finds named actors, generic words and opponents in text (case-insensitive)."""

    def __init__(self, actors: Sequence[ActorConfig]) -> None:
        self._canonical: dict[str, str] = {}
        for actor in actors:
            for alias in (actor.name, *actor.aliases):
                self._canonical.setdefault(alias.lower(), actor.name)
        names = sorted(self._canonical, key=len, reverse=True)
        named = "|".join(re.escape(n) for n in names) if names else r"(?!x)x"
        # Opponents come first so "government fighters" is not read as generic.
        self._pattern = re.compile(
            rf"(?<!\w)(?:(?P<opponent>{_OPPONENT})"
            rf"|(?P<named>{named})(?:\s+(?:{_GENERIC}|forces))?"
            rf"|(?:the\s+)?(?P<generic>{_GENERIC}))(?!\w)",
            re.IGNORECASE,
        )

    def agents(self, text: str, start: int = 0, end: int | None = None) -> list[AgentMention]:
        """Every agent mention in text[start:end], in order."""
        found: list[AgentMention] = []
        stop = len(text) if end is None else end
        for m in self._pattern.finditer(text, start, stop):
            if m.group("named") is not None:
                actor = self._canonical[m.group("named").lower()]
                found.append(AgentMention(m.start(), m.end(), actor, opponent=False))
            elif m.group("opponent") is not None:
                found.append(AgentMention(m.start(), m.end(), None, opponent=True))
            elif not _OTHER_GROUP_BEFORE.search(text, max(0, m.start() - 20), m.start()):
                found.append(AgentMention(m.start(), m.end(), None, opponent=False))
        return found

    def named(self, text: str) -> list[tuple[int, str]]:
        """(offset, canonical actor) of every named actor in `text`, in order.

        Plain substring search with a whole-word check: far cheaper than the
        full agent pattern over a whole article.
        """
        lowered = text.lower()
        if len(lowered) != len(text):  # a case mapping changed lengths: offsets would drift
            return [(a.start, a.actor) for a in self.agents(text) if a.actor is not None]
        hits: list[tuple[int, int, str]] = []
        for alias, canonical in self._canonical.items():
            pos = lowered.find(alias)
            while pos != -1:
                end = pos + len(alias)
                if not _word_char(lowered, pos - 1) and not _word_char(lowered, end):
                    hits.append((pos, end, canonical))
                pos = lowered.find(alias, pos + 1)
        hits.sort(key=lambda hit: (hit[0], -hit[1]))
        found: list[tuple[int, str]] = []
        covered = -1
        for start, end, canonical in hits:
            if start >= covered:  # "ISIS-K" is one mention, not also "ISIS"
                found.append((start, canonical))
                covered = end
        return found


def _word_char(text: str, i: int) -> bool:
    return 0 <= i < len(text) and (text[i].isalnum() or text[i] == "_")


def dominant_actor(
    named: Sequence[tuple[int, str]], title: Sequence[tuple[int, str]] = ()
) -> str | None:
    """The most-named actor (ties: the first named), or None if none is named."""
    counts: Counter[str] = Counter(actor for _, actor in title)
    first: dict[str, int] = {}
    for start, actor in named:
        counts[actor] += 1
        first.setdefault(actor, start)
    if not counts:
        return None
    return min(counts, key=lambda name: (-counts[name], first.get(name, -1)))


@lru_cache(maxsize=32)
def _cached_matcher(key: tuple[tuple[str, tuple[str, ...]], ...]) -> ActorMatcher:
    return ActorMatcher([ActorConfig(name=name, aliases=list(aliases)) for name, aliases in key])


def actor_matcher(actors: Sequence[ActorConfig]) -> ActorMatcher:
    """The compiled matcher for `actors`, built once per distinct actor list."""
    return _cached_matcher(tuple((a.name, tuple(a.aliases)) for a in actors))
