"""The dedupe decision's fast paths give what the plain definitions give.

Normalising on UTF-8 bytes, the postings' look-ups and the first copies kept
in memory after their batch are shortcuts: these tests pin the results they
must keep (verdicts are compared with the old code in BENCHMARKS.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.test_dedupe_near import INDEPENDENT, OTHER_EVENT, from_demo_page, written
from workers.dedupe import store
from workers.dedupe.bands import Postings
from workers.dedupe.index import DedupeIndex
from workers.dedupe.normalise import normalise_text, story_texts
from workers.dedupe.stories import _CAPITALISED, _add, terms

# --- story terms -------------------------------------------------------------

TERM_PIECES = [
    "Kunduz", "the Taliban", "al-Shabaab", "RSF", "M23", "McDonald", "Óscar", "Ürümqi",
    "ªbc", "²nd", "ÉTAT", "Zürich", "officials", "said", ".", ". ", "!", "\n", "\n\n", " ",
    "\u2014", "\u201cQuoted\u201d", "Gen.", "x-Ray", "self-Styled", "Jan's", "Faryab\u2019s",
    "_Under", "9Lives", "Ab", "A", "In", "ß", "\ud800", "日本", "Αθήνα", "Δ",
]


def scanned_terms(text: str) -> set[str]:
    """`terms` as its docstring defines it: every `_CAPITALISED` match, left to right."""
    found: set[str] = set()
    for match in _CAPITALISED.finditer(text):
        _add(found, text, match)
    return found


def test_story_terms_are_those_of_a_plain_left_to_right_scan() -> None:
    rng = np.random.default_rng(2021)
    for _ in range(3000):
        picks = rng.integers(0, len(TERM_PIECES), size=int(rng.integers(1, 25)))
        joiners = rng.choice(["", " ", "  "], size=picks.size)
        text = "".join(TERM_PIECES[p] + j for p, j in zip(picks, joiners, strict=True))
        assert terms(text) == scanned_terms(text), repr(text)


# --- normalisation -----------------------------------------------------------


def test_ascii_and_typographic_spellings_normalise_alike() -> None:
    plain = "Kunduz's  GATE--today: (calm)"
    typographic = "Kunduz\u2019s\u00a0 GATE\u2014today: \u201ccalm\u201d"
    assert normalise_text(plain) == normalise_text(typographic) == "kunduz s gate today calm"


def test_a_combining_accent_composes_with_the_ascii_letter_before_it() -> None:
    """NFKC joins "e" + U+0301 into "é" even though "e" is ASCII and the accent is not."""
    assert normalise_text("Cafe\u0301 \u201cKUNDUZ\u201d") == "caf\u00e9 kunduz"


def test_compatibility_characters_fold_to_ascii_words() -> None:
    """The Kelvin sign is a "K", the "fi" ligature two letters, full-width digits digits."""
    assert normalise_text("\u212aabul \ufb01elds \uff12\uff10\uff12\uff11") == "kabul fields 2021"


def test_every_whitespace_that_str_split_knows_separates_words() -> None:
    # line and paragraph separators, next line, ogham space mark, file/unit separators
    text = "a\u2028b\u2029c\x85d\u1680e\x1cf\x1fg"
    assert normalise_text(text) == "a b c d e f g"
    assert normalise_text("a\x1c\x1d\x1e\x1fb") == "a b"  # the ASCII path as well


def test_control_characters_that_are_not_whitespace_stay() -> None:
    assert normalise_text("a\x00b \x07") == "a\x00b \x07"
    assert normalise_text("a\x00b \u00e9") == "a\x00b \u00e9"


def test_a_lone_surrogate_separates_words_like_a_symbol() -> None:
    assert normalise_text("Kunduz\ud800gate \udfff") == normalise_text("Kunduz-gate -")
    assert story_texts("Fighters entered Kunduz\ud800on Sunday. " * 20)[0].startswith(
        "fighters entered kunduz on sunday"
    )


def test_the_stripped_story_is_normalised_like_any_text() -> None:
    text = "KABUL (Wire) \u2014 Fighters entered the CITY.\n\nBy Jo Bloggs\n\nResidents fled."
    whole, stripped, story = story_texts(text)
    assert whole == "kabul wire fighters entered the city by jo bloggs residents fled"
    assert stripped == "Fighters entered the CITY.\nResidents fled."
    assert story == "fighters entered the city residents fled"


# --- postings ---------------------------------------------------------------

A, B = 11, 22


@pytest.fixture
def postings() -> Postings:
    """Slots 0-2 frozen into a segment, 3-4 still fresh.

    slot:      0       1     2       3     4
    keys:      A B     A     A B     B     A B
    seen at:   100     200   300     400   500
    stamp:     10      20    30      40    50
    """
    table = Postings(stamped=True, freeze_every=3)
    for slot, keys in enumerate(([A, B], [A], [A, B], [B], [A, B])):
        table.add(slot, np.asarray(keys, dtype=np.uint64), 100 * (slot + 1), 10 * (slot + 1))
    return table


def _counts(table: Postings, **span: int) -> dict[int, int]:
    limits = {"cutoff": 0, "low": 0, "high": 100, "newest": 10} | span
    slots, counts = table.counts(
        np.asarray([A, B], dtype=np.uint64), limits["cutoff"], limits["low"], limits["high"],
        newest=limits["newest"],
    )
    assert slots.tolist() == sorted(slots.tolist())
    return dict(zip(slots.tolist(), counts.tolist(), strict=True))


def test_counts_how_many_of_the_keys_each_slot_has(postings: Postings) -> None:
    assert _counts(postings) == {0: 2, 1: 1, 2: 2, 3: 1, 4: 2}


def test_counts_reads_only_the_newest_entries_of_each_key(postings: Postings) -> None:
    # A's two newest: 4 (fresh), 2 (frozen); B's: 4 and 3, both fresh
    assert _counts(postings, newest=2) == {2: 1, 3: 1, 4: 2}


def test_counts_skips_frozen_entries_seen_before_the_cutoff(postings: Postings) -> None:
    assert _counts(postings, cutoff=250) == {2: 2, 3: 1, 4: 2}
    # fresh entries are counted whatever their fetch time: the stored rows decide later
    assert _counts(postings, cutoff=450) == {3: 1, 4: 2}


def test_counts_keeps_only_stamps_within_the_span(postings: Postings) -> None:
    assert _counts(postings, low=25, high=45) == {2: 2, 3: 1}


def test_candidates_are_the_slots_sharing_a_key(postings: Postings) -> None:
    keys = np.asarray([B], dtype=np.uint64)
    assert postings.candidates(keys, 0) == {0, 2, 3, 4}
    assert postings.candidates(keys, 250) == {2, 3, 4}
    assert postings.candidates(np.asarray([33], dtype=np.uint64), 0) == set()


def test_bulk_loading_needs_stamps_exactly_for_stamped_postings() -> None:
    one = np.ones(1, dtype=np.uint32)
    with pytest.raises(ValueError, match="stamps"):
        Postings(stamped=True).add_many(np.ones(1, dtype=np.uint64), one, one)
    with pytest.raises(ValueError, match="stamps"):
        Postings().add_many(np.ones(1, dtype=np.uint64), one, one, one)


# --- first copies kept in memory -------------------------------------------


def test_an_original_no_longer_kept_in_memory_is_read_from_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With room for one first copy, two later articles push the original out."""
    monkeypatch.setattr(store, "RECENT_FIRST_COPIES", 1)
    original = from_demo_page("kunduz-maimana", "a" * 32, "ledger", 0)
    with DedupeIndex(tmp_path / "dedupe.sqlite3") as index:
        index.check_and_add(original)
        index.check_and_add(written("herald", OTHER_EVENT, 1))
        index.check_and_add(written("gazette", INDEPENDENT, 2))
        copy = from_demo_page("kunduz-maimana-syndicated", "b" * 32, "courier", 3)
        verdict = index.check_and_add(copy)
    assert (verdict.duplicate_of, verdict.match) == (original.article_id, "near")
    assert verdict.story_id == original.article_id
