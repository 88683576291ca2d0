"""Geotag with the world gazetteer: coverage, alias hygiene, names of several
countries, people and common words, and the cue words of other countries.

Expected places were worked out from GeoNames' admin-1 seats (Mosul is the
seat of Nineveh; Tripoli is Libya's capital and the seat of Lebanon's North
Governorate), not read off the tagger's output.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

from ingest.core.models import Place
from workers.geotag.aliases import AliasRules, division_base_name, is_plain_latin
from workers.geotag.gazetteer import Gazetteer
from workers.geotag.normalise import normalise_name
from workers.geotag.tagger import tag_places


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.load()


def _data(code: str) -> dict[str, Any]:
    raw = resources.files("workers.geotag.data").joinpath(f"{code}.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(raw)
    return data


def _override(code: str) -> dict[str, Any]:
    raw = resources.files("workers.geotag.overrides").joinpath(f"{code}.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(raw)
    return data


def _only(text: str, gazetteer: Gazetteer, matched: str) -> Place:
    found = [p for p in tag_places(text, gazetteer).places if p.matched == matched]
    assert len(found) == 1, found
    return found[0]


# --- the world data ------------------------------------------------------------


def test_every_country_file_loads_and_most_divisions_have_a_seat(gazetteer: Gazetteer) -> None:
    countries = {entry.country for entry in gazetteer.entries() if entry.type == "country"}
    assert len(countries) > 240
    provinces = [entry for entry in gazetteer.entries() if entry.type == "province"]
    seated = [entry for entry in provinces if entry.seat_id is not None]
    assert len(provinces) > 3500
    assert len(seated) / len(provinces) > 0.9


def test_every_capital_has_coordinates_and_a_province(gazetteer: Gazetteer) -> None:
    for entry in gazetteer.entries():
        if entry.type == "capital":
            assert entry.lat is not None, entry.name
            assert entry.lon is not None, entry.name
            assert gazetteer.capital(entry.place_id) is not None, entry.name


@pytest.mark.parametrize(
    ("text", "matched", "name", "province_iso"),
    [
        ("Troops entered Mosul at dawn.", "Mosul", "Mosul", "IQ-NI"),
        ("Shelling hit Maiduguri overnight.", "Maiduguri", "Maiduguri", "NG-BO"),
        ("Rebels reached the outskirts of Goma.", "Goma", "Goma", None),
        ("Drones struck Sittwe.", "Sittwe", "Sittwe", "MM-16"),
        ("Fighting went on in Kismayo.", "Kismayo", "Kismayo", None),
    ],
)
def test_seats_of_other_countries_are_capitals(
    gazetteer: Gazetteer, text: str, matched: str, name: str, province_iso: str | None
) -> None:
    place = _only(text, gazetteer, matched)
    assert (place.type, place.name) == ("capital", name)
    if province_iso is not None:
        assert place.iso_3166_2 == province_iso


def test_kabul_is_flagged_national_capital_and_a_provincial_seat(gazetteer: Gazetteer) -> None:
    kabul = gazetteer.entry("geonames:1138958")
    assert kabul is not None
    assert (kabul.type, kabul.national_capital, kabul.iso_3166_2) == ("capital", True, "AF-KAB")


def test_afghanistan_override_reproduces_the_reviewed_names() -> None:
    """Every reviewed province and seat, with its spellings, reaches AF.json."""
    reviewed = _override("AF")
    generated = {p["iso_3166_2"]: p for p in _data("AF")["provinces"]}
    assert len(generated) == 34
    for iso, province in reviewed["provinces"].items():
        made = generated[iso]
        assert (made["name"], made["variants"]) == (province["name"], province["variants"])
        for key in ("name", "geonames_id", "lat", "lon", "variants"):
            assert made["seat"][key] == province["seat"][key], (iso, key)
    assert [place["name"] for place in _data("AF")["other"]] == [
        place["name"] for place in reviewed["other"]
    ]


@pytest.mark.parametrize(
    ("spelling", "seat", "province"),
    [
        ("Mahmud-i-Raqi", "Mahmud-i-Raqi", "Kapisa"),
        ("Chaghcharan", "Chaghcharan", "Ghor"),
        ("Firozkoh", "Chaghcharan", "Ghor"),
        ("Tarinkot", "Tarinkot", "Uruzgan"),
        ("Tirin Kot", "Tarinkot", "Uruzgan"),
        ("Pul-i-Alam", "Pul-i-Alam", "Logar"),
        ("Maidan Shahr", "Maidan Shahr", "Wardak"),
        ("Sharana", "Sharana", "Paktika"),
        ("Qala-i-Naw", "Qala-i-Naw", "Badghis"),
        ("Qala-e-Naw", "Qala-i-Naw", "Badghis"),
        ("Mazar", "Mazar-i-Sharif", "Balkh"),
        ("Mazar-i-Sharif", "Mazar-i-Sharif", "Balkh"),
    ],
)
def test_the_issues_spellings_find_their_seat_in_the_world_gazetteer(
    gazetteer: Gazetteer, spelling: str, seat: str, province: str
) -> None:
    place = _only(f"The Taliban entered {spelling} on Sunday, officials said.", gazetteer, spelling)
    assert (place.type, place.name, place.province, place.country) == (
        "capital",
        seat,
        province,
        "AF",
    )


def test_sidqabad_is_not_the_seat_of_kapisa(gazetteer: Gazetteer) -> None:
    seat = gazetteer.seat_of("af:kapisa-province")
    assert seat is not None
    assert seat.name == "Mahmud-i-Raqi"


# --- alias hygiene ---------------------------------------------------------------


def test_noisy_alternate_names_of_afghan_seats_are_gone(gazetteer: Gazetteer) -> None:
    taloqan = gazetteer.entry("geonames:1123004")
    farah = gazetteer.entry("geonames:1142264")
    assert taloqan is not None
    assert farah is not None
    assert "khanabad" not in {normalise_name(v) for v in taloqan.variants}
    assert not {"faro", "pala"} & {normalise_name(v) for v in farah.variants}
    assert {"Khanabad", "Faro", "Pala"} <= set(_override("AF")["deny"])


def _rules() -> AliasRules:
    rules = AliasRules(common_words=frozenset({"faro", "bay", "central"}), deny={"AF": {"pala"}})
    rules.add_main_name("AF", "Khanabad", world=False)
    rules.add_main_name("LY", "Tripoli", world=True)
    return rules


@pytest.mark.parametrize(
    ("alternate", "why"),
    [
        ("Khanabad", "another place's main name in the country"),
        ("Faro", "a common word"),
        ("Pala", "on the country's deny list"),
        ("Tal", "too short"),
        ("TQN", "an all-capitals code"),
        ("talokana", "a lower-case machine transliteration"),
        ("Талокан", "not Latin script"),
        ("Taxor viloyati", "a descriptive form with a lower-case word"),
        ("Provincia di Taloqan", "a descriptive form of another language"),
        ("Tripoli", "the main name of a place in another country"),
    ],
)
def test_alias_rules_drop_noisy_alternates(alternate: str, why: str) -> None:
    kept = _rules().variants("AF", ["Taloqan"], [alternate, "Taleqan"])
    assert kept == ["Taloqan", "Taleqan"], why


def test_a_records_own_name_is_kept_even_when_weak() -> None:
    rules = _rules()
    assert rules.variants("AF", ["Bay"], []) == ["Bay"]
    assert rules.is_weak("Bay")
    assert rules.is_weak("Gao")
    assert not rules.is_weak("Baidoa")


def test_division_words_are_stripped_from_division_names() -> None:
    assert division_base_name("Takhar Province") == "Takhar"
    assert division_base_name("Province of Kunduz") == "Kunduz"
    assert division_base_name("Marib Governorate") == "Marib"
    assert is_plain_latin("Mazar-i-Sharif")
    assert not is_plain_latin("mazar")


def test_no_generated_seat_takes_another_seats_main_name_as_a_variant() -> None:
    for code in ("SY", "YE", "NG", "UA", "CD", "SO", "ML", "MM"):
        provinces = _data(code)["provinces"]
        seats = [p["seat"] for p in provinces if p["seat"]]
        mains = {normalise_name(seat["name"]): seat["name"] for seat in seats}
        for seat in seats:
            for variant in seat["variants"][1:]:
                other = mains.get(normalise_name(variant))
                assert other in (None, seat["name"]), (code, seat["name"], variant)


# --- names of several countries, people, common words -----------------------------


def test_a_name_of_several_countries_follows_the_texts_country(gazetteer: Gazetteer) -> None:
    libya = _only(
        "Militias clashed in Tripoli, the Libyan health ministry said.", gazetteer, "Tripoli"
    )
    lebanon = _only(
        "Protesters in Tripoli, in northern Lebanon, burned tyres.", gazetteer, "Tripoli"
    )
    assert (libya.country, libya.type) == ("LY", "capital")
    assert (lebanon.country, lebanon.type) == ("LB", "capital")
    assert libya.decided_by != "ambiguous-country"


def test_an_unresolvable_name_is_reported_with_low_confidence(gazetteer: Gazetteer) -> None:
    place = _only("Protests spread across Punjab on Friday.", gazetteer, "Punjab")
    assert place.decided_by == "ambiguous-country"
    assert place.confidence < 0.5
    assert place.type == "province"


def test_punjab_goes_to_the_country_the_text_names(gazetteer: Gazetteer) -> None:
    place = _only("Floods hit Punjab province, Pakistani officials said.", gazetteer, "Punjab")
    assert (place.country, place.type) == ("PK", "province")
    assert 0.5 <= place.confidence <= 0.8


@pytest.mark.parametrize(
    "text",
    [
        "Mo Farah won the race in London on Sunday.",
        "Farah Ahmadi, a student, said she would vote.",
        "President Jordan met reporters in the capital.",
        "Mr Kunduz declined to comment.",
    ],
)
def test_a_capital_name_used_as_a_persons_name_is_not_a_place(
    gazetteer: Gazetteer, text: str
) -> None:
    assert [p.type for p in tag_places(text, gazetteer).places if p.type == "capital"] == []


def test_the_same_name_after_a_place_word_is_still_a_place(gazetteer: Gazetteer) -> None:
    places = tag_places("Farah Province was quiet, and Farah City reopened.", gazetteer).places
    assert [(p.matched, p.type) for p in places] == [("Farah", "province"), ("Farah", "capital")]


@pytest.mark.parametrize(
    "text",
    [
        "We visited the market at dawn.",
        "Central bank officials said the currency was stable.",
        "Man, that was a long night, the driver said.",
    ],
)
def test_a_common_word_at_a_sentence_start_is_not_a_place(gazetteer: Gazetteer, text: str) -> None:
    assert tag_places(text, gazetteer).places == []


def test_a_weak_name_counts_with_a_cue_or_its_country(gazetteer: Gazetteer) -> None:
    plateau = _only("A blast hit Jos, the capital of Plateau state.", gazetteer, "Plateau")
    assert (plateau.country, plateau.type) == ("NG", "province")
    gao = _only("Malian troops returned to Gao on Monday.", gazetteer, "Gao")
    assert (gao.country, gao.type) == ("ML", "capital")
    assert tag_places("A boat sank near Gao.", gazetteer).places == []


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("Gunmen attacked villages in Borno state.", "Borno"),
        ("Strikes hit the Kharkiv region overnight.", "Kharkiv"),
        ("Aid reached Marib governorate.", "Marib"),
        ("Shelling hit the Idlib countryside.", "Idlib"),
        ("The provincial council of Ghazni met.", "Ghazni"),
    ],
)
def test_other_countries_division_words_mean_the_province(
    gazetteer: Gazetteer, text: str, matched: str
) -> None:
    assert _only(text, gazetteer, matched).type == "province"


def test_a_bare_name_shared_by_a_province_and_its_seat_defaults_to_the_city(
    gazetteer: Gazetteer,
) -> None:
    """Aleppo is both the city and (an English name of) its governorate."""
    place = _only("An earthquake hit Aleppo.", gazetteer, "Aleppo")
    assert (place.type, place.decided_by) == ("capital", "default-capital")


def test_an_alias_that_is_only_a_translation_into_common_words_is_not_a_place() -> None:
    """GeoNames lists "White House" for Casablanca (Casa Blanca); news means Washington."""
    text = "The two presidents will meet at the White House on Friday."
    assert tag_places(text, Gazetteer.load()).places == []
