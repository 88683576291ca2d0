"""The article-level replay set: a simulated three-week campaign, written by the team.

`python bench/alert_campaign.py` writes `bench/data/alert/campaign.jsonl` (the
articles, in the `news-ingest replay` format, deliberately not in publication
order) and `bench/data/alert/campaign_expected.json` (the exact sequence of
new alerts the pipeline must raise, as [capital, kind]). Corroborations and
syndicated copies must raise no new alert; retrospectives, conditionals,
denials and places that are only bases raise nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

T0 = datetime(2021, 6, 18, 6, 0, tzinfo=UTC)
OUT = Path(__file__).parent / "data" / "alert"

# Paragraphs without places, for the speed benchmark's padding (`bench/alert_speed.py`).
# Campaign articles carry none: independent reports that shared paragraphs word for
# word would rightly be grouped by dedupe as copies, and `news-ingest replay` would
# then drop them before the alert stage.
BACKGROUND = [
    "Prices of flour and cooking oil have nearly doubled in local markets since the spring, "
    "traders said, as roads to the border crossings were repeatedly closed.",
    "Aid agencies said thousands of families had left their villages in recent weeks and were "
    "sheltering in schools, mosques and the homes of relatives.",
    "The United Nations has called for a ceasefire and for talks between the parties to resume "
    "without preconditions.",
    "Hospitals in the region reported a sharp rise in the number of wounded civilians, many of "
    "them women and children.",
    "Mobile phone networks were cut for several hours on Tuesday, making it difficult to verify "
    "accounts from residents.",
]

# (hours after T0, outlet, story key, headline, body). Story keys name copies:
# an entry whose body is "=key" republishes that story word for word.
ARTICLES: list[tuple[float, str, str, str, str]] = [
    (
        0,
        "Kabul Ledger",
        "kdz-threat-1",
        "Fighting reaches the edge of Kunduz",
        "KUNDUZ, Afghanistan - Taliban fighters clashed with security forces on the outskirts of "
        "Kunduz on Friday, officials said. The attack followed weeks of advances in the districts "
        "around the provincial capital.",
    ),
    (
        3,
        "Frontier Courier",
        "kdz-threat-2",
        "Taliban at the gates of Kunduz",
        "Heavy fighting broke out at the gates of Kunduz city overnight, according to a member of "
        "the provincial council. Residents said the Taliban had dug in near the airport road.",
    ),
    (5, "Wire Service", "kdz-threat-1", "", "=kdz-threat-1"),
    (
        9,
        "Northern Post",
        "kdz-threat-3",
        "Kunduz braces for assault",
        "Security officials said the Taliban were besieging Kunduz from three sides and that "
        "reinforcements had been flown in from Kabul.",
    ),
    (
        24,
        "Herat Herald",
        "hrt-threat-1",
        "Clashes near Herat airport",
        "Taliban insurgents attacked the outskirts of Herat on Saturday, officials said, and "
        "fighting continued near the city's airport into the night.",
    ),
    (
        30,
        "Kabul Ledger",
        "kdz-enter-1",
        "Taliban push into Kunduz city",
        "Taliban fighters entered Kunduz on Saturday evening and spread through its "
        "neighbourhoods, residents said. Officials in Kabul said government forces still held the "
        "governor's compound.",
    ),
    (31, "Wire Service", "kdz-enter-1", "", "=kdz-enter-1"),
    (
        33,
        "Frontier Courier",
        "kdz-enter-2",
        "Insurgents in the streets of Kunduz",
        '"The Taliban are in the bazaar and the main streets," a shopkeeper in Kunduz said by '
        "telephone. Militants were seen patrolling the city centre on motorbikes.",
    ),
    (34, "Regional Times", "kdz-enter-1", "", "=kdz-enter-1"),
    (
        36,
        "Northern Post",
        "kdz-enter-3",
        "Kunduz residents flee as fighters enter",
        "Hundreds of families fled Kunduz after Taliban fighters stormed the city from the south, "
        "a provincial official said.",
    ),
    (
        48,
        "Kabul Ledger",
        "tlq-threat-1",
        "Fighting at the entrance of Taloqan",
        "Fighting broke out near the entrance of Taloqan, the capital of Takhar province, on "
        "Sunday as the Taliban pressed their offensive in the north.",
    ),
    (
        50,
        "Frontier Courier",
        "tlq-threat-2",
        "Taloqan under pressure",
        "The Taliban attacked Taloqan from two directions, a spokesman for the provincial "
        "governor said.",
    ),
    (
        53,
        "Kabul Ledger",
        "mmn-enter-1",
        "Taliban enter Maimana",
        "MAZAR-I-SHARIF, Afghanistan - Taliban insurgents entered Maimana, the capital of Faryab "
        "province, on Sunday and took control of several neighbourhoods, officials said.",
    ),
    (55, "Wire Service", "mmn-enter-1", "", "=mmn-enter-1"),
    (
        57,
        "Northern Post",
        "mmn-enter-2",
        "Maimana's streets fall silent",
        "Taliban fighters appeared in the streets of Maimana and set up checkpoints, residents "
        "said. Officials said commandos were being sent to the city.",
    ),
    (
        60,
        "Frontier Courier",
        "mmn-enter-3",
        "Fighters inside Maimana",
        "Insurgents were inside Maimana on Monday, a member of the provincial council said.",
    ),
    (
        72,
        "Kabul Ledger",
        "kdz-capture-1",
        "Kunduz falls to the Taliban",
        "Kunduz fell to the Taliban on Monday after government forces withdrew from the "
        "governor's compound, officials said. The militants raised their flag over the "
        "governor's office.",
    ),
    (73, "Wire Service", "kdz-capture-1", "", "=kdz-capture-1"),
    (
        75,
        "Frontier Courier",
        "kdz-capture-2",
        "Taliban take Kunduz",
        "The Taliban captured Kunduz on Monday, the first provincial capital to fall to the group "
        "this year.",
    ),
    (
        78,
        "Northern Post",
        "kdz-capture-3",
        "Kunduz in Taliban hands",
        "Kunduz is in Taliban hands, a spokesman for the governor confirmed on Monday evening.",
    ),
    (
        80,
        "Regional Times",
        "kdz-enter-late",
        "What happened in Kunduz",
        "Taliban fighters entered Kunduz on Saturday and fought their way to the city centre "
        "before government forces pulled back.",
    ),
    (
        96,
        "Kabul Ledger",
        "tlq-repelled-1",
        "Attack on Taloqan repelled",
        "Afghan forces repelled a Taliban attack on Taloqan on Tuesday, the defence ministry said, "
        "and the militants were pushed back from the outskirts of the city.",
    ),
    (
        100,
        "Frontier Courier",
        "tlq-repelled-2",
        "Taloqan calm after clashes",
        "The Taliban withdrew from the outskirts of Taloqan after air strikes, officials said.",
    ),
    (
        120,
        "Mogadishu Monitor",
        "bdo-threat-1",
        "Al-Shabaab fighters near Baidoa",
        "BAIDOA, Somalia - Al-Shabaab fighters attacked the outskirts of Baidoa on Wednesday and "
        "clashed with Somali troops near the city's airport, officials said.",
    ),
    (
        124,
        "Horn Daily",
        "bdo-threat-2",
        "Shelling on the edge of Baidoa",
        "Mortar rounds fell on the edge of Baidoa overnight as al-Shabaab militants pressed their "
        "attack, residents said.",
    ),
    (
        132,
        "Mogadishu Monitor",
        "bdo-enter-1",
        "Al-Shabaab enters Baidoa",
        "Al-Shabaab militants stormed Baidoa on Wednesday evening and briefly held the main "
        "market, residents said.",
    ),
    (134, "Wire Service", "bdo-enter-1", "", "=bdo-enter-1"),
    (
        136,
        "Horn Daily",
        "bdo-enter-2",
        "Militants in Baidoa's market",
        "Witnesses said al-Shabaab fighters were seen in the streets of Baidoa on Wednesday night.",
    ),
    (
        144,
        "Kabul Ledger",
        "kdz-retaken-1",
        "Afghan forces retake Kunduz",
        "Afghan commandos retook Kunduz from the Taliban on Thursday after two days of street "
        "fighting, the defence ministry said.",
    ),
    (146, "Wire Service", "kdz-retaken-1", "", "=kdz-retaken-1"),
    (
        148,
        "Frontier Courier",
        "kdz-retaken-2",
        "Kunduz back under government control",
        "Kunduz is back under government control, the provincial governor told reporters on "
        "Thursday, as Taliban fighters retreated to the surrounding districts.",
    ),
    (
        150,
        "Northern Post",
        "kdz-retaken-3",
        "Government regains Kunduz",
        "Government forces regained control of Kunduz on Thursday and cleared the Taliban from "
        "the city centre, officials said.",
    ),
    (
        168,
        "Sahel Observer",
        "mpt-enter-1",
        "JNIM fighters enter Mopti",
        "BAMAKO, Mali - Fighters of JNIM entered Mopti on Friday and attacked a police station in "
        "the city centre, security sources said.",
    ),
    (
        170,
        "West Africa Wire",
        "mpt-enter-2",
        "Militants inside Mopti",
        "JNIM militants were inside Mopti on Friday and clashed with Malian soldiers near the "
        "river port, residents said.",
    ),
    (172, "Wire Service", "mpt-enter-1", "", "=mpt-enter-1"),
    (
        192,
        "Kabul Ledger",
        "tlq-threat-again",
        "Taliban return to Taloqan",
        "The Taliban launched a fresh assault on Taloqan on Saturday, fighting government forces "
        "on the outskirts of the city, officials said.",
    ),
    (
        194,
        "Frontier Courier",
        "tlq-threat-again-2",
        "New clashes near Taloqan",
        "Heavy clashes were reported near the entrance of Taloqan on Saturday, a provincial "
        "spokesman said.",
    ),
    # Nothing new: retrospectives, conditionals, denials, threats, bases.
    (
        12,
        "Kabul Ledger",
        "kdz-history",
        "Kunduz, a city that has fallen before",
        "Kunduz was captured by the Taliban in 2015 and again in 2016, and each time the "
        "militants were driven out within weeks.",
    ),
    (
        40,
        "Regional Times",
        "mzr-conditional",
        "Mazar-i-Sharif on edge",
        "Officials said the Taliban cannot enter Mazar-i-Sharif if reinforcements arrive in time. "
        '"They will never take this city," the police chief said.',
    ),
    (
        45,
        "Frontier Courier",
        "mzr-denial",
        "Rumours in Mazar-i-Sharif",
        "The provincial governor denied reports that Taliban fighters had entered "
        "Mazar-i-Sharif. The Taliban did not enter the city, he said.",
    ),
    (
        62,
        "Kabul Ledger",
        "kbl-bases",
        "Troops sent north",
        "Commandos based in Kabul were flown north on Monday, and reinforcements from Kabul "
        "reached Mazar-i-Sharif by road.",
    ),
    (
        66,
        "Northern Post",
        "threat-vow",
        "Taliban vow more attacks",
        "A Taliban spokesman vowed to take Mazar-i-Sharif and Herat before the end of the summer.",
    ),
    (
        84,
        "Herat Herald",
        "hrt-economy",
        "Herat traders count losses",
        "Traders in Herat said exports of saffron and carpets had fallen by half, and that the "
        "city's markets were quiet.",
    ),
    (
        90,
        "Regional Times",
        "kdz-anniversary",
        "Six years after the first fall of Kunduz",
        "In 2015 the Taliban overran Kunduz for the first time; a year later they entered the "
        "city again before being pushed back.",
    ),
    (
        110,
        "Kabul Ledger",
        "district-fall",
        "Districts fall in Badakhshan",
        "The Taliban captured two districts of Badakhshan province on Wednesday, officials "
        "said, and were advancing on villages near the Tajik border.",
    ),
    (
        115,
        "Horn Daily",
        "mog-bombing",
        "Blast in Mogadishu",
        "A car bomb exploded near a hotel in Mogadishu on Wednesday, police said; al-Shabaab "
        "claimed responsibility.",
    ),
    (
        126,
        "Mogadishu Monitor",
        "bdo-question",
        "Can Baidoa hold?",
        "Will al-Shabaab enter Baidoa? Analysts said the militants lacked the numbers to hold "
        "the city.",
    ),
    (
        140,
        "Frontier Courier",
        "kdz-plan",
        "Kunduz counter-offensive planned",
        "Afghan forces are preparing to retake Kunduz, a defence ministry spokesman said, and "
        "would attack within days.",
    ),
    (
        155,
        "Sahel Observer",
        "bamako-talks",
        "Talks in Bamako",
        "Mediators met in Bamako on Thursday to discuss a ceasefire in central Mali, where JNIM "
        "has expanded its operations.",
    ),
    (
        160,
        "West Africa Wire",
        "mpt-warning",
        "Mopti on alert",
        "Officials warned that JNIM fighters could attack Mopti in the coming days if the army "
        "did not reinforce the town.",
    ),
    (
        176,
        "Kabul Ledger",
        "kabul-economy",
        "The afghani slides",
        "The afghani fell to a record low against the dollar in Kabul on Saturday as money "
        "changers reported heavy demand.",
    ),
    (
        180,
        "Northern Post",
        "maimana-history",
        "Maimana's long siege",
        "Maimana was besieged by the Taliban for months in 2017, when the group controlled most "
        "of Faryab province.",
    ),
    (
        200,
        "Regional Times",
        "herat-denial",
        "Herat calm, officials say",
        "Officials in Herat rejected claims that the Taliban had entered the city, saying the "
        "clashes had been in outlying districts.",
    ),
    (
        220,
        "Kabul Ledger",
        "kabul-based",
        "Air force stretched",
        "Pilots based in Kabul flew dozens of sorties a day to support troops in the north, an "
        "air force commander said.",
    ),
    (
        260,
        "Frontier Courier",
        "kdz-aftermath",
        "Rebuilding Kunduz",
        "Shops reopened in Kunduz on Monday, a week after government forces retook the city "
        "from the Taliban in fierce street fighting last week.",
    ),
    (
        300,
        "Horn Daily",
        "bdo-aftermath",
        "Baidoa counts the cost",
        "Residents of Baidoa began repairing homes damaged last week, when al-Shabaab fighters "
        "stormed the city.",
    ),
    (
        480,
        "Herat Herald",
        "hrt-threat-2",
        "Fighting returns to Herat",
        "The Taliban attacked the outskirts of Herat again on Thursday, three weeks after the "
        "first clashes near the city, officials said.",
    ),
    (
        482,
        "Kabul Ledger",
        "hrt-threat-3",
        "Herat under renewed attack",
        "Heavy fighting was reported at the gates of Herat on Thursday, a spokesman for the "
        "governor said.",
    ),
    (484, "Wire Service", "hrt-threat-3", "", "=hrt-threat-3"),
    (
        86,
        "Herat Herald",
        "kdz-capture-4",
        "Kunduz governor flees",
        "The governor of Kunduz fled to Kabul on Monday after the Taliban seized the city, "
        "a spokesman said.",
    ),
    (
        138,
        "Horn Daily",
        "bdo-enter-3",
        "Fighting inside Baidoa",
        "Fighting raged in the centre of Baidoa on Wednesday night as al-Shabaab fighters "
        "battled Somali troops around the main market, residents said.",
    ),
    (
        230,
        "Sahel Observer",
        "mpt-aftermath",
        "Mopti after the raid",
        "JNIM fighters withdrew from Mopti on Saturday after a day of fighting, and the army "
        "said the town was calm.",
    ),
]

EXPECTED: list[tuple[str, str]] = [
    ("Kunduz", "threatened"),
    ("Herat", "threatened"),
    ("Kunduz", "entered"),
    ("Taloqan", "threatened"),
    ("Maimana", "entered"),
    ("Kunduz", "captured"),
    ("Baidoa", "threatened"),
    ("Baidoa", "entered"),
    ("Kunduz", "retaken"),
    ("Mopti", "entered"),
    ("Taloqan", "threatened"),
    ("Herat", "threatened"),
]


def build() -> list[dict[str, str]]:
    """The articles as replay records, in a shuffled (not publication) order."""
    texts: dict[str, str] = {}
    titles: dict[str, str] = {}
    records = []
    for n, (hours, outlet, key, headline, body) in enumerate(ARTICLES):
        title = headline
        if body.startswith("="):  # a syndicated copy: the same text, another outlet
            text, title = texts[body[1:]], titles[body[1:]]
        else:
            text = texts[key] = body
            titles[key] = title
        slug = outlet.lower().replace(" ", "-")
        records.append(
            {
                "url": f"https://{slug}.example/{key}/{n}",
                "source": outlet,
                "published": (T0 + timedelta(hours=hours)).isoformat(),
                "title": title,
                "text": text,
            }
        )
    # Archives arrive in any order; replay sorts them by publication time.
    return records[::2] + records[1::2]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    records = build()
    with (OUT / "campaign.jsonl").open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    (OUT / "campaign_expected.json").write_text(json.dumps(EXPECTED, indent=1) + "\n")
    print(f"wrote {len(records)} articles and {len(EXPECTED)} expected alerts to {OUT}")


if __name__ == "__main__":
    main()
