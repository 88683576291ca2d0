"""The incursion vocabulary: city parts, triggers and what each cue signals.

What kind of incursion a cue signals depends on the verb class and on which
part of the city its object names: "seized the city" is a capture, "seized
the city's entrance" a threat, "in the alleys of Kunduz" an entry. Everything
here is compiled once at import.
"""

from __future__ import annotations

import re
from typing import Literal

from ingest.core.models import AlertKind

EventKind = Literal["threatened", "entered", "captured", "repelled", "retaken"]
"""What one report says happened: an upward step, or control returning."""

UPWARD: frozenset[EventKind] = frozenset(("threatened", "entered", "captured"))
RESETS: frozenset[EventKind] = frozenset(("repelled", "retaken"))
KIND_RANK: dict[AlertKind, int] = {"threatened": 1, "entered": 2, "captured": 3}
# Within one sentence a reset wins: "attacked Kunduz but was repelled" ends quiet.
SENTENCE_PRIORITY: dict[EventKind, int] = {
    "threatened": 1, "entered": 2, "captured": 3, "repelled": 4, "retaken": 5,
}  # fmt: skip

PartClass = Literal["whole", "edge", "fringe", "inside", "around", "seat"]

# fmt: off
# Words that may stand between a cue and the place it governs.
FILLER = frozenset((
    "the", "a", "an", "of", "and", "city", "town", "provincial", "capital", "northern", "southern",
    "eastern", "western", "north", "south", "east", "west", "north-eastern", "northeastern",
    "north-western", "northwestern", "south-eastern", "southeastern", "south-western",
    "southwestern", "central", "key", "strategic", "important", "besieged", "embattled", "main",
    "whole", "entire", "back", "northern-most", "old", "new", "very", "nearby", "several", "some",
    "many", "various", "residential", "commercial", "busy", "crowded", "populous", "outer",
    "inner", "first", "second", "third", "last", "remaining", "other",
))
# At the city's edge, not in it.
EDGE = frozenset((
    "entrance", "entrances", "gate", "gates", "gateway", "approaches", "doorstep", "perimeter",
    "airport", "vicinity", "approach", "checkpoint", "checkpoints", "defences", "defenses",
    "frontline", "frontlines", "front", "ramparts", "walls",
))
# The city's outer parts: fighting there threatens it, moving into them enters it.
FRINGE = frozenset((
    "outskirts", "outskirt", "edge", "edges", "suburbs", "suburb", "periphery",
))
# City parts that place someone inside the city even without "of <city>".
INSIDE = frozenset((
    "centre", "center", "heart", "streets", "street", "alleys", "alley", "lanes", "lane",
    "neighbourhoods", "neighbourhood", "neighborhoods", "neighborhood", "bazaar", "bazaars",
    "market", "markets", "downtown", "square", "squares", "prison", "jail", "roundabout",
    "roundabouts", "avenue", "avenues", "boulevard", "quarter",
))
# Quantities that need an explicit "of <city>" to mean anything.
INSIDE_QUANT = frozenset((
    "parts", "part", "areas", "area", "much", "most", "half", "sections", "quarters",
))
AROUND = frozenset((
    "surrounding", "outlying", "districts", "villages", "environs", "countryside",
))
# "Kunduz residents", "Kunduz police": the name modifies another noun.
NOT_TARGET_NOUNS = frozenset((
    "residents", "people", "district", "police", "council", "governor", "officials",
    "official", "university", "highway", "road", "river", "valley", "hospital", "traders",
    "elders", "lawmakers", "mps", "authorities", "commander", "commanders", "garrison", "airbase",
    "base", "presidential", "palace", "barracks", "headquarters", "compound", "port", "refinery",
    "dam", "bridge", "road", "roads",
))
# fmt: on

# The seat of government: taking it is taking the city.
SEAT = re.compile(
    r"(?:the\s+)?(?:(?:provincial|regional|state)\s+)?(?:governor(?:['\u2019]s|s['\u2019]|s)?\s+(?:office|compound"
    r"|house|residence|palace|mansion|headquarters)|government\s+(?:buildings?|headquarters"
    r"|compound|offices?))\b",
    re.IGNORECASE,
)
# Landmarks inside a city: taking one means being inside it.
LANDMARK = re.compile(
    r"(?:the\s+)?(?:main\s+|central\s+|provincial\s+|city\s+|city['\u2019]s\s+)?"
    r"(?:police\s+(?:headquarters|station|compound)|intelligence\s+(?:headquarters|offices?)"
    r"|prison|jail|hospital|university|stadium|bazaar|market)\b",
    re.IGNORECASE,
)

