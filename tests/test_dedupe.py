"""Exact-duplicate detection: text normalisation and the durable dedupe index."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.core.models import Article, Extraction
from workers.dedupe.index import DedupeIndex
from workers.dedupe.normalise import normalise_text, text_hash

T0 = datetime(2021, 6, 20, 12, 0, tzinfo=UTC)

STORY = (
    "Fighters entered the northern provincial capital on Sunday, according to two "
    "councillors. Residents said gunfire could be heard near the main bazaar before dawn, "
    "and several families left for a neighbouring district."
)
# The same story as another outlet renders it: other quotes, dashes, case, breaks.
STORY_REFORMATTED = (
    "FIGHTERS entered the northern provincial capital on Sunday — according to two "
    "councillors.\n\nResidents said gunfire could be heard near the main bazaar  before "
    "dawn; and several families left for a neighbouring district!"
)
OTHER_STORY = (
    "Floods cut the main highway south of the capital on Monday, stranding hundreds of "
    "lorries, and engineers said repairs to the collapsed bridge would take a week."
)


def article(
    article_id: str,
    *,
    canonical_url: str | None = None,
    text: str = STORY,
    fetched_at: datetime = T0,
) -> Article:
    url = canonical_url or f"https://news.example/{article_id}"
    return Article(
        article_id=article_id,
        url=url,
        canonical_url=url,
        feed_url="https://news.example/rss",
        source="News Example",
        text=text,
        published=fetched_at - timedelta(hours=1),
        published_source="feed",
        fetched_at=fetched_at,
        extraction=Extraction(status="ok"),
    )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "dedupe.sqlite3"


@pytest.fixture
def index(db_path: Path) -> Iterator[DedupeIndex]:
    with DedupeIndex(db_path) as opened:
        yield opened


# --- normalisation ---------------------------------------------------------


def test_normalise_folds_case_and_collapses_whitespace() -> None:
    assert normalise_text("  The  CITY\n\nfell\t today ") == "the city fell today"


def test_normalise_turns_punctuation_and_symbols_into_word_breaks() -> None:
    text = "Kunduz\u2019s gate\u2014today: \u201ccalm\u201d\u2026 \u20ac5!"
    assert normalise_text(text) == "kunduz s gate today calm 5"


def test_normalise_applies_nfkc_and_drops_invisible_format_characters() -> None:
    """Full-width letters become ASCII; soft hyphen and zero-width space vanish."""
    assert normalise_text("\uff2b\uff55\uff4e\uff44\uff55\uff5a") == "kunduz"
    assert normalise_text("Kun\u00addu\u200bz") == "kunduz"


def test_normalise_keeps_letters_of_other_scripts() -> None:
    assert normalise_text("Талибы вошли в Кундуз.") == "талибы вошли в кундуз"


def test_text_hash_is_sha256_of_the_normalised_text() -> None:
    expected = hashlib.sha256(b"the city fell today").hexdigest()
    assert text_hash("The city fell -- today.") == expected


def test_text_hash_ignores_trivial_differences_and_sees_real_ones() -> None:
    assert text_hash(STORY) == text_hash(STORY_REFORMATTED)
    assert text_hash(STORY) != text_hash(OTHER_STORY)


# --- the index -------------------------------------------------------------


def test_first_copy_is_unique_and_starts_its_own_story(index: DedupeIndex) -> None:
    verdict = index.check_and_add(article("a1"))
    assert verdict.duplicate_of is None
    assert verdict.match is None
    assert verdict.story_id == "a1"
    assert verdict.text_hash == text_hash(STORY)
    assert verdict.article == article("a1")


def test_same_canonical_url_is_a_url_duplicate(index: DedupeIndex) -> None:
    url = "https://news.example/world/city-falls"
    index.check_and_add(article("a1", canonical_url=url))
    verdict = index.check_and_add(article("a2", canonical_url=url, text=OTHER_STORY))
    assert (verdict.duplicate_of, verdict.match, verdict.story_id) == ("a1", "url", "a1")


def test_same_text_reformatted_is_a_text_duplicate(index: DedupeIndex) -> None:
    index.check_and_add(article("a1"))
    verdict = index.check_and_add(article("a2", text=STORY_REFORMATTED))
    assert (verdict.duplicate_of, verdict.match, verdict.story_id) == ("a1", "text", "a1")


def test_different_text_at_a_different_url_is_unique(index: DedupeIndex) -> None:
    index.check_and_add(article("a1"))
    verdict = index.check_and_add(article("a2", text=OTHER_STORY))
    assert (verdict.duplicate_of, verdict.match, verdict.story_id) == (None, None, "a2")


def test_url_match_is_reported_when_both_url_and_text_match(index: DedupeIndex) -> None:
    url = "https://news.example/world/city-falls"
    index.check_and_add(article("a1", canonical_url=url))
    verdict = index.check_and_add(article("a2", canonical_url=url))
    assert verdict.match == "url"


def test_a_copy_of_a_copy_joins_the_first_story(index: DedupeIndex) -> None:
    """a2 copies a1's text; a3 shares only a2's URL, and still points at a1."""
    index.check_and_add(article("a1"))
    index.check_and_add(article("a2", canonical_url="https://mirror.example/x"))
    verdict = index.check_and_add(
        article("a3", canonical_url="https://mirror.example/x", text=OTHER_STORY)
    )
    assert (verdict.duplicate_of, verdict.match, verdict.story_id) == ("a1", "url", "a1")


def test_replaying_a_first_copy_does_not_call_it_a_duplicate_of_itself(
    index: DedupeIndex,
) -> None:
    first = index.check_and_add(article("a1"))
    assert index.check_and_add(article("a1")) == first


def test_replaying_a_copy_gives_its_first_verdict(index: DedupeIndex) -> None:
    """a2 was a text copy; its URL is indexed since, but the replay still says 'text'."""
    index.check_and_add(article("a1"))
    first = index.check_and_add(article("a2", text=STORY_REFORMATTED))
    assert index.check_and_add(article("a2", text=STORY_REFORMATTED)) == first
    assert first.match == "text"


def test_short_texts_are_not_matched_on_text(index: DedupeIndex) -> None:
    """Two different articles carrying only the same headline stay unique."""
    headline = "Live updates: fighting in the north"
    index.check_and_add(article("a1", text=headline))
    verdict = index.check_and_add(article("a2", text=headline))
    assert verdict.duplicate_of is None


def test_empty_texts_are_not_duplicates_of_each_other(index: DedupeIndex) -> None:
    index.check_and_add(article("a1", text=""))
    assert index.check_and_add(article("a2", text="")).duplicate_of is None


def test_a_batch_sees_copies_within_itself(index: DedupeIndex) -> None:
    verdicts = index.check_and_add_all(
        [article("a1"), article("a2", text=OTHER_STORY), article("a3", text=STORY_REFORMATTED)]
    )
    assert [(v.duplicate_of, v.match) for v in verdicts] == [
        (None, None),
        (None, None),
        ("a1", "text"),
    ]


# --- the window ------------------------------------------------------------


def test_a_copy_inside_the_window_is_a_duplicate(index: DedupeIndex) -> None:
    index.check_and_add(article("a1"))
    late = article("a2", text=STORY_REFORMATTED, fetched_at=T0 + timedelta(days=6, hours=23))
    assert index.check_and_add(late).duplicate_of == "a1"


def test_entries_older_than_the_window_are_forgotten(index: DedupeIndex) -> None:
    url = "https://news.example/world/city-falls"
    index.check_and_add(article("a1", canonical_url=url))
    later = T0 + timedelta(days=7, seconds=1)
    assert index.check_and_add(article("a2", canonical_url=url, fetched_at=later)).match is None
    assert index.check_and_add(article("a3", fetched_at=later)).duplicate_of == "a2"


def test_window_is_configurable(db_path: Path) -> None:
    with DedupeIndex(db_path, window=timedelta(hours=1)) as index:
        index.check_and_add(article("a1"))
        hour_later = article("a2", text=STORY_REFORMATTED, fetched_at=T0 + timedelta(minutes=61))
        assert index.check_and_add(hour_later).duplicate_of is None


def test_forgotten_entries_are_removed_from_the_file(db_path: Path) -> None:
    with DedupeIndex(db_path) as index:
        index.check_and_add(article("a1"))
        index.check_and_add(article("a2", text=OTHER_STORY, fetched_at=T0 + timedelta(days=8)))
    with sqlite3.connect(db_path) as db:
        ids = {row[0] for row in db.execute("SELECT article_id FROM first_seen")}
        verdicts = {row[0] for row in db.execute("SELECT article_id FROM verdict")}
    db.close()
    assert ids == {"a2"}
    assert verdicts == {"a2"}


# --- durability ------------------------------------------------------------


def test_state_survives_reopening_the_file(db_path: Path) -> None:
    with DedupeIndex(db_path) as index:
        first = index.check_and_add(article("a1"))
        copy = index.check_and_add(article("a2", text=STORY_REFORMATTED))
    with DedupeIndex(db_path) as reopened:
        assert reopened.check_and_add(article("a1")) == first
        assert reopened.check_and_add(article("a2", text=STORY_REFORMATTED)) == copy
        url_copy = reopened.check_and_add(article("a3", canonical_url="https://news.example/a1"))
        assert (url_copy.duplicate_of, url_copy.match) == ("a1", "url")


def test_the_window_resumes_from_the_newest_article_after_reopening(db_path: Path) -> None:
    """An article fetched more than a window before the newest one is checked, not kept."""
    url = "https://news.example/world/old-story"
    with DedupeIndex(db_path) as index:
        index.check_and_add(article("a1", fetched_at=T0 + timedelta(days=8)))
    with DedupeIndex(db_path) as reopened:
        straggler = article("a2", canonical_url=url, text=OTHER_STORY)
        assert reopened.check_and_add(straggler).match is None
        straggler_copy = article("a3", canonical_url=url, text=OTHER_STORY)
        assert reopened.check_and_add(straggler_copy).duplicate_of is None


def test_the_file_uses_a_write_ahead_log(db_path: Path) -> None:
    DedupeIndex(db_path).close()
    with sqlite3.connect(db_path) as db:
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    db.close()
    assert mode == "wal"


def test_a_file_from_an_unknown_schema_version_is_refused(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path) as db:
        db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(RuntimeError, match="schema version 99"):
        DedupeIndex(db_path)
