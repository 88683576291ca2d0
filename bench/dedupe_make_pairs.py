# ruff: noqa: E501  (sentence templates read better unbroken)
"""Build the labelled dedupe pairs in bench/data/dedupe/pairs.jsonl (deterministic).

Every text is assembled from the sentence templates below, written for this
benchmark. An *event* is a set of facts (who, where, when, figures, names);
each event is reported independently in two house styles ("ledger" and
"courier") that share facts but not wording. Pairs:

- copy: a report and a syndicated copy of it with realistic edits (dateline
  and agency tag, credit line, byline, "Read more:" and share lines, cut or
  added paragraphs, truncation to the first half, spelling and word edits,
  merged paragraphs), labelled duplicate + same story;
- same_event: the two independent reports of one event, labelled not a
  duplicate + same story (some quote the same official verbatim);
- unrelated: reports of two different events, often of the same kind, in the
  same style, on the same day, labelled not a duplicate + different story.

Run: .venv/bin/python bench/dedupe_make_pairs.py
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

OUT = Path(__file__).resolve().parent / "data" / "dedupe" / "pairs.jsonl"
SEED = 4

PLACES = [
    ("Kunduz", "Kunduz", "Afghanistan"), ("Maimana", "Faryab", "Afghanistan"),
    ("Taloqan", "Takhar", "Afghanistan"), ("Pul-i-Khumri", "Baghlan", "Afghanistan"),
    ("Lashkar Gah", "Helmand", "Afghanistan"), ("Ghazni", "Ghazni", "Afghanistan"),
    ("Kismayo", "Lower Juba", "Somalia"), ("Baidoa", "Bay", "Somalia"),
    ("Mopti", "Mopti", "Mali"), ("Gao", "Gao", "Mali"), ("Marib", "Marib", "Yemen"),
    ("Maiduguri", "Borno", "Nigeria"), ("Goma", "North Kivu", "Congo"),
    ("El Fasher", "North Darfur", "Sudan"), ("Djibo", "Soum", "Burkina Faso"),
    ("Pemba", "Cabo Delgado", "Mozambique"), ("Idlib", "Idlib", "Syria"),
    ("Lashio", "Shan", "Myanmar"), ("Bunia", "Ituri", "Congo"), ("Wad Madani", "Gezira", "Sudan"),
]
ACTORS = ["Taliban", "al-Shabaab", "JNIM", "Houthi", "Boko Haram", "M23", "RSF", "ISWAP"]
PEOPLE = [
    "Abdul Wahid Sarwari", "Ghulam Rabbani Hotak", "Fatima Noori", "Hassan Abdi Farah",
    "Amadou Traore", "Yahya al-Sharif", "Musa Bulama", "Jean-Pierre Kambale", "Adam Khamis",
    "Issa Ouedraogo", "Carlos Macuacua", "Khaled Haj Ali", "Sai Aung Min", "Grace Mbuyi",
    "Nadia Rahimi", "Omar Sheikh Nur", "Ousmane Diallo", "Aminu Garba", "Salma Haidari",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
AGENCIES = [("Wire", "WIRE"), ("Reuters", "REUTERS"), ("AFP", "AFP"), ("AP", "AP"),
            ("Bloomberg", "BLOOMBERG"), ("NYTimes", "NYTIMES")]

# {c} city, {p} province, {n} country, {a} actor, {d} day, {x}/{y} numbers,
# {o} official, {w} witness.
KINDS: dict[str, dict[str, list[str]]] = {
    "entered": {
        "ledger": [
            "{a} fighters entered {c}, the capital of {p} province, on {d}, local officials said, "
            "the most serious blow so far in an offensive that has overrun {x} districts in {n}.",
            "Residents said the fighters seized the main gate of the city before dawn and then "
            "spread through the bazaar and the streets around the governor's compound.",
            "\"There is shooting in every alley and people are hiding in their basements,\" said "
            "{w}, a shopkeeper reached by telephone.",
            "{o}, a spokesman for the provincial governor, said reinforcements had been sent from "
            "the national capital and that troops still held the airport and the police "
            "headquarters.",
            "The city has changed hands before, and each time government forces needed weeks and "
            "air support to push the attackers back into the countryside.",
            "Aid groups said about {y} families had fled toward neighbouring districts since the "
            "weekend, many of them on foot with only what they could carry.",
            "Telephone lines to several neighbourhoods were cut on {d} evening, and hospital staff "
            "said they had received dozens of wounded civilians.",
            "Analysts said the fall of a provincial seat would deal a heavy blow to morale in an "
            "army already weakened by desertions and supply shortages.",
        ],
        "courier": [
            "Insurgents from the {a} movement pushed into {c} on {d}, according to two members of "
            "the {p} provincial council, as the armed group tightened its hold on northern {n}.",
            "Speaking to reporters, {o} admitted that the attackers had reached the city centre "
            "but said the {a} would be driven out within days.",
            "Council members described fierce street battles near the central market, with "
            "government units retreating toward the old fortress on the edge of town.",
            "A statement from the interior ministry acknowledged heavy fighting but insisted that "
            "the situation in {c} remained under control.",
            "\"We can hear explosions from the direction of the river, and nobody dares to go "
            "outside,\" {w} told this newspaper in a voice message.",
            "The assault followed {x} days of clashes in surrounding villages that left the roads "
            "into the city cut off for most of the past week.",
            "Humanitarian workers estimated that at least {y} households had abandoned their homes, "
            "crowding into schools and mosques in safer districts.",
            "Security experts warned that the loss of {c} could open the road to other cities in "
            "{n} that have so far resisted the offensive.",
            "The provincial police chief could not be reached for comment late on {d}.",
        ],
    },
    "outskirts": {
        "ledger": [
            "Heavy fighting broke out on {d} near the entrance of {c}, the capital of {p} province, "
            "as {a} fighters advanced from the surrounding farmland, officials said.",
            "{o}, the deputy governor, said the attackers had been stopped at a checkpoint about two "
            "kilometres from the city limits after a battle lasting several hours.",
            "Residents of the eastern suburbs reported mortar fire landing in orchards and on the "
            "road to the airport, and several shops closed early.",
            "\"We are ready to defend every street, but we need ammunition and we need it now,\" "
            "said {w}, a local militia commander.",
            "The defence ministry said {x} attackers had been killed, a figure that could not be "
            "independently verified.",
            "Traders said prices of flour and fuel had almost doubled since the main highway was "
            "closed by the fighting.",
            "The clashes come weeks after the group captured several rural districts around the "
            "provincial seat with little resistance.",
        ],
        "courier": [
            "Gunfire echoed across the outskirts of {c}, the main city of {p} in {n}, on {d} as "
            "{a} militants tried to break through defensive lines, according to residents.",
            "{o} told local television that government forces had pushed the {a} back from the "
            "checkpoints and that the city was calm by nightfall.",
            "Government soldiers backed by local volunteers held positions along the canal that "
            "marks the western edge of town, a police officer said on condition of anonymity.",
            "The militants have encircled the city on three sides, cutting the road that links "
            "{c} with the rest of {n}.",
            "Hospital officials said {y} wounded people had been brought in overnight, among them "
            "women and children hit by stray bullets.",
            "\"If they enter, there will be nowhere left for us to run,\" said {w}, who has moved "
            "his family to a relative's house in the centre.",
            "Military sources said air strikes had targeted militant gatherings in villages near "
            "the city, without giving details of casualties.",
            "The offensive is the group's most ambitious push toward {p} in more than a year.",
        ],
    },
    "flood": {
        "ledger": [
            "Flash floods swept through {c} and nearby villages in {p} on {d}, killing at least {x} "
            "people and destroying hundreds of mud-brick homes, officials in {n} said.",
            "{o}, who heads the provincial disaster agency, said rescue teams were still searching "
            "for people missing after the river burst its banks overnight.",
            "Roads and a bridge linking the city to the rest of {n} were washed away, leaving "
            "relief convoys stranded on the far side of the valley.",
            "\"The water came so fast that we only had time to grab the children,\" said {w}, a "
            "farmer whose house collapsed.",
            "Forecasters warned that more heavy rain was expected later in the week.",
            "Aid agencies said about {y} families needed shelter, clean water and food.",
        ],
        "courier": [
            "Torrential rain turned streets in {c} into rivers on {d}, with the death toll from the "
            "flooding in {p} climbing to {x}, according to local authorities in {n}.",
            "The head of the provincial disaster agency, {o}, said several villages along the "
            "river could still not be reached by rescuers.",
            "Television footage showed residents wading through waist-deep water and cars piled "
            "against the walls of the central market.",
            "The government of {n} said it would send helicopters and emergency supplies to {p} as "
            "soon as the weather allowed.",
            "\"We have lost everything, our animals, our seeds, our house,\" {w} said.",
            "Engineers said the main dam upstream was holding, but they were releasing water to "
            "ease the pressure on its walls.",
            "Relief groups estimated that {y} households had been displaced in the province.",
        ],
    },
    "election": {
        "ledger": [
            "Election officials in {p} province of {n} began counting ballots on {d} after a vote "
            "marred by delays, missing ballot papers and scattered protests in {c}.",
            "{o}, who chairs the provincial electoral commission, said turnout had reached about "
            "{x} per cent, higher than in the previous poll.",
            "Opposition candidates accused the governing party of buying votes and said they would "
            "challenge the results in court.",
            "\"We queued for five hours and then they told us our names were not on the list,\" "
            "said {w}, a teacher.",
            "Observers said the vote was largely peaceful, despite reports of intimidation in "
            "several rural districts.",
            "Preliminary results are expected within {y} days.",
        ],
        "courier": [
            "Voters in {c} waited in long lines on {d} as polling stations opened hours late "
            "across {p}, according to monitors in {n}.",
            "Commission chairman {o} blamed the delays on late deliveries and promised that every "
            "valid ballot would be counted.",
            "The main opposition alliance said its agents had been turned away from dozens of "
            "counting centres and demanded a recount.",
            "Authorities in {n} said the delays were caused by bad weather that held up the "
            "delivery of ballot boxes.",
            "\"This is the first time I have voted and I will not give up,\" said {w}, a university "
            "student.",
            "Turnout figures of around {x} per cent were announced by the commission late in the "
            "evening.",
            "Police said {y} people had been detained after scuffles outside a counting centre.",
        ],
    },
    "market": {
        "ledger": [
            "Fuel prices in {c} rose by {x} per cent on {d} after the government of {n} cut "
            "subsidies, prompting long queues at petrol stations across {p}.",
            "{o}, a trade ministry official, said the subsidy had become unaffordable and that "
            "the savings would go to schools and clinics.",
            "Bus drivers raised fares almost at once, and traders warned that food prices would "
            "follow within days.",
            "\"I spend half of what I earn just to get to work,\" said {w}, a nurse.",
            "The currency has lost about {y} per cent of its value against the dollar this year.",
        ],
        "courier": [
            "Motorists in {c} faced sharply higher pump prices on {d}, the first day without the "
            "fuel subsidy that {n} had kept for more than a decade, and queues formed across {p}.",
            "Defending the decision, {o} of the trade ministry told parliament that the country "
            "could no longer afford to pay for cheap petrol.",
            "Economists said the move would ease pressure on public finances but hit poorer "
            "households hardest.",
            "Unions in {p} threatened a general strike unless the decision was reversed.",
            "\"Everything will cost more now, from bread to school fees,\" {w} said outside a "
            "filling station.",
            "Officials said the increase of {x} per cent would be reviewed in {y} months.",
        ],
    },
    "outbreak": {
        "ledger": [
            "Health officials in {p} confirmed an outbreak of cholera in {c} on {d}, with {x} cases "
            "recorded in the past week, the worst in {n} this year.",
            "{o}, the provincial health director, said contaminated wells in two crowded "
            "neighbourhoods were the likely source.",
            "Clinics have set up treatment tents and appealed for rehydration salts and "
            "chlorine tablets.",
            "\"My son fell sick in the night and by morning he could not stand,\" said {w}.",
            "The ministry of health in {n} said it would begin a vaccination campaign within "
            "{y} days.",
        ],
        "courier": [
            "A cholera outbreak has spread through {c} in {n}, doctors said on {d}, as the number "
            "of patients admitted to the main hospital in {p} rose to {x}.",
            "Provincial health director {o} said the source of the infection had probably been "
            "found in two wells used by thousands of people.",
            "Medical charities said poor sanitation in camps for displaced people had allowed the "
            "disease to spread quickly across {p}.",
            "Authorities in {n} urged residents to boil drinking water and to wash their hands "
            "often.",
            "\"We do not have enough beds, patients are lying in the corridors,\" {w}, a nurse, "
            "said.",
            "Officials hope to vaccinate {y} thousand people before the rainy season.",
        ],
    },
}
BACKGROUND = {
    "ledger": [
        "The region has seen years of conflict, displacement and failed harvests.",
        "Foreign donors have cut aid budgets sharply over the past two years.",
        "The government has promised an inquiry into the response.",
    ],
    "courier": [
        "Many residents had already moved away after earlier waves of violence and drought.",
        "International partners have scaled back their presence in the area.",
        "Parliament is due to debate the situation next week.",
    ],
}
ADDED = [
    "Our correspondent in the region contributed additional details to this report.",
    "Local radio stations suspended their normal programmes to broadcast safety advice.",
    "The story has been updated with comments from the provincial authorities.",
    "Schools in the area will remain closed until further notice, the education office said.",
]
SPELLING = [("Taliban", "Taleban"), ("neighbour", "neighbor"), (" per cent", "%"),
            ("kilometres", "km"), ("defence", "defense"), ("centre", "center")]


@dataclass(frozen=True)
class Event:
    key: str
    kind: str
    facts: dict[str, str]


def fill(template: str, facts: dict[str, str]) -> str:
    return template.format(**facts)


def make_events(rng: random.Random, count: int) -> list[Event]:
    events = []
    for number in range(count):
        kind = list(KINDS)[number % len(KINDS)]
        city, province, country = rng.choice(PLACES)
        official, witness = rng.sample(PEOPLE, 2)
        facts = {"c": city, "p": province, "n": country, "a": rng.choice(ACTORS),
                 "d": rng.choice(DAYS), "x": str(rng.randint(3, 60)), "y": str(rng.randint(2, 900)),
                 "o": official, "w": witness}
        events.append(Event(f"event-{number:03d}", kind, facts))
    return events


def report(rng: random.Random, event: Event, style: str) -> list[str]:
    pool = KINDS[event.kind][style]
    keep = sorted(rng.sample(range(2, len(pool)), k=rng.randint(len(pool) - 4, len(pool) - 2)))
    paragraphs = [fill(pool[i], event.facts) for i in (0, 1, *keep)]
    if rng.random() < 0.6:
        paragraphs.append(rng.choice(BACKGROUND[style]))
    return paragraphs


def syndicate(rng: random.Random, paragraphs: list[str], event: Event) -> tuple[list[str], str]:
    """A copy with 2-4 realistic edits; returns the copy and a description of the edits."""
    copy = list(paragraphs)
    edits: list[str] = []
    options = ["dateline", "credit", "byline", "readmore", "share", "cut", "truncate", "add",
               "spelling", "merge", "words"]
    for edit in rng.sample(options, k=rng.randint(2, 4)):
        if edit == "dateline":
            agency = rng.choice(AGENCIES)[0]
            copy[0] = f"{event.facts['c'].upper()} ({agency}) \u2014 {copy[0]}"
        elif edit == "credit":
            first, second = rng.sample(AGENCIES, 2)
            copy.append(f"{first[1]}, {second[1]}")
        elif edit == "byline":
            copy.insert(0, f"By {rng.choice(PEOPLE)}")
        elif edit == "readmore":
            copy.insert(rng.randint(2, len(copy)), "Read more: " + rng.choice(
                ["Aid agencies warn of a hungry winter", "What the offensive means for the north",
                 "Timeline: two decades of conflict", "Prices climb as roads stay closed"]))
        elif edit == "share":
            copy.append("Share this story: Facebook \u00b7 X \u00b7 WhatsApp \u00b7 Email")
        elif edit == "cut" and len(copy) > 4:
            for _ in range(rng.randint(1, 2)):
                copy.pop(rng.randint(1, len(copy) - 1))
        elif edit == "truncate" and len(copy) > 4:
            copy = copy[: max(3, len(copy) // 2 + 1)]
        elif edit == "add":
            copy.insert(rng.randint(1, len(copy)), rng.choice(ADDED))
        elif edit == "spelling":
            for old, new in SPELLING:
                copy = [p.replace(old, new) for p in copy]
        elif edit == "merge" and len(copy) > 3:
            at = rng.randint(1, len(copy) - 2)
            copy[at : at + 2] = [copy[at] + " " + copy[at + 1]]
        elif edit == "words":
            copy = [p.replace(" said.", " told reporters.").replace("on foot", "walking")
                    for p in copy]
        else:
            continue
        edits.append(edit)
    return copy, "+".join(edits) or "none"


def article(name: str, event: Event, paragraphs: list[str], title: str, hours: float) -> dict[str, object]:
    return {"name": name, "event": event.key, "title": title, "text": "\n\n".join(paragraphs),
            "hours": hours}


def main() -> None:
    rng = random.Random(SEED)
    events = make_events(rng, 120)
    reports = {(e.key, s): report(rng, e, s) for e in events for s in ("ledger", "courier")}
    pairs: list[dict[str, object]] = []
    for number in range(260):
        event = events[number % len(events)]
        style = rng.choice(["ledger", "courier"])
        base = reports[(event.key, style)]
        copy, edits = syndicate(rng, base, event)
        pairs.append({"label": "copy", "edits": edits,
                      "a": article("orig", event, base, f"{event.facts['c']}: {event.kind}", 0),
                      "b": article("copy", event, copy, f"Wire: {event.kind} in {event.facts['p']}",
                                   rng.uniform(0.5, 30))})
    for event in events + events[:40]:
        pairs.append({"label": "same_event", "edits": "",
                      "a": article("ledger", event, reports[(event.key, "ledger")], "L", 0),
                      "b": article("courier", event, reports[(event.key, "courier")], "C",
                                   rng.uniform(0.5, 20))})
    for number in range(160):
        first, second = rng.sample(events, 2)
        if number % 2 == 0:  # half the negatives: same kind of event, same house style
            # a different place: two events of one kind in one city within a day would
            # be told in the same words and names, and no reader could tell them apart
            same_kind = [e for e in events
                         if e.kind == first.kind and e.facts["c"] != first.facts["c"]]
            second = rng.choice(same_kind)
        style = rng.choice(["ledger", "courier"])
        pairs.append({"label": "unrelated", "edits": "same-kind" if number % 2 == 0 else "",
                      "a": article("x", first, reports[(first.key, style)], "X", 0),
                      "b": article("y", second, reports[(second.key, style)], "Y",
                                   rng.uniform(0.5, 20))})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as out:
        for number, pair in enumerate(pairs):
            out.write(json.dumps({"pair": number, **pair}, ensure_ascii=False) + "\n")
    counts = {label: sum(p["label"] == label for p in pairs) for label in ("copy", "same_event", "unrelated")}
    print(f"wrote {len(pairs)} pairs to {OUT}: {counts}")


if __name__ == "__main__":
    main()