# Fighting on the ground, as against fire from afar: "fighting in the centre of
# Kunduz" places the group inside, "shelling killed five in a market" does not.
_GROUND_WORDS = (
    r"fight|fights|fighting|fought|clash|clashes|clashed|clashing|battle|battles|battled"
    r"|battling|gunfights?|firefights?|gun\s+battles?|skirmish(?:es|ed)?"
)
COMBAT = re.compile(
    rf"\b(?:{_GROUND_WORDS}|gunfire|shelling|shelled|offensive|bombardment|firing"
    r"|exchange\s+of\s+fire|ambush|ambushed|ambushing)\b",
    re.IGNORECASE,
)
GROUND_COMBAT = re.compile(rf"\b(?:{_GROUND_WORDS}|street\s+fighting)\b", re.IGNORECASE)
# Strikes from afar and their toll: in a city they are no incursion into it.
STRIKE = re.compile(
    r"\b(?:bomb|bombs|bombing|bombings|bomber|bombers|bombed|blasts?|explosions?|explosives?"
    r"|explod\w+|suicide|rockets?|missiles?|mortars?|shells|shelling|shelled|drones?|air\s*strikes?"
    r"|airstrikes?|strikes?|grenades?|ieds?|artillery|killed|killing|wounded|wounding|injured"
    r"|dead|casualties|assassinat\w+)\b",
    re.IGNORECASE,
)
# What a strike is called when it is an attack noun: "a rocket attack on Kabul".
STRIKE_BEFORE = re.compile(
    r"\b(?:rocket|rockets|mortar|mortars|drone|drones|missile|missiles|suicide|bomb|bombing"
    r"|car[- ]bomb|grenade|artillery|air|airstrike|ied|sniper|terror|terrorist|shelling"
    r"|complex|coordinated\s+suicide)\s+(?:[\w-]+\s+)?$",
    re.IGNORECASE,
)
# Meetings and talks in a capital are no fighting there.
TALKS = re.compile(
    r"\b(?:talks|negotiations?|negotiators?|delegations?|summit|conference|meetings?|met|visit"
    r"|visited|visiting|ceasefire|truce|peace\s+(?:deal|process|agreement|accord))\b",
    re.IGNORECASE,
)
# People who are no armed group: their gathering or fleeing is no incursion.
# "Residents said ..." only reports, so a speech verb after the noun excuses it.
CIVILIANS = re.compile(
    r"\b(?:residents|civilians|families|people|inhabitants|villagers|traders|shopkeepers"
    r"|merchants|students|women|children|refugees|displaced|protest[eo]rs|demonstrators|crowds?"
    r"|mourners|worshippers|survivors|farmers|herders|aid\s+workers|journalists|passengers"
    r"|patients|locals|citizens|officials|staff|employees)\b"
    r"(?!\s+(?:said|say|says|told|tell|reported|report|added|described|recounted))",
    re.IGNORECASE,
)
PRESENCE = re.compile(
    r"\b(?:appeared|appear|appears|appearing|seen|spotted|present|roaming|roamed|patrolling"
    r"|patrolled|gathered|gathering|massed|massing|amassed|amassing|deployed|positioned"
    r"|visible|took\s+up\s+positions|taking\s+up\s+positions)\b",
    re.IGNORECASE,
)

_PART_WORDS = "|".join(sorted(EDGE | FRINGE | INSIDE | AROUND))
# The next word names a part of a city ("port [neighbourhoods]").
PART_AHEAD = re.compile(
    rf"\s+(?:{'|'.join(sorted(EDGE | FRINGE | INSIDE | AROUND | INSIDE_QUANT))})\b",
    re.IGNORECASE,
)
# "the city", "the provincial capital", "the capital's"; not "the city of Kunduz"
# or "the capital Kabul", which only introduce a name. "its" counts only before
# a city part ("its neighbourhoods").
# The first letter comes first, then the word-start test: a pattern that opens
# with a character set is scanned for that set at C speed, not tried everywhere.
REFERENCE = re.compile(
    r"[TtIi](?:(?<=[Tt])(?<!\w[Tt])he\s+(?:(?:provincial|northern|southern|eastern|western"
    r"|besieged|embattled|strategic|regional)\s+)?(?:city|town|capital)\b(?!\s+(?:of\s+)?[A-Z])"
    rf"|(?<=[Ii])(?<!\w[Ii])ts\b(?=\s+(?:[\w-]+\s+)?(?:{_PART_WORDS})\b))"
)

