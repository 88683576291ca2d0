"""Several notify processes sharing one consumer group and one ledger, and the encodings the
delivery path builds by hand (webhook bodies, `news.deliveries` records) checked against the
ones they stand for."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from ingest.core.envelope import decode, encode, event_id
from ingest.core.models import DeliveryRecord
from ingest.core.settings import Settings
from ingest.core.topics import ALERTS, SUBSCRIPTIONS
from tests import test_notify_receivers
from tests.kafka_helpers import produce
from tests.test_notify_receivers import KUNDUZ, MAIMANA, Receiver, make_alert, make_sub, plan
from tests.test_notify_stage import wait_for, worker
from workers.notify.alert_log import AlertLog
from workers.notify.keyed_view import KeyedWriter, binary_event
from workers.notify.ledger import Ledger
from workers.notify.messages import webhook_body, webhook_data_json, webhook_json
from workers.notify.signing import signature_headers

pytestmark = pytest.mark.timeout(120)
receivers = test_notify_receivers.receivers  # the loopback receivers fixture, shared


def test_two_notify_processes_deliver_each_alert_once_per_subscription(
    settings: Settings, tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    rx = receivers()
    subs = [make_sub(s, "webhook", rx.url) for s in ("desk", "ngo")]
    writer = KeyedWriter(settings.kafka, "/tests")
    for sub in subs:
        writer.put(SUBSCRIPTIONS, sub.subscription_id, sub)
    writer.close()
    config = tmp_path / "notify.toml"
    config.write_text(
        f'data_dir = "{settings.data_dir}"\n[kafka]\nbootstrap_servers = '
        f'"{settings.kafka.bootstrap_servers}"\n[notify]\nstdout = false\n'
        'allow_private_targets = true\nrequest_timeout = "60s"\n'
    )
    # Distinct keys spread the alerts over the topic's partitions, hence over both processes;
    # the second process joins while the first is working, so partitions move between them.
    alerts = [make_alert(KUNDUZ if i % 2 else MAIMANA, alert_id=f"alert-{i}") for i in range(8)]
    first = worker(config, tmp_path / "notify-1.log")
    second = None
    try:
        for i, alert in enumerate(alerts[:4]):
            produce(settings, ALERTS.name, f"key-{i}", alert)
        second = worker(config, tmp_path / "notify-2.log")
        for i, alert in enumerate(alerts[4:], 4):
            produce(settings, ALERTS.name, f"key-{i}", alert)
        wait_for(lambda: len(rx.ok()) >= 16, "every alert at both subscriptions", timeout=90)
        time.sleep(0.5)  # room for a wrong extra delivery to show up
    finally:
        for proc in (first, second):
            if proc is not None:
                proc.send_signal(signal.SIGTERM)
        for proc in (first, second):
            if proc is not None:
                assert proc.wait(30) == 0
    ids = Counter(r.headers["webhook-id"] for r in rx.requests)
    assert len(ids) == 16
    assert set(ids.values()) == {1}
    by_sub = Counter(json.loads(r.body)["subscription_id"] for r in rx.requests)
    assert by_sub == {"desk": 8, "ngo": 8}
    ledger = Ledger(settings.data_dir / "notify-ledger.sqlite3")
    assert ledger.counts() == {"delivered": 16}
    lines = (settings.data_dir / "alerts.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["alert_id"] for line in lines) == sorted(
        a.alert_id for a in alerts)


def test_webhook_body_built_around_shared_data_is_the_same_json(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite3")
    subs = [make_sub(s, "webhook", "https://x.example") for s in ("a", "b")]
    alert = make_alert(MAIMANA, alert_id="alert-maimana").model_copy(
        update={"actor": "Jamāʿat Nuṣrat al-Islām"})  # not ASCII: kept as is in the body
    plan(ledger, alert, subs)
    a, b = ledger.claim_due(time.time() + 1, "me", 60.0, [], 10)
    assert a.items is b.items  # decoded once for both rows
    now = datetime(2021, 6, 22, 9, 30, tzinfo=UTC)
    for d in (a, b):
        body = webhook_json(d, now, webhook_data_json(d))
        assert json.loads(body) == webhook_body(d, now)
        assert "Jamāʿat".encode() in body
    digest = replace(a, kind="digest")
    assert json.loads(webhook_json(digest, now, webhook_data_json(digest))) == webhook_body(
        digest, now)


def test_delivery_record_message_decodes_like_the_sdk_built_one() -> None:
    t = datetime(2021, 6, 22, 9, 30, tzinfo=UTC)
    record = DeliveryRecord(
        delivery_id="d1", subscription_id="desk", channel="webhook", kind="alert",
        alert_ids=["alert-1"], status="delivered", attempts=1, created_at=t, updated_at=t,
    )
    headers, value = binary_event(record, "d1", "/news-ingest/notify/host:1")
    sdk_headers, _ = encode(record, source="/news-ingest/notify/host:1",
                            id=event_id(record.ce_type, "d1", record.model_dump_json()))
    assert [name for name, _ in headers] == [name for name, _ in sdk_headers]
    assert dict(headers)["ce_id"] == dict(sdk_headers)["ce_id"]
    event = decode(value, headers)
    assert event.payload == record
    assert event.type == "news.delivery.v1"
    assert event.source == "/news-ingest/notify/host:1"
    assert event.time is not None
    assert event.time.tzinfo is not None


def test_signature_of_a_hand_built_body_verifies() -> None:
    sub = make_sub("desk", "webhook", "https://x.example")
    assert sub.secret is not None
    body = b'{"type": "alert.created", "data": {"actor": "Jam\xc4\x81\xe2\x80\x98at"}}'
    ts = int(time.time())
    for _ in range(2):  # the second signature comes from the cached signer
        headers = signature_headers(sub.secret, "msg-1", ts, body)
        assert Webhook(sub.secret).verify(body, headers)["type"] == "alert.created"


def test_a_ledger_file_keeps_one_id_that_another_file_does_not_share(tmp_path: Path) -> None:
    # Processes sharing a ledger file skip each other's `news.deliveries` records by it.
    first, again = Ledger(tmp_path / "a.sqlite3"), Ledger(tmp_path / "a.sqlite3")
    other = Ledger(tmp_path / "b.sqlite3")
    assert first.ledger_id == again.ledger_id
    assert other.ledger_id != first.ledger_id


def test_two_alert_logs_on_one_file_write_each_alert_once(tmp_path: Path) -> None:
    """Two notify processes sharing a data folder: the one replayed an alert at a
    rebalance must not write it a second time."""
    path = tmp_path / "alerts.jsonl"
    first, second = AlertLog(path), AlertLog(path)
    kunduz, maimana = make_alert(KUNDUZ), make_alert(MAIMANA, alert_id="alert-maimana-entered")
    assert first.record(kunduz)
    assert not second.record(kunduz)  # written by the other since `second` opened
    assert second.record(maimana)
    assert not first.record(maimana)
    first.close()
    second.close()
    ids = [json.loads(line)["alert_id"] for line in path.read_text().splitlines()]
    assert ids == ["alert-kunduz-entered", "alert-maimana-entered"]


def test_a_line_cut_short_by_a_crashed_writer_is_dropped_before_the_next_append(
    tmp_path: Path,
) -> None:
    path = tmp_path / "alerts.jsonl"
    survivor = AlertLog(path)
    with path.open("ab") as crashed:  # a writer died half-way through its line
        crashed.write(make_alert(KUNDUZ).model_dump_json().encode()[:40])
    assert survivor.record(make_alert(KUNDUZ))
    survivor.close()
    lines = path.read_text().splitlines()
    assert [json.loads(line)["alert_id"] for line in lines] == ["alert-kunduz-entered"]
