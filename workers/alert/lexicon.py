"""The cue lexicon: the words that may report an incursion, by verb class.

Each row is (verb class, first words, what must follow the first word): "took"
followed by "control of" is a capture, "pushed" followed by "into" an entry,
"pushed" followed by "the militants out of" a repulse. For one first word,
earlier rows win. `cues` compiles the rows and finds them in text; the verb
classes are read by `candidates` (which kind, which capital) and `resets`.
"""

from __future__ import annotations

_ADVERB = (
    r"(?:(?:also|now|then|briefly|quickly|reportedly|effectively|finally|largely|fully"
    r"|completely|once\s+again|again|formally|officially|(?:officially\s+)?declared)\s+)?"
)
# "handed over to" and "surrendered to" name the new holder after "to".
_CAPTURED = (
    r"(?:captured|seized|overrun|taken(?:\s+over)?|conquered|lost|handed\s+over\s+to"
    r"|surrendered\s+to|ceded\s+to)"
)
_STORMED = r"(?:stormed|infiltrated|breached|penetrated)"
_BESIEGED = (
    r"(?:besieged|surrounded|encircled|attacked|threatened|shelled|cut\s+off|blockaded"
    r"|under\s+(?:an?\s+|the\s+)?(?:[\w-]+\s+)?(?:siege|blockade|encirclement)"
    r"|under\s+(?:heavy\s+)?(?:attack|fire|threat|pressure))"
)
_UNDER_CONTROL = (
    r"under\s+(?:the\s+)?(?:full\s+|complete\s+|total\s+)?(?:[\w-]+(?:['\u2019]s?)?\s+)?control"
)
_BE = "was were is are been being"
_HAVE = "has have had"

_NATION = (
    r"(?:afghan|iraqi|malian|somali|nigerian|nigerien|syrian|yemeni|congolese|sudanese|burkinabe"
    r"|mozambican|ethiopian|kenyan|chadian|cameroonian|national)"
)
_GOVERNMENT = (
    rf"(?:the\s+)?(?:full\s+|firm\s+)?(?:{_NATION}\s+)?"
    r"(?:government|state|army|military|federal|official|security)"
    r"(?:\s+(?:forces|troops|soldiers)['\u2019]?)?"
    rf"|(?:the\s+)?{_NATION}\s+(?:forces|troops|soldiers)['\u2019]?"
)
_RETAKEN = (
    r"(?:retaken|recaptured|reclaimed|liberated|won\s+back|taken\s+back|handed\s+back\s+to"
    r")"
)
_REPELLED = (
    r"(?:repelled|repulsed|thwarted|foiled|beaten\s+(?:back|off)|pushed\s+back|fought\s+off"
    r"|fended\s+off|warded\s+off|held\s+off|forced\s+back|driven\s+back|cleared)"
)
_HALTED = r"(?:broken|crushed|defeated|halted|stopped|stalled|blunted|checked|lifted|ended)"
# What a repelled attack is called: "repelled a Taliban attack on Kunduz", "beat
# off an assault by ISWAP on Damaturu", "an offensive north of Goma".
_ATTACK_ON = (
    r"\s+(?:off\s+|back\s+)?(?:(?:an?|the|their|its|another)\s+)?(?:[\w'-]+\s+){0,3}?"
    r"(?:attacks?|assaults?|offensive|push|advance|raids?|incursions?|attempts?|bids?)"
    r"(?:\s+by\s+(?:the\s+)?[\w'-]+(?:\s+[\w'-]+)?)?"
    r"\s+(?:on|against|towards|into|in|to\s+(?:enter|take|seize|capture|storm|overrun|reach)"
    r"|(?:north|south|east|west)(?:-?(?:east|west))?\s+of)"
)
# Someone pushed out of a place: "drove the militants out of Kunduz", "forced
# the fighters to retreat from Kunduz".
_OUT_OF = (
    r"\s+(?:(?:the|them|their|its|all|remaining)\s+)?(?:(?!(?:into|in|inside|to)\s)[\w'-]+\s+){0,3}?"
    r"(?:to\s+(?:retreat|withdraw|flee|pull\s+back|pull\s+out)\s+)?(?:back\s+)?"
    r"(?:out\s+of|back\s+from|away\s+from|from)"
)
# A distance that puts a group at a city's door: "within 10 km of", "only a
# kilometre from". Larger or unqualified distances locate, they do not threaten.
_UNIT = r"(?:kilometres?|kilometers?|kms?|miles?)"
_NEAR_DISTANCE = (
    r"(?:a\s+few|a\s+couple\s+of|several|a|one|two|three|four|five|six|seven|eight|nine|ten"
    r"|\d{1,2}(?:\.\d)?)\s*(?:-\s*)?"
)
_CONTROL = r"(?:full\s+|complete\s+|total\s+|firm\s+|effective\s+|state\s+|government\s+)?"
_CONTROL += r"(?:control|authority)\s+(?:of|over|in)"

