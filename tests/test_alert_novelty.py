"""Alert novelty: which incursions become alerts, durably and idempotently."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.core.models import AlertKind, Article, Capital, Extraction, Place
from workers.alert.detect import Incursion
from workers.alert.novelty import AlertBook

WINDOW = timedelta(days=14)
T0 = datetime(2021, 6, 20, 8, 0, tzinfo=UTC)

KUNDUZ = Capital(
    place_id="geonames:1135689",
    name="Kunduz",
    province="Kunduz",
    country="AF",
    lat=36.728,
    lon=68.857,
    geonames_id=1135689,
)
CAPITALS = {KUNDUZ.place_id: KUNDUZ}


def place(place_id: str = KUNDUZ.place_id, name: str = "Kunduz", **extra: object) -> Place:
    fields: dict[str, object] = {
        "place_id": place_id,
        "name": name,
        "matched": name,
        "type": "capital",
        "country": "AF",
        "start": 0,
        "end": len(name),
        "confidence": 0.9,
        "decided_by": "test",
    }
    fields.update(extra)
    return Place.model_validate(fields)


def incursion(
    kind: AlertKind,
    sentence: str = "Taliban fighters entered Kunduz.",
    capital: Place | None = None,
    confidence: float = 0.9,
) -> Incursion:
    return Incursion("Taliban", kind, capital or place(), sentence, confidence)


def article(article_id: str, published: datetime, source: str = "Example News") -> Article:
    return Article(
        article_id=article_id,
        url=f"https://news.example/{article_id}",
        canonical_url=f"https://news.example/{article_id}",
        feed_url="https://news.example/feed",
        source=source,
        title=f"Report {article_id}",
        text="(text)",
        published=published,
        published_source="page",
        fetched_at=published + timedelta(minutes=5),
        extraction=Extraction(status="ok"),
    )


class Clock:
    """A detection clock that moves one second per reading."""

    def __init__(self) -> None:
        self.now = datetime(2021, 6, 22, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "alerts.sqlite"


@pytest.fixture
def book(db_path: Path) -> Iterator[AlertBook]:
    with AlertBook(db_path, CAPITALS.get, WINDOW, clock=Clock()) as opened:
        yield opened


def test_first_report_raises_an_alert_with_evidence_and_capital(book: AlertBook) -> None:
    first = article("a1", T0)
    alerts = book.decide(first, [incursion("entered")])
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert.kind, alert.actor, alert.capital) == ("entered", "Taliban", KUNDUZ)
    assert alert.reported_at == T0
    assert alert.confidence == 0.9
    [evidence] = alert.evidence
    assert evidence.sentence == "Taliban fighters entered Kunduz."
    assert (evidence.article_id, evidence.url, evidence.source, evidence.title) == (
        "a1",
        "https://news.example/a1",
        "Example News",
        "Report a1",
    )
    assert evidence.published == T0


def test_same_development_from_a_second_article_is_not_a_new_alert(book: AlertBook) -> None:
    assert book.decide(article("a1", T0), [incursion("entered")])
    later = article("a2", T0 + timedelta(hours=3), source="Other Wire")
    assert book.decide(later, [incursion("entered")]) == []


def test_lower_kind_after_a_higher_one_is_not_a_new_alert(book: AlertBook) -> None:
    assert book.decide(article("a1", T0), [incursion("captured")])
    assert book.decide(article("a2", T0 + timedelta(days=1)), [incursion("entered")]) == []
    assert book.decide(article("a3", T0 + timedelta(days=2)), [incursion("threatened")]) == []


def test_escalation_threatened_then_entered_then_captured_raises_each_step(
    book: AlertBook,
) -> None:
    steps: list[tuple[str, AlertKind]] = [
        ("a1", "threatened"),
        ("a2", "entered"),
        ("a3", "captured"),
    ]
    kinds: list[str] = []
    for n, (article_id, kind) in enumerate(steps):
        alerts = book.decide(article(article_id, T0 + timedelta(hours=n)), [incursion(kind)])
        kinds.extend(a.kind for a in alerts)
    assert kinds == ["threatened", "entered", "captured"]


def test_threat_after_an_entry_within_the_window_is_not_new(book: AlertBook) -> None:
    assert book.decide(article("a1", T0), [incursion("threatened")])
    assert book.decide(article("a2", T0 + timedelta(hours=1)), [incursion("entered")])
    assert book.decide(article("a3", T0 + timedelta(hours=2)), [incursion("threatened")]) == []


def test_same_kind_after_the_window_is_a_new_alert(book: AlertBook) -> None:
    assert book.decide(article("a1", T0), [incursion("entered")])
    inside = T0 + WINDOW - timedelta(minutes=1)
    assert book.decide(article("a2", inside), [incursion("entered")]) == []
    after = T0 + WINDOW + timedelta(days=1)
    alerts = book.decide(article("a3", after), [incursion("entered")])
    assert [(a.kind, a.reported_at) for a in alerts] == [("entered", after)]


def test_window_is_measured_in_event_time_not_arrival_order(book: AlertBook) -> None:
    """An older report of the same development arriving late is not new either."""
    assert book.decide(article("a1", T0), [incursion("entered")])
    assert book.decide(article("a0", T0 - timedelta(days=2)), [incursion("entered")]) == []


def test_replay_of_the_triggering_article_returns_the_identical_alert(book: AlertBook) -> None:
    first = article("a1", T0)
    [original] = book.decide(first, [incursion("entered")])
    assert book.decide(article("a2", T0 + timedelta(hours=1)), [incursion("entered")]) == []
    [replayed] = book.decide(first, [incursion("entered")])
    assert replayed == original
    assert replayed.detected_at == original.detected_at


def test_replay_after_reopening_returns_the_identical_alert(db_path: Path) -> None:
    first = article("a1", T0)
    with AlertBook(db_path, CAPITALS.get, WINDOW, clock=Clock()) as book:
        [original] = book.decide(first, [incursion("entered")])
    later_clock = Clock()
    later_clock.now += timedelta(days=3)
    with AlertBook(db_path, CAPITALS.get, WINDOW, clock=later_clock) as reopened:
        assert reopened.decide(first, [incursion("entered")]) == [original]


def test_state_survives_reopening_the_database(db_path: Path) -> None:
    with AlertBook(db_path, CAPITALS.get, WINDOW) as book:
        assert book.decide(article("a1", T0), [incursion("entered")])
    with AlertBook(db_path, CAPITALS.get, WINDOW) as reopened:
        assert reopened.decide(article("a2", T0 + timedelta(hours=2)), [incursion("entered")]) == []
        assert reopened.decide(article("a3", T0 + timedelta(hours=3)), [incursion("captured")])


def test_alert_id_is_deterministic_per_capital_kind_and_article(tmp_path: Path) -> None:
    """Two independent books give the same id for the same development; other
    articles or kinds give other ids."""
    ids = []
    for name in ("one", "two"):
        with AlertBook(tmp_path / f"{name}.sqlite", CAPITALS.get, WINDOW) as book:
            [alert] = book.decide(article("a1", T0), [incursion("entered")])
            ids.append(alert.alert_id)
    assert ids[0] == ids[1]
    with AlertBook(tmp_path / "three.sqlite", CAPITALS.get, WINDOW) as book:
        [other_article] = book.decide(article("a9", T0), [incursion("entered")])
    with AlertBook(tmp_path / "four.sqlite", CAPITALS.get, WINDOW) as book:
        [other_kind] = book.decide(article("a1", T0), [incursion("captured")])
    assert len({ids[0], other_article.alert_id, other_kind.alert_id}) == 3


def test_several_incursions_of_one_capital_make_one_alert_of_the_strongest_kind(
    book: AlertBook,
) -> None:
    found = [
        incursion("threatened", "Fighting broke out at the gates of Kunduz.", confidence=0.8),
        incursion(
            "entered", "Taliban fighters were seen in the streets of Kunduz.", confidence=0.85
        ),
        incursion("entered", "The Taliban pushed into the city centre.", confidence=0.6),
    ]
    [alert] = book.decide(article("a1", T0), found)
    assert alert.kind == "entered"
    assert alert.confidence == 0.85
    assert [e.sentence for e in alert.evidence] == [inc.sentence for inc in found]


def test_each_capital_in_an_article_is_decided_separately(book: AlertBook) -> None:
    maimana = place("geonames:1134720", "Maimana", lat=35.92, lon=64.78, province="Faryab")
    found = [incursion("entered"), incursion("threatened", "Clashes near Maimana.", maimana)]
    alerts = book.decide(article("a1", T0), found)
    assert [(a.capital.name, a.kind) for a in alerts] == [
        ("Kunduz", "entered"),
        ("Maimana", "threatened"),
    ]


def test_capital_unknown_to_the_lookup_is_built_from_the_place(book: AlertBook) -> None:
    maimana = place("geonames:1134720", "Maimana", lat=35.92, lon=64.78, province="Faryab")
    [alert] = book.decide(article("a1", T0), [incursion("entered", "x", maimana)])
    assert alert.capital == Capital(
        place_id="geonames:1134720",
        name="Maimana",
        province="Faryab",
        country="AF",
        lat=35.92,
        lon=64.78,
    )


def test_capital_without_lookup_or_coordinates_raises_no_alert(book: AlertBook) -> None:
    nowhere = place("test:nowhere", "Nowhere")
    assert book.decide(article("a1", T0), [incursion("entered", "x", nowhere)]) == []


def test_database_uses_write_ahead_logging(db_path: Path, book: AlertBook) -> None:
    book.decide(article("a1", T0), [incursion("entered")])
    with sqlite3.connect(db_path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_pruned_alerts_no_longer_suppress(book: AlertBook) -> None:
    assert book.decide(article("a1", T0), [incursion("entered")])
    assert book.prune(T0 + timedelta(seconds=1)) == 1
    assert book.decide(article("a2", T0 + timedelta(hours=1)), [incursion("entered")])
