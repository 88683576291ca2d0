"""The notify stage on a real broker, end to end: an immediate delivery, a retried one, a
refused one and a digest, each reaching its loopback receiver, and every `news.deliveries`
record it publishes valid against the shipped `news.delivery.v1` schema."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest
from standardwebhooks import Webhook

from ingest.core.jsonschemas import validator
from ingest.core.runtime import StreamRunner
from ingest.core.settings import Settings
from ingest.core.topics import ALERTS, DELIVERIES, SUBSCRIPTIONS
from tests import test_notify_receivers
from tests.kafka_helpers import produce, read_topic
from tests.test_notify_receivers import KUNDUZ, MAIMANA, Receiver, make_alert, make_sub
from workers.notify.dispatcher import digest_id
from workers.notify.keyed_view import KeyedWriter
from workers.notify.ledger import Ledger
from workers.notify.stage import NotifyStage

pytestmark = pytest.mark.timeout(120)
receivers = test_notify_receivers.receivers  # the loopback receivers fixture, shared


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_stage_delivers_retries_refuses_and_digests_with_schema_valid_records(
    settings: Settings, receivers: Callable[..., Receiver]
) -> None:
    now_rx, flaky_rx, gone_rx, digest_rx = (
        receivers(), receivers(script=[500]), receivers(script=[410, 410]), receivers()
    )
    subs = [
        make_sub("now", "webhook", now_rx.url),
        make_sub("flaky", "webhook", flaky_rx.url),
        make_sub("gone", "webhook", gone_rx.url),
        make_sub("digest", "webhook", digest_rx.url, digest_period_s=60),
    ]
    writer = KeyedWriter(settings.kafka, "/tests")
    for sub in subs:
        writer.put(SUBSCRIPTIONS, sub.subscription_id, sub)
    writer.close()
    notify = settings.notify.model_copy(update={
        "allow_private_targets": True, "stdout": False, "retry_base": timedelta(seconds=0.05),
        "retry_max_delay": timedelta(seconds=0.1), "request_timeout": timedelta(seconds=10),
    })
    live = settings.model_copy(update={"notify": notify})
    # The stage's clock runs with real time plus `skew`, so the test can move it past the
    # end of the digest period without waiting for it (and stay within the 5 minutes a
    # Standard Webhooks receiver tolerates).
    skew = [0.0]
    stage = NotifyStage(live, clock=lambda: time.time() + skew[0])
    runner = StreamRunner(live, stage, install_signals=False)
    thread = threading.Thread(target=runner.run)
    thread.start()
    ledger = Ledger(live.data_dir / live.notify.ledger_file)
    try:
        produce(live, ALERTS.name, KUNDUZ.place_id, make_alert(KUNDUZ))
        produce(live, ALERTS.name, MAIMANA.place_id, make_alert(MAIMANA, alert_id="alert-maimana"))
        wait_for(lambda: len(now_rx.ok()) == 2 and len(flaky_rx.ok()) == 2
                 and ledger.counts().get("dead") == 2 and ledger.counts().get("held") == 2,
                 "the immediate deliveries, the retry, the refusals and two held rows")
        assert digest_rx.requests == []
        (due,) = {row.hold_until for row in ledger.by_status("held")}
        assert due is not None
        skew[0] = due + 0.5 - time.time()
        wait_for(lambda: len(digest_rx.ok()) == 1, "the digest")
        records = read_topic(live, DELIVERIES.name, expect=8)
    finally:
        runner.stop()
        thread.join(timeout=60)
        ledger.close()
    assert not thread.is_alive()

    got = digest_rx.ok()[0]
    digest_sub = subs[3]
    assert digest_sub.secret is not None
    payload = Webhook(digest_sub.secret).verify(got.body, got.headers)
    assert got.headers["webhook-id"] == digest_id("digest", due)
    assert payload["type"] == "alert.digest"
    alerts = payload["data"]["alerts"]
    assert sorted(a["alert"]["capital"]["name"] for a in alerts) == ["Kunduz", "Maimana"]
    assert {a["kind"] for a in alerts} == {"alert"}
    assert all(a["alert"]["evidence"][0]["source"] == "Ledger" for a in alerts)

    schema = validator("news.delivery.v1")
    values = []
    for record in records:
        assert dict(record.headers)["ce_type"] == b"news.delivery.v1"
        value = json.loads(record.value)
        assert list(schema.iter_errors(value)) == []
        values.append(value)
    # now: two first-attempt successes; flaky: one 500 then its retry and the other alert;
    # gone: two 410s, dead at once; digest: one message for both alerts
    assert Counter((v["subscription_id"], v["status"], v["attempts"]) for v in values) == {
        ("now", "delivered", 1): 2,
        ("flaky", "failed", 1): 1, ("flaky", "delivered", 2): 1, ("flaky", "delivered", 1): 1,
        ("gone", "dead", 1): 2,
        ("digest", "delivered", 1): 1,
    }
    (digest_record,) = (v for v in values if v["subscription_id"] == "digest")
    assert digest_record["kind"] == "digest"
    assert sorted(digest_record["alert_ids"]) == ["alert-kunduz-entered", "alert-maimana"]
    assert all(v["last_error"] == "HTTP 410" for v in values if v["status"] == "dead")
