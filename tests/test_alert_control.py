"""Per-capital control state and the alert book: new developments, updates, time rules."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.core.models import Article, Capital, Extraction, Place
from ingest.core.settings import DEFAULT_ACTORS
from tests.test_alert_detect import SEED_LIKE, places_in, with_seats
from workers.alert.book import AlertBook, Publication, alert_id_for
from workers.alert.control import Development, independent_sources, place_report
from workers.alert.detect import Incursion, detect_incursions
from workers.alert.vocabulary import EventKind

T0 = datetime(2021, 6, 20, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)
NEW, UPDATED = "news.alert.v1", "news.alert.updated.v1"
KUNDUZ = Capital(
    place_id="geonames:1135689", name="Kunduz", province="Kunduz", country="AF",
    lat=36.728, lon=68.857, geonames_id=1135689,
)  # fmt: skip


def place(place_id: str = KUNDUZ.place_id, name: str = "Kunduz") -> Place:
    return Place(
        place_id=place_id, name=name, matched=name, type="capital", country="AF",
        start=0, end=len(name), confidence=0.9, decided_by="test", lat=36.7, lon=68.9,
    )  # fmt: skip


def inc(kind: EventKind, sentence: str = "Taliban fighters entered Kunduz.") -> Incursion:
    return Incursion("Taliban", kind, place(), sentence, 0.9)


def article(article_id: str, published: datetime, source: str = "Kabul Ledger") -> Article:
    return Article(
        article_id=article_id, url=f"https://news.example/{article_id}",
        canonical_url=f"https://news.example/{article_id}", feed_url="https://news.example/feed",
        source=source, title=f"Report {article_id}", text="(text)", published=published,
        published_source="page", fetched_at=published, extraction=Extraction(status="ok"),
    )  # fmt: skip


class Clock:
    """A wall clock well after every test article, moving one second per reading."""

    def __init__(self, now: datetime = datetime(2021, 9, 1, tzinfo=UTC)) -> None:
        self.now = now

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def book(tmp_path: Path) -> Iterator[AlertBook]:
    with AlertBook(tmp_path / "alerts.sqlite3", {KUNDUZ.place_id: KUNDUZ}.get, clock=Clock()) as b:
        yield b


def report(
    book: AlertBook,
    article_id: str,
    at: datetime,
    kind: EventKind,
    *,
    source: str = "Kabul Ledger",
    story: str | None = None,
) -> list[Publication]:
    sentence = f"({kind} as reported by {article_id})"
    return book.decide(article(article_id, at, source), [inc(kind, sentence)], story)


def summary(publications: list[Publication]) -> list[tuple[str, str]]:
    return [(p.ce_type, p.alert.kind) for p in publications]


# --- new alerts and updates --------------------------------------------------------


def test_first_report_is_a_new_alert_with_capital_evidence_and_corroboration(
    book: AlertBook,
) -> None:
    [first] = report(book, "a1", T0, "entered")
    alert = first.alert
    assert first.ce_type == NEW
    assert alert.alert_id == first.event_id == alert_id_for(KUNDUZ.place_id, "entered", "a1")
    assert alert.capital == KUNDUZ
    assert [e.url for e in alert.evidence] == ["https://news.example/a1"]
    assert alert.sources == 1
    assert alert.first_reported_at == alert.latest_reported_at == alert.reported_at == T0


def test_second_independent_report_updates_the_alert_with_two_sources(book: AlertBook) -> None:
    [first] = report(book, "a1", T0, "entered")
    [second] = report(book, "a2", T0 + timedelta(hours=3), "entered", source="Frontier Courier")
    assert second.ce_type == UPDATED
    assert second.alert.alert_id == first.alert.alert_id
    assert second.event_id != first.event_id
    assert second.alert.sources == 2
    assert second.alert.outlets == ["Frontier Courier", "Kabul Ledger"]
    assert len(second.alert.evidence) == 2
    assert second.alert.first_reported_at == T0
    assert second.alert.latest_reported_at == T0 + timedelta(hours=3)
    assert second.alert.detected_at == first.alert.detected_at


def test_syndicated_copy_from_another_outlet_does_not_raise_the_source_count(
    book: AlertBook,
) -> None:
    report(book, "a1", T0, "entered", story="story-1")
    [copy] = report(book, "a2", T0 + DAY / 4, "entered", source="Wire", story="story-1")
    assert copy.ce_type == UPDATED
    assert copy.alert.sources == 1
    assert copy.alert.story_ids == ["story-1"]


def test_copy_with_its_own_story_id_but_the_same_sentences_counts_once(book: AlertBook) -> None:
    """A republished copy that dedupe did not recognise (new intro, cut paragraph)."""
    sentence = "Taliban fighters entered Kunduz on Saturday, officials said."
    book.decide(article("a1", T0), [inc("entered", sentence)], "story-1")
    copy = article("a2", T0 + DAY / 4, source="Frontier Courier")
    [update] = book.decide(copy, [inc("entered", sentence)], "story-2")
    assert update.ce_type == UPDATED
    assert update.alert.sources == 1


def test_second_story_from_the_same_outlet_is_not_an_independent_source(
    book: AlertBook,
) -> None:
    report(book, "a1", T0, "entered")
    [again] = report(book, "a2", T0 + DAY / 4, "entered")
    assert again.alert.sources == 1


def test_escalation_raises_a_new_alert_at_each_step(book: AlertBook) -> None:
    steps: list[EventKind] = ["threatened", "entered", "captured"]
    published = [report(book, f"a{n}", T0 + n * DAY / 2, k) for n, k in enumerate(steps)]
    assert [summary(p) for p in published] == [[(NEW, k)] for k in steps]
    assert len({p[0].alert.alert_id for p in published}) == 3


def test_lower_kind_after_a_higher_one_updates_the_higher_alert(book: AlertBook) -> None:
    [captured] = report(book, "a1", T0, "captured")
    [later] = report(book, "a2", T0 + DAY, "threatened", source="Other")
    assert later.ce_type == UPDATED
    assert later.alert.alert_id == captured.alert.alert_id
    assert later.alert.kind == "captured"


def test_a_late_arriving_earlier_entry_after_a_capture_is_no_new_alert(book: AlertBook) -> None:
    report(book, "a2", T0 + DAY, "captured")
    assert summary(report(book, "a1", T0, "entered", source="Other")) == [(UPDATED, "captured")]


def test_earlier_report_arriving_late_moves_the_first_report_back(book: AlertBook) -> None:
    report(book, "a2", T0 + DAY, "entered")
    [update] = report(book, "a1", T0, "entered", source="Other")
    assert update.alert.first_reported_at == T0
    assert update.alert.latest_reported_at == T0 + DAY


# --- resets -------------------------------------------------------------------------


def test_retaking_is_an_alert_and_a_later_entry_is_new_again(book: AlertBook) -> None:
    report(book, "a1", T0, "captured")
    assert summary(report(book, "a2", T0 + DAY, "retaken")) == [(NEW, "retaken")]
    assert summary(report(book, "a3", T0 + 2 * DAY, "retaken", source="B")) == [
        (UPDATED, "retaken")
    ]
    assert summary(report(book, "a4", T0 + 3 * DAY, "entered")) == [(NEW, "entered")]


def test_repelled_publishes_nothing_and_a_renewed_threat_is_new(book: AlertBook) -> None:
    [first] = report(book, "a1", T0, "threatened")
    assert report(book, "a2", T0 + DAY, "repelled") == []
    [renewed] = report(book, "a3", T0 + 2 * DAY, "threatened")
    assert renewed.ce_type == NEW
    assert renewed.alert.alert_id != first.alert.alert_id


def test_pushing_a_group_out_of_a_city_it_captured_is_a_retaking(book: AlertBook) -> None:
    report(book, "a1", T0, "captured")
    assert summary(report(book, "a2", T0 + DAY, "repelled")) == [(NEW, "retaken")]


# --- event time: quiet period, horizon, watermark -------------------------------------


def test_quiet_period_ends_an_episode_and_the_next_incursion_is_new(book: AlertBook) -> None:
    report(book, "a1", T0, "threatened")
    assert summary(report(book, "a2", T0 + 10 * DAY, "threatened")) == [(UPDATED, "threatened")]
    assert summary(report(book, "a3", T0 + 25 * DAY, "threatened")) == [(NEW, "threatened")]


def test_old_news_raises_no_alert_until_a_fresh_report_corroborates_it(
    book: AlertBook,
) -> None:
    report(book, "other-city-news", T0 + 5 * DAY, "threatened")  # moves the watermark
    assert report(book, "old", T0, "captured", source="Archive") == []
    [fresh] = report(book, "fresh", T0 + 5 * DAY, "captured", source="Wire")
    assert fresh.ce_type == NEW
    assert fresh.alert.alert_id == alert_id_for(KUNDUZ.place_id, "captured", "old")
    assert fresh.alert.first_reported_at == T0
    assert fresh.alert.sources == 2


def test_an_article_within_the_horizon_still_raises_an_alert(book: AlertBook) -> None:
    book.decide(article("latest", T0 + 2 * DAY), [])
    assert summary(report(book, "a1", T0, "entered")) == [(NEW, "entered")]


def test_watermark_never_runs_ahead_of_the_wall_clock(tmp_path: Path) -> None:
    clock = Clock(T0)
    with AlertBook(tmp_path / "b.sqlite3", {KUNDUZ.place_id: KUNDUZ}.get, clock=clock) as b:
        b.decide(article("from-the-future", T0 + 30 * DAY), [])
        watermark = b.watermark()
        assert watermark is not None
        assert watermark <= clock.now
        assert summary(report(b, "a1", T0 - DAY, "entered")) == [(NEW, "entered")]


# --- idempotence and determinism -------------------------------------------------------


def test_replaying_an_article_returns_identical_messages(book: AlertBook) -> None:
    first = report(book, "a1", T0, "entered")
    update = report(book, "a2", T0 + DAY, "entered", source="B")
    assert report(book, "a1", T0, "entered") == first
    assert report(book, "a2", T0 + DAY, "entered", source="B") == update


def test_replay_after_reopening_returns_identical_messages(tmp_path: Path) -> None:
    path = tmp_path / "alerts.sqlite3"
    with AlertBook(path, {KUNDUZ.place_id: KUNDUZ}.get, clock=Clock()) as b:
        first = report(b, "a1", T0, "entered")
    with AlertBook(path, {KUNDUZ.place_id: KUNDUZ}.get, clock=Clock()) as b:
        assert report(b, "a1", T0, "entered") == first
        assert summary(report(b, "a2", T0 + DAY, "entered", source="B")) == [(UPDATED, "entered")]


def test_two_books_fed_the_same_articles_publish_the_same_ids(tmp_path: Path) -> None:
    def run(name: str) -> list[tuple[str, str]]:
        with AlertBook(tmp_path / name, {KUNDUZ.place_id: KUNDUZ}.get, clock=Clock()) as b:
            out = report(b, "a1", T0, "threatened") + report(b, "a2", T0 + DAY, "entered")
            out += report(b, "a3", T0 + DAY, "entered", source="B")
            return [(p.ce_type, p.event_id) for p in out]

    assert run("one.sqlite3") == run("two.sqlite3")


def test_a_book_file_without_the_history_indexes_gains_them_and_carries_on(
    tmp_path: Path,
) -> None:
    # A file written before the indexes on reports existed: the book adds them on open.
    path = tmp_path / "alerts.sqlite3"
    with AlertBook(path, {KUNDUZ.place_id: KUNDUZ}.get, clock=Clock()) as b:
        first = report(b, "a1", T0, "entered")
    db = sqlite3.connect(path)
    db.execute("DROP INDEX reports_by_development")
    db.execute("DROP INDEX reports_by_time")
    db.commit()
    db.close()
    with AlertBook(path, {KUNDUZ.place_id: KUNDUZ}.get, clock=Clock()) as b:
        update = report(b, "a2", T0 + DAY, "entered", source="B")
    assert summary(update) == [(UPDATED, "entered")]
    assert update[0].alert.alert_id == first[0].alert.alert_id
    assert update[0].alert.sources == 2
    db = sqlite3.connect(path)
    indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    db.close()
    assert {"reports_by_development", "reports_by_time"} <= indexes


# --- the seed-like page ----------------------------------------------------------------


def test_seed_like_page_alerts_three_capitals_and_its_copy_only_updates(
    book: AlertBook,
) -> None:
    places = with_seats(SEED_LIKE, places_in(SEED_LIKE))
    original = article("ledger-1", T0).model_copy(update={"text": SEED_LIKE})
    found = detect_incursions(original, places, DEFAULT_ACTORS)
    published = book.decide(original, found, "story-1")
    assert {(p.alert.capital.name, p.alert.kind) for p in published} == {
        ("Kunduz", "entered"), ("Maimana", "entered"), ("Taloqan", "threatened"),
    }  # fmt: skip
    assert {p.ce_type for p in published} == {NEW}
    copy = article("courier-1", T0 + DAY / 4, source="Frontier Courier")
    again = book.decide(copy, found, "story-1")
    assert {p.ce_type for p in again} == {UPDATED}
    assert {p.alert.alert_id for p in again} == {p.alert.alert_id for p in published}
    assert all(p.alert.sources == 1 for p in again)


# --- pure parts ---------------------------------------------------------------------------


def test_place_report_is_independent_of_the_order_reports_arrived_in() -> None:
    devs = [Development("t", "threatened", 0), Development("r", "repelled", 100)]
    reports = [(0, "t"), (100, "r")]
    assert place_report("threatened", 50, reports, devs, 10_000).dev_id == "t"
    assert place_report("threatened", 150, reports, devs, 10_000).dev_id is None
    assert place_report("threatened", 20_000, reports, devs, 10_000).dev_id is None


def test_independent_sources_join_copies_by_story_and_by_outlet() -> None:
    assert independent_sources([("s1", "A"), ("s1", "B"), ("s2", "C")]) == 2
    assert independent_sources([("s1", "A"), ("s2", "A"), ("s3", "B")]) == 2
    assert independent_sources([]) == 0


# --- several articles in one write ---------------------------------------------------

# (article id, days after T0, kind or None for an article without incursions, outlet):
# a threat, its corroboration, an entry, an article that only moves the watermark,
# a repulse, a renewed threat, and one after the quiet period.
STREAM: list[tuple[str, int, EventKind | None, str]] = [
    ("s1", 0, "threatened", "A"), ("s2", 0, "threatened", "B"), ("s3", 1, "entered", "A"),
    ("s4", 2, None, "C"), ("s5", 2, "repelled", "B"), ("s6", 3, "threatened", "C"),
    ("s7", 30, "entered", "A"),
]  # fmt: skip


def decisions(
    stream: list[tuple[str, int, EventKind | None, str]],
) -> list[tuple[Article, list[Incursion], str | None]]:
    return [
        (article(a, T0 + n * DAY, source), [] if kind is None else [inc(kind, f"{kind} {a}")], None)
        for a, n, kind, source in stream
    ]


def flat(batches: list[list[Publication]]) -> list[tuple[str, str, str]]:
    return [(p.ce_type, p.event_id, p.alert.model_dump_json()) for ps in batches for p in ps]


def test_deciding_a_batch_in_one_write_publishes_what_one_by_one_does(tmp_path: Path) -> None:
    lookup = {KUNDUZ.place_id: KUNDUZ}.get
    with AlertBook(tmp_path / "one.sqlite3", lookup, clock=Clock()) as b:
        one_by_one = [b.decide(*d) for d in decisions(STREAM)]
    with AlertBook(tmp_path / "batch.sqlite3", lookup, clock=Clock()) as b:
        batched = b.decide_many(decisions(STREAM[:4])) + b.decide_many(decisions(STREAM[4:]))
        # Deciding the same articles again (a replayed batch) returns the same messages.
        assert flat(b.decide_many(decisions(STREAM))) == flat(batched)
    assert flat(batched) == flat(one_by_one)
    # threatened (new, update), entered (new), the repulse is not published,
    # threatened again (new), entered after the quiet period (new).
    assert [ce_type for ce_type, _, _ in flat(batched)] == [NEW, UPDATED, NEW, NEW, NEW]


def test_a_batch_without_incursions_moves_the_watermark_without_writing(tmp_path: Path) -> None:
    path = tmp_path / "alerts.sqlite3"
    with AlertBook(path, {KUNDUZ.place_id: KUNDUZ}.get, clock=Clock()) as b:
        assert b.decide_many(decisions([("w1", 5, None, "A"), ("w2", 6, None, "A")])) == [[], []]
        assert b.watermark() == T0 + 6 * DAY
    with AlertBook(path, {KUNDUZ.place_id: KUNDUZ}.get, clock=Clock()) as b:
        assert b.watermark() is None


def test_two_books_sharing_a_file_see_each_others_reports(tmp_path: Path) -> None:
    # Each book keeps report times in memory; a write by the other must not be missed.
    path, lookup = tmp_path / "alerts.sqlite3", {KUNDUZ.place_id: KUNDUZ}.get
    with (
        AlertBook(path, lookup, clock=Clock()) as first,
        AlertBook(path, lookup, clock=Clock()) as second,
        AlertBook(tmp_path / "alone.sqlite3", lookup, clock=Clock()) as alone,
    ):
        shared: list[list[Publication]] = []
        for n, decision in enumerate(decisions(STREAM)):
            shared.append((first if n % 2 == 0 else second).decide(*decision))
        expected = [alone.decide(*decision) for decision in decisions(STREAM)]
    assert [(p.ce_type, p.event_id) for ps in shared for p in ps] == [
        (p.ce_type, p.event_id) for ps in expected for p in ps
    ]


def test_a_failed_batch_writes_nothing_and_the_book_carries_on(tmp_path: Path) -> None:
    lookup = {KUNDUZ.place_id: KUNDUZ}.get
    with AlertBook(tmp_path / "alerts.sqlite3", lookup, clock=Clock()) as b:
        good = decisions(STREAM[:2])
        broken = (article("bad", T0), [inc("not-a-kind")], None)  # type: ignore[arg-type]
        with pytest.raises(KeyError):
            b.decide_many([*good, broken])
        assert b.history(KUNDUZ.place_id) == []
        assert [p.ce_type for ps in b.decide_many(good) for p in ps] == [NEW, UPDATED]
