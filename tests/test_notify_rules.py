"""Matching, quiet hours, digests and minimum sources: pure rules plus the ledger."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.core.models import QuietHours, SubscriptionFilter
from tests.test_notify_receivers import KUNDUZ, MAIMANA, make_alert, make_sub, plan
from workers.notify.dispatcher import digest_id, pause_until
from workers.notify.filters import SubscriptionIndex, hold_until, quiet_until
from workers.notify.ledger import Ledger, Outcome


def test_filters_match_on_country_province_capital_kind_actor_and_confidence() -> None:
    subs = [
        make_sub("af", "chat", "https://x.example", filters=SubscriptionFilter(countries=["af"])),
        make_sub("faryab", "chat", "https://x.example",
                 filters=SubscriptionFilter(provinces=["Faryab"])),
        make_sub("captured", "chat", "https://x.example",
                 filters=SubscriptionFilter(min_kind="captured")),
        make_sub("isk", "chat", "https://x.example", filters=SubscriptionFilter(actors=["ISKP"])),
        make_sub("sure", "chat", "https://x.example",
                 filters=SubscriptionFilter(min_confidence=0.95)),
        make_sub("kunduz-id", "chat", "https://x.example",
                 filters=SubscriptionFilter(capitals=["geonames:1135689"])),
    ]
    index = SubscriptionIndex(subs)
    assert {s.subscription_id for s in index.match(make_alert(KUNDUZ))} == {"af", "kunduz-id"}
    assert {s.subscription_id for s in index.match(make_alert(MAIMANA))} == {"af", "faryab"}


def test_paused_subscription_matches_nothing() -> None:
    sub = make_sub("p", "chat", "https://x.example", paused=True)
    assert SubscriptionIndex([sub]).match(make_alert()) == []


def test_min_sources_counts_outlets_not_articles() -> None:
    sub = make_sub("two", "chat", "https://x.example", filters=SubscriptionFilter(min_sources=2))
    index = SubscriptionIndex([sub])
    assert index.match(make_alert(sources=("ledger", "ledger"))) == []
    assert index.match(make_alert(sources=("ledger", "courier"))) == [sub]


def test_min_sources_delays_delivery_until_the_update_that_corroborates(tmp_path: Path) -> None:
    """First report: one outlet, nothing planned; the update with a second outlet is
    delivered as the subscriber's first notice ('alert'); a later update as 'update'."""
    ledger = Ledger(tmp_path / "l.sqlite3")
    sub = make_sub("two", "webhook", "https://x.example",
                   filters=SubscriptionFilter(min_sources=2))
    index = SubscriptionIndex([sub])
    first = make_alert(sources=("ledger",))
    assert plan(ledger, first, index.match(first)) == []
    second = make_alert(sources=("ledger", "courier"))
    (did,) = plan(ledger, second, index.match(second), ce_type="news.alert.updated.v1")
    assert ledger.get(did).kind == "alert"  # type: ignore[union-attr]
    third = make_alert(sources=("ledger", "courier", "herald"))
    (did3,) = plan(ledger, third, index.match(third), ce_type="news.alert.updated.v1")
    assert ledger.get(did3).kind == "update"  # type: ignore[union-attr]
    assert plan(ledger, third, index.match(third), ce_type="news.alert.updated.v1") == []


def test_quiet_hours_over_midnight_end_the_next_morning_in_the_local_zone() -> None:
    quiet = QuietHours(start="22:00", end="07:00", timezone="Asia/Kabul")  # UTC+4:30
    late = datetime(2021, 6, 22, 18, 0, tzinfo=UTC)  # 22:30 in Kabul
    assert quiet_until(quiet, late) == datetime(2021, 6, 23, 2, 30, tzinfo=UTC)
    noon = datetime(2021, 6, 22, 8, 0, tzinfo=UTC)  # 12:30 in Kabul
    assert quiet_until(quiet, noon) is None


def test_digest_mode_holds_until_the_end_of_the_period() -> None:
    sub = make_sub("d", "chat", "https://x.example", digest_period_s=3600)
    assert hold_until(sub, datetime(2021, 6, 22, 9, 30, tzinfo=UTC)) == datetime(
        2021, 6, 22, 10, 0, tzinfo=UTC
    )