# The cue lexicon: (verb class, first words, what must follow the first word).
# Cues are found by looking up each word of a sentence here, so only
# sentences' own words are tried, never every alternative at every offset.
# For one first word, earlier rows win ("was captured" before "was in control").
LEXICON: list[tuple[str, str, str]] = [
    # "fought their way into Hudur": an entry, whatever verb carried them in.
    (
        "enter",
        "made fought forced battled shot pushed muscled blasted smashed cut wormed bulldozed",
        r"\s+(?:their|its)\s+way\s+(?:into|in\s+to)",
    ),
    # Control returning to the government, or an attack pushed back.
    ("passive_retake", _BE, rf"\s+{_ADVERB}{_RETAKEN}"),
    ("passive_retake", _HAVE, rf"\s+been\s+{_ADVERB}{_RETAKEN}"),
    (
        "passive_retake",
        "is was are were came comes come returned returns returning",
        rf"\s+(?:now\s+)?(?:back|returned)\s+(?:in|under|to)\s+(?:{_GOVERNMENT}"
        rf"\s+(?:control|hands)|the\s+(?:full\s+)?(?:control|hands)\s+of\s+(?:{_GOVERNMENT}))",
    ),
    ("passive_retake", "returned returns returning", rf"\s+to\s+{_GOVERNMENT}\s+control"),
    (
        "passive_retake",
        _BE,
        rf"\s+{_ADVERB}(?:back\s+)?in\s+the\s+hands\s+of\s+(?:{_GOVERNMENT})(?!\s+of\b)",
    ),
    # "Ramadi liberated from Daesh", "declared Raqqa free of Islamic State".
    ("passive_retake", "liberated freed cleared", r"\s+(?:from|of)"),
    ("passive_retake", "free", r"\s+of"),
    # "is once again in government hands": control came back.
    (
        "passive_retake",
        _BE,
        rf"\s+(?:now\s+)?(?:once\s+again|again|back)\s+(?:in|under)\s+(?:{_GOVERNMENT})"
        r"\s+(?:control|hands)",
    ),
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
    # "the offensive on Gardez has been broken": only an attack is halted (see candidates).
    ("passive_halt", _BE, rf"\s+{_ADVERB}{_HALTED}"),
    ("passive_halt", _HAVE, rf"\s+been\s+{_ADVERB}{_HALTED}"),
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
    # The state's forces "back in full control of Ghazni".
    ("retake", "back", rf"\s+in\s+{_CONTROL}"),
    # The state's forces "were back in Ouahigouya", "returned to the city",
    # "re-entered Timbuktu" after the group left: a retaking (see resets).
    ("return", "back", r"\s+(?:in|into|inside)"),
    ("return", "returned returning", r"\s+to"),
    ("return", "re", r"-?(?:entered|entering|took|occupied)"),
    (
        "retake",
        "reasserted reassert reasserts reasserting restored restore restores restoring"
        " reestablished reimposed",
        rf"\s+(?:their\s+|its\s+)?{_CONTROL}",
    ),
    ("retake", "re", rf"-(?:established|imposed|asserted)\s+(?:their\s+|its\s+)?{_CONTROL}"),
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
        " foil fought beat beaten beating fended fending warded warding held holding halted halt"
        " stopped stop pushed pushing drove driving forced forcing threw",
        _ATTACK_ON,
    ),
    (
        "repel",
        "drove driving pushed push pushes pushing forced forcing chased"
        " chase chasing flushed flush flushing expelled expel expelling ousted oust ousting evicted"
        " evict evicting routed rout repelled repulsed",
        _OUT_OF,
    ),
    ("repel", "cleared clear clears clearing", ""),
    # "broke the siege of Marib": the group is pushed off the city.
    (
        "repel",
        "broke break breaking lifted lift lifting ended ending",
        r"\s+(?:the\s+|a\s+|their\s+)?(?:[\w-]+\s+){0,3}?(?:siege|blockade|encirclement)\s+"
        r"(?:of|on|around)",
    ),
    # "beat back waves of attackers" with the place later in the clause: a lead
    # that turns what follows into a repulse (see detect).
    (
        "repel_lead",
        "beat beaten beating fought fended fending warded warding held holding forced"
        " forcing drove driving pushed pushing threw",
        r"\s+(?:back|off)",
    ),
    ("repel_lead", "repelled repulsed", ""),
    (
        "withdraw",
        "withdrew withdraw withdraws withdrawing retreated retreat retreats retreating pulled pull"
        " pulls pulling fled flee flees fleeing",
        r"\s+(?:back\s+|out\s+|hastily\s+)?(?:from|out\s+of)",
    ),
    ("withdraw", "fled flee flees fleeing abandoned abandon abandons abandoning", ""),
    ("passive_capture", _BE, rf"\s+{_ADVERB}{_CAPTURED}"),
    ("passive_capture", _HAVE, rf"\s+been\s+{_ADVERB}{_CAPTURED}|\s+{_ADVERB}fallen"),
    ("passive_capture", "came come comes is was are were fell", rf"\s+{_ADVERB}{_UNDER_CONTROL}"),
    ("passive_capture", _HAVE, rf"\s+come\s+{_UNDER_CONTROL}"),
    # "in Taliban hands", "in al-Shabaab's hands"
    (
        "passive_capture",
        _BE,
        rf"\s+{_ADVERB}in\s+(?:the\s+)?(?:[\w-]+(?:['\u2019]s?)?\s+)?hands",
    ),
    ("passive_capture", "fell falls", ""),
    ("passive_enter", "was were", rf"\s+{_STORMED}"),
    ("passive_enter", _HAVE, rf"\s+been\s+{_STORMED}"),
    ("passive_threat", _BE, rf"\s+{_ADVERB}{_BESIEGED}"),
    # "placed Baidoa under a blockade": the capital before "under" is the subject.
    ("passive_threat", "under", r"\s+(?:an?\s+|the\s+)?(?:[\w-]+\s+)?(?:siege|blockade)"),
    ("passive_threat", _HAVE, rf"\s+been\s+{_ADVERB}{_BESIEGED}"),
    ("passive_threat", "remains remained remain", rf"\s+(?:still\s+)?{_BESIEGED}"),
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
    ("capture", "now", r"\s+(?:hold|holds|held|control|controls|controlled)"),
    # Stative "control" alone ("the Houthis, who control Sanaa") is no news; a
    # whole city is.
    (
        "capture",
        "controlled controls control controlling held holds",
        r"\s+(?:all|the\s+whole|the\s+entire|the\s+whole\s+of)(?:\s+of)?",
    ),
    # The city given up to a group named after "to" (see detect).
    (
        "handover",
        "surrendered surrender surrenders surrendering handed hand hands handing ceded cede",
        r"(?:\s+over)?",
    ),
    ("capture", "took take takes taking taken", r"\s+over"),
    # "the M23 capture of Goma" names a past event, not a report of one.
    ("capture_noun", "capture", r"\s+of"),
    (
        "capture",
        "captured capture captures capturing seized seize seizes seizing overran overrun occupied"
        " occupy occupies occupying"
        " overruns overrunning took take takes taking taken conquered conquer conquers"
        " conquering",
        "",
    ),
    (
        "enter",
        "stormed storming storms broke break breaks breaking burst bursts bursting pushed push"
        " pushes pushing moved move moves moving advanced advancing swept sweep sweeping rolled"
        " rolling poured pouring streamed streaming marched marching rode drove entry incursion"
        " incursions slipped slipping crept creeping sneaked sneaking snuck got getting",
        r"\s+into",
    ),
    ("raid", "raided raiding raids", ""),
    (
        "enter",
        "dispersed dispersing disperse spread spreading",
        r"\s+(?:throughout|through|across|into|in)",
    ),
    ("enter", "fanned fanning", r"\s+out\s+(?:throughout|through|across|into|in)"),
    (
        "enter",
        "entered enter enters entering stormed storming storm infiltrated infiltrating infiltrate"
        " invaded invading invade"
        " penetrated penetrating penetrate patrolled patrolling patrols roamed roaming",
        "",
    ),
    (
        "approach",
        "advanced advancing advance advances pushed pushing moved moving marched marching closed"
        " closing converged converging bore bearing",
        r"\s+(?:in\s+)?(?:on|towards|toward|upon)",
    ),
    ("approach", "laid lay laying lays", r"\s+siege\s+to"),
    # Sieges and blockades: "imposed a blockade on", "tightened their siege of".
    (
        "approach",
        "siege sieges blockade blockades encirclement",
        r"\s+(?:of|on|around|against)",
    ),
    ("approach", "blockaded blockading blockade blockades", ""),
    ("approach", "cut cutting", r"\s+off"),
    (
        "approach",
        "approached approaching approach approaches overlooking overlook overlooks",
        "",
    ),
    (
        "near",
        "within",
        rf"\s+(?:(?:about|around|some|roughly|just|only|barely)\s+)?(?:{_NEAR_DISTANCE}|\d+\s*)"
        rf"{_UNIT}\s+(?:of|from)",
    ),
    (
        "near",
        "within",
        r"\s+(?:striking|shelling|artillery|mortar|rocket|firing)\s+(?:distance|range)\s+of",
    ),
    ("near", "few", rf"\s+{_UNIT}\s+(?:from|of|outside|short\s+of)"),
    (
        "near",
        "only just barely mere merely",
        rf"\s+(?:about\s+|some\s+)?(?:a\s+)?{_NEAR_DISTANCE}{_UNIT}\s+(?:from|of|outside|short\s+of)",
    ),
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
    # Fire landing on a city: on its edge a threat, inside it no incursion (see vocabulary).
    (
        "strike",
        "struck strike strikes striking hit hitting landed landing slammed slamming rained raining",
        r"(?:\s+(?:on|in|into|near))?",
    ),
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
