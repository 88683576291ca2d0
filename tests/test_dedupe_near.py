"""Near-duplicate detection and story grouping in the dedupe index."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.cleaner.extract import clean
from ingest.core.models import Article, Extraction, Item, RawPage
from ingest.demo.catalogue import load_page
from workers.dedupe.index import DedupeIndex
from workers.dedupe.normalise import normalise_text, story_texts, strip_furniture
from workers.dedupe.stories import terms

T0 = datetime(2021, 6, 21, 6, 0, tzinfo=UTC)
BASE = "http://127.0.0.1:8000"

INDEPENDENT = """Insurgents pushed into the northern Afghan city of Kunduz on Sunday and fought \
government troops in its streets, two members of the provincial council told our reporter.

Farther west, the Taliban also reached Maimana, the main city of Faryab province, where residents \
said the militants had taken up positions on the edge of town after days of fighting.

Officials in Takhar province said government forces were holding off an attack near the gates of \
Taloqan, the provincial capital, although they admitted that several checkpoints had been lost.

The fighting comes as foreign forces pull out of Afghanistan, leaving the army to defend \
isolated cities with little support from the air."""

OTHER_EVENT = """A suicide car bomb exploded outside a police headquarters in Lashkar Gah on \
Sunday, killing at least nine officers, officials in Helmand province said.

The Taliban denied responsibility for the blast, which shattered windows across the centre of \
the city and set fire to vehicles parked along the main road.