def test_alerts_in_quiet_hours_become_one_digest_when_they_end(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite3")
    sub = make_sub("q", "webhook", "https://x.example",
                   quiet_hours=QuietHours(start="22:00", end="07:00", timezone="UTC"))
    night = datetime(2021, 6, 22, 23, 0, tzinfo=UTC)
    plan(ledger, make_alert(KUNDUZ), [sub], now=night)
    plan(ledger, make_alert(MAIMANA, alert_id="alert-maimana"), [sub], now=night)
    morning = datetime(2021, 6, 23, 7, 0, tzinfo=UTC).timestamp()
    assert ledger.release_digests(morning - 1, digest_id, 60.0) == []
    (digest,) = ledger.release_digests(morning, digest_id, 60.0)
    assert digest.kind == "digest"
    assert digest.alert_ids == ("alert-kunduz-entered", "alert-maimana")
    assert digest.delivery_id == digest_id("q", morning)
    assert ledger.by_status("held") == []
    assert ledger.release_digests(morning + 10, digest_id, 60.0) == []


def test_the_ledger_says_when_its_next_row_comes_due(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite3")
    assert ledger.next_due() is None
    quiet = make_sub("q", "webhook", "https://x.example",
                     quiet_hours=QuietHours(start="22:00", end="07:00", timezone="UTC"))
    plan(ledger, make_alert(KUNDUZ), [quiet], now=datetime(2021, 6, 22, 23, 0, tzinfo=UTC))
    morning = datetime(2021, 6, 23, 7, 0, tzinfo=UTC).timestamp()
    assert ledger.next_due() == morning  # a held row: when its quiet hours end
    t = datetime(2021, 6, 22, 9, 30, tzinfo=UTC)
    plan(ledger, make_alert(MAIMANA, alert_id="alert-maimana"),
         [make_sub("a", "webhook", "https://x.example")], now=t)
    assert ledger.next_due() == t.timestamp()  # a pending row: now
    (claimed,) = ledger.claim_due(t.timestamp(), "me", 60.0, [], 10)
    assert ledger.next_due() == t.timestamp() + 60.0  # leased: when the lease ends
    ledger.record_attempts([Outcome(claimed, t.timestamp(), True, 200, None, None)])
    assert ledger.next_due() == morning


def test_an_idle_dispatcher_waits_for_the_next_due_row_within_bounds() -> None:
    assert pause_until(None, 100.0, 0.05, 0.5) == 0.5  # nothing planned: the longest wait
    assert pause_until(100.2, 100.0, 0.05, 0.5) == pytest.approx(0.2)
    assert pause_until(99.0, 100.0, 0.05, 0.5) == 0.05  # overdue (a busy subscription's)
    assert pause_until(3600.0, 100.0, 0.05, 0.5) == 0.5


def test_claims_lease_one_row_per_free_subscription_and_a_batch_records_each_outcome(
    tmp_path: Path,
) -> None:
    ledger = Ledger(tmp_path / "l.sqlite3")
    subs = [make_sub(s, "webhook", "https://x.example") for s in ("a", "b", "c")]
    t = datetime(2021, 6, 22, 9, 30, tzinfo=UTC)
    plan(ledger, make_alert(KUNDUZ), subs, now=t)
    plan(ledger, make_alert(MAIMANA, alert_id="alert-maimana"), subs, now=t)
    now = t.timestamp()
    first = ledger.claim_due(now, "me", 60.0, ["c"], 10)
    assert sorted(d.subscription_id for d in first) == ["a", "b"]
    (third,) = ledger.claim_due(now, "me", 60.0, ["a", "b"], 10)
    assert third.subscription_id == "c"
    a, b = sorted(first, key=lambda d: d.subscription_id)
    statuses = ledger.record_attempts([
        Outcome(a, now, True, 200, None, None),
        Outcome(b, now, False, 503, "HTTP 503", now + 10),
        Outcome(third, now, False, None, "timeout", None),
    ])
    assert statuses == ["delivered", "pending", "dead"]
    assert ledger.counts() == {"delivered": 1, "pending": 4, "dead": 1}
    assert [x.status for x in ledger.attempts(b.delivery_id)] == [503]
    # b's retry is not due yet; every subscription's other row is, one each
    again = ledger.claim_due(now, "me", 60.0, [], 10)
    assert sorted(d.subscription_id for d in again) == ["a", "b", "c"]
    assert b.delivery_id not in {d.delivery_id for d in again}


def test_a_leased_row_is_due_again_when_its_lease_ends_or_its_owner_is_gone(
    tmp_path: Path,
) -> None:
    ledger = Ledger(tmp_path / "l.sqlite3")
    t = datetime(2021, 6, 22, 9, 30, tzinfo=UTC)
    (did,) = plan(ledger, make_alert(KUNDUZ), [make_sub("a", "webhook", "https://x.example")],
                  now=t)
    now = t.timestamp()
    (first,) = ledger.claim_due(now, "p1", 60.0, [], 10)
    assert first.delivery_id == did
    assert ledger.claim_due(now + 59, "p2", 60.0, [], 10) == []  # p1 still holds it
    (second,) = ledger.claim_due(now + 61, "p2", 60.0, [], 10)  # p1's lease ran out
    assert second.delivery_id == did
    assert ledger.claim_due(now + 62, "p3", 60.0, [], 10) == []
    assert ledger.release_leases(lambda owner: owner == "p2", now + 62) == 1
    (third,) = ledger.claim_due(now + 62, "p3", 60.0, [], 10)  # p2 is gone: due at once
    assert third.delivery_id == did