IN_PREPS = frozenset({"in", "inside", "into", "throughout", "through", "across", "within"})
_STRONG_IN = frozenset({"inside", "throughout", "within"})
_NEAR_PREPS = frozenset({"near", "around", "outside", "close to", "towards", "toward"})

# A delegation "arrived in Kabul": reaching a city as such is no incursion.
# "Moved into the outskirts" is an entry; "captured the outskirts" only a threat.
_VERB_KINDS: dict[str, dict[PartClass, EventKind | None]] = {
    "capture": {
        "whole": "captured", "seat": "captured", "inside": "entered",
        "fringe": "threatened", "edge": "threatened", "around": "threatened",
    },
    "enter": {
        "whole": "entered", "seat": "entered", "inside": "entered",
        "fringe": "entered", "edge": "threatened", "around": "threatened",
    },
    "approach": {
        "whole": "threatened", "seat": "threatened", "inside": "threatened",
        "fringe": "threatened", "edge": "threatened", "around": "threatened",
    },
    "near": {
        "whole": "threatened", "seat": "threatened", "inside": "threatened",
        "fringe": "threatened", "edge": "threatened", "around": "threatened",
    },
    # Fire on an airport or into a city is a strike; on its outskirts, a threat.
    "strike": {
        "whole": None, "seat": None, "inside": None,
        "fringe": "threatened", "edge": None, "around": "threatened",
    },
    "raid": {
        "whole": "entered", "seat": "entered", "inside": "entered",
        "fringe": "threatened", "edge": "threatened", "around": "threatened",
    },
    "handover": {
        "whole": "captured", "seat": "captured", "inside": None,
        "fringe": None, "edge": None, "around": None,
    },
    "reach": {
        "whole": None, "seat": "entered", "inside": "entered",
        "fringe": "threatened", "edge": "threatened", "around": "threatened",
    },
    # A flag over a square is a show of presence; over the governor's office, of control.
    "flag": {
        "whole": "captured", "seat": "captured", "inside": "entered",
        "fringe": "threatened", "edge": "threatened", "around": "threatened",
    },
    # Retaking part of a city is no retaking; pushing them from its edge repels them.
    "retake": {
        "whole": "retaken", "seat": "retaken", "inside": None,
        "fringe": "repelled", "edge": "repelled", "around": "repelled",
    },
    "repel": {
        "whole": "repelled", "seat": "repelled", "inside": "repelled",
        "fringe": "repelled", "edge": "repelled", "around": "repelled",
    },
    "government_held": {
        "whole": None, "seat": None, "inside": None,
        "fringe": None, "edge": None, "around": None,
    },
}  # fmt: skip


def verb_kind(verb: str, part: PartClass) -> EventKind | None:
    """The incursion kind a verb class signals for an object naming `part` of a city;
    None for classes that only shape other cues ("repel_lead", "capture_noun")."""
    kinds = _VERB_KINDS.get(verb)
    return None if kinds is None else kinds[part]


def prep_kind(prep: str, part: PartClass, *, combat: bool, presence: bool) -> AlertKind | None:
    """The kind signalled by "<prep> <part of a city>", given the sentence's triggers.

    `combat`: fighting words in the clause; `presence`: a presence verb
    ("appeared", "seen") before the preposition. A bare "in Kunduz" means
    nothing on its own; "fighting in Kunduz" is a threat and "appeared in
    Kunduz" an entry.
    """
    prep = " ".join(prep.lower().split())
    triggered = combat or presence
    kind: AlertKind | None = None
    if part == "fringe" and prep == "into":
        kind = "entered"
    elif part in ("edge", "fringe") or (part == "around" and combat):
        kind = "threatened"
    elif part in ("inside", "seat"):
        if prep in IN_PREPS:
            kind = "entered"
        elif triggered:
            # Fighting near the market or the governor's compound is fighting in the city.
            kind = "threatened" if prep in _NEAR_PREPS and not combat else "entered"
    elif part == "whole" and prep != "to":
        if prep in _STRONG_IN or (presence and prep in IN_PREPS):
            kind = "entered"
        elif combat or (presence and prep in _NEAR_PREPS):
            kind = "threatened"
    return kind


def part_of(word: str) -> PartClass | None:
    """The city part a (lower-case) word names, if any."""
    if word in EDGE:
        return "edge"
    if word in FRINGE:
        return "fringe"
    if word in AROUND:
        return "around"
    if word in INSIDE or word in INSIDE_QUANT:
        return "inside"
    return None