Doctors at the provincial hospital in Helmand said dozens of wounded people had been brought in, \
many of them passers-by. The interior ministry in Kabul ordered an investigation."""


def from_demo_page(name: str, item_id: str, feed: str, hours: float) -> Article:
    when = T0 + timedelta(hours=hours)
    url = f"{BASE}/articles/{name}"
    item = Item(
        item_id=item_id, url=url, feed_url=f"{BASE}/{feed}.xml", feed_name=feed,
        discovered_at=when,
    )
    raw = RawPage(
        item=item, final_url=url, status=200, content_type="text/html", encoding="utf-8",
        html=load_page(name).render(BASE), fetched_at=when, elapsed_ms=3.0,
    )
    return clean(raw, min_text_chars=200)


def written(article_id: str, text: str, hours: float) -> Article:
    when = T0 + timedelta(hours=hours)
    url = f"https://{article_id}.example/story"
    return Article(
        article_id=article_id, url=url, canonical_url=url, feed_url=f"https://{article_id}.example/rss",
        source=article_id, text=text, published=when, published_source="page", fetched_at=when,
        extraction=Extraction(status="ok"),
    )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "dedupe.sqlite3"


@pytest.fixture
def index(db_path: Path) -> Iterator[DedupeIndex]:
    with DedupeIndex(db_path) as opened:
        yield opened


def test_furniture_is_stripped_and_the_story_kept() -> None:
    text = (
        "By Farida Sultani\nKABUL (Wire) \u2014 Fighters entered the city on Sunday.\n"
        "Read more: Afghan army units short of food\nResidents fled.\nNYTIMES, BLOOMBERG\n"
        "Share this story: Twitter \u00b7 Email"
    )
    assert strip_furniture(text) == "Fighters entered the city on Sunday.\nResidents fled."


def test_demo_wire_copy_is_a_near_duplicate_of_the_original(index: DedupeIndex) -> None:
    """Other headline, agency tag, a cut paragraph and a 'Read more' line: still a copy."""
    original = from_demo_page("kunduz-maimana", "a" * 32, "ledger", 0)
    copy = from_demo_page("kunduz-maimana-syndicated", "b" * 32, "courier", 3.5)
    assert original.canonical_url != copy.canonical_url
    first = index.check_and_add(original)
    verdict = index.check_and_add(copy)
    assert first.duplicate_of is None
    assert (verdict.duplicate_of, verdict.match) == (original.article_id, "near")
    assert verdict.story_id == first.story_id == original.article_id


def test_independent_report_of_the_same_event_is_unique_in_the_same_story(
    index: DedupeIndex,
) -> None:
    original = from_demo_page("kunduz-maimana", "a" * 32, "ledger", 0)
    index.check_and_add(original)
    verdict = index.check_and_add(written("gazette", INDEPENDENT, 5))
    assert verdict.duplicate_of is None
    assert verdict.story_id == original.article_id


def test_a_different_event_in_the_same_country_starts_its_own_story(index: DedupeIndex) -> None:
    index.check_and_add(from_demo_page("kunduz-maimana", "a" * 32, "ledger", 0))
    verdict = index.check_and_add(written("herald", OTHER_EVENT, 2))
    assert (verdict.duplicate_of, verdict.story_id) == (None, "herald")


def test_same_template_with_other_names_is_not_a_copy(index: DedupeIndex) -> None:
    """A bulletin written from one template about another place is another event."""
    bulletin = (
        "Flash floods swept through {c} in {p} province on Monday, killing at least {n} people "
        "and destroying hundreds of homes, officials said.\n\n{o}, who heads the provincial "
        "disaster agency, said rescue teams were searching for the missing after the river burst "
        "its banks overnight and roads to the rest of {k} were washed away."
    )
    first = bulletin.format(c="Mopti", p="Mopti", n=12, o="Amadou Traore", k="Mali")
    second = bulletin.format(c="Baidoa", p="Bay", n=7, o="Hassan Abdi Farah", k="Somalia")
    index.check_and_add(written("one", first, 0))
    assert index.check_and_add(written("two", second, 1)).duplicate_of is None


def test_near_duplicates_are_found_after_reopening_the_file(db_path: Path) -> None:
    """The band table is rebuilt from the stored signatures."""
    original = from_demo_page("kunduz-maimana", "a" * 32, "ledger", 0)
    with DedupeIndex(db_path) as index:
        index.check_and_add(original)
    with DedupeIndex(db_path) as reopened:
        copy = from_demo_page("kunduz-maimana-syndicated", "b" * 32, "courier", 3.5)
        verdict = reopened.check_and_add(copy)
        assert (verdict.duplicate_of, verdict.match) == (original.article_id, "near")
        independent = reopened.check_and_add(written("gazette", INDEPENDENT, 5))
        assert independent.story_id == original.article_id


def test_near_duplicates_older_than_the_window_are_not_matched(db_path: Path) -> None:
    with DedupeIndex(db_path, window=timedelta(days=1)) as index:
        index.check_and_add(from_demo_page("kunduz-maimana", "a" * 32, "ledger", 0))
        late = from_demo_page("kunduz-maimana-syndicated", "b" * 32, "courier", 30)
        assert index.check_and_add(late).duplicate_of is None


def test_one_folding_gives_the_whole_and_the_furniture_free_texts() -> None:
    """What `story_texts` returns equals normalising each text on its own."""
    text = (
        "By Farida Sultani\n\nKABUL (Wire) \u2014 \u201cFighters\u201d entered the city"
        " on Sunday.\n"
        "  \nResidents fled the \ufb01elds.\nNYTIMES, BLOOMBERG"
    )
    whole, stripped, story = story_texts(text)
    assert whole == normalise_text(text)
    assert stripped == strip_furniture(text)
    assert story == normalise_text(stripped)
    assert story == "fighters entered the city on sunday residents fled the fields"
    plain = "Fighters entered the city.\n\nResidents fled."
    whole = normalise_text(plain)
    assert story_texts(plain) == (whole, strip_furniture(plain), whole)


def test_story_terms_keep_names_anywhere_and_other_capitals_inside_sentences() -> None:
    text = "Fighters of al-Shabaab and the RSF reached Kunduz. Residents fled to Maimana-based"
    assert terms(text) == {"al-shabaab", "rsf", "kunduz", "maimana-based"}


def test_a_batch_finds_copies_of_articles_earlier_in_the_same_batch(db_path: Path) -> None:
    """Writes of a batch are held until its commit; later articles of the batch still see them."""
    body = "Fighters entered the northern city of Kunduz on Sunday, councillors said. " * 4
    first = written("first", body, 0)
    copy = written("copy", "KUNDUZ (Wire) \u2014 " + body, 1)
    url_copy = first.model_copy(update={"article_id": "again", "text": "Another text entirely."})
    with DedupeIndex(db_path) as index:
        verdicts = index.check_and_add_all([first, copy, url_copy])
    assert [(v.duplicate_of, v.match) for v in verdicts] == [
        (None, None), ("first", "near"), ("first", "url"),
    ]
    with DedupeIndex(db_path) as reopened:  # the batch is on disk and the tables rebuilt from it
        later = reopened.check_and_add(written("later", "MAIMANA \u2014 " + body, 2))
    assert (later.duplicate_of, later.match, later.story_id) == ("first", "near", "first")


def test_a_file_of_schema_version_2_keeps_its_verdicts_and_forgets_its_sketches(
    db_path: Path,
) -> None:
    body = "Fighters entered the northern city of Kunduz on Sunday, councillors said. " * 4
    with DedupeIndex(db_path) as index:
        index.check_and_add(written("first", body, 0))
    with sqlite3.connect(db_path) as db:  # as an older program left it
        db.execute("PRAGMA user_version=2")
        db.execute("CREATE TABLE story_term (term INTEGER, published REAL, slot INTEGER)")
    db.close()
    with DedupeIndex(db_path) as reopened:
        assert reopened.check_and_add(written("first", body, 0)).duplicate_of is None
        exact = reopened.check_and_add(written("copy", body, 1))
        near = reopened.check_and_add(written("near", "KUNDUZ \u2014 " + body, 2))
    # the exact text hash is kept, the old signature is gone
    assert (exact.duplicate_of, exact.match) == ("first", "text")
    assert near.duplicate_of is None
    with sqlite3.connect(db_path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        version = db.execute("PRAGMA user_version").fetchone()[0]
    db.close()
    assert "story_term" not in tables
    assert version == 3
