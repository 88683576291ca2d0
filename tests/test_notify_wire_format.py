"""What notify formats itself for the webhook path and `news.deliveries`: the Standard
Webhooks signature (verified by the library, as a receiver would), the delivery record
(against the model and the shipped schema), and the partition an encoded record takes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from ingest.core.jsonschemas import validator
from ingest.core.models import DeliveryRecord
from ingest.core.settings import Settings
from ingest.core.topics import DELIVERIES
from tests.kafka_helpers import read_topic
from workers.notify.dispatcher import record_json
from workers.notify.keyed_view import KeyedView, KeyedWriter
from workers.notify.ledger import Delivery
from workers.notify.signing import new_secret, signature_headers

pytestmark = pytest.mark.timeout(60)


def test_signature_verifies_with_the_standard_webhooks_library() -> None:
    secret = new_secret()
    body = json.dumps({"text": "Kunduz — entered", "n": 1}, ensure_ascii=False).encode()
    ts = int(datetime.now(UTC).timestamp())
    headers = signature_headers(secret, "delivery-1", ts, body)
    assert Webhook(secret).verify(body, headers) == json.loads(body)
    unprefixed = secret.removeprefix("whsec_").rstrip("=")  # the library accepts this form too
    assert Webhook(unprefixed).verify(body, signature_headers(unprefixed, "d", ts, body))


def _delivery() -> Delivery:
    return Delivery(
        delivery_id="d-1", subscription_id='desk "A"\n', channel="webhook", kind="digest",
        alert_ids=("alert-1", "alert-ü"), items=(), status="pending", hold_until=None,
        attempts=0, next_attempt=0.0, deadline=0.0, created=1_750_000_000.25,
    )


@pytest.mark.parametrize(("status", "error", "published"), [
    ("delivered", None, "delivered"), ("pending", "HTTP 503", "failed"),
    ("dead", "timeout after 1 s", "dead"),
])
def test_delivery_record_json_is_the_model_and_valid_against_the_schema(
    status: str, error: str | None, published: str,
) -> None:
    value = record_json(_delivery(), status, 2, error, 1_750_000_060.0)
    assert list(validator("news.delivery.v1").iter_errors(json.loads(value))) == []
    record = DeliveryRecord.model_validate_json(value)
    assert record == DeliveryRecord(
        delivery_id="d-1", subscription_id='desk "A"\n', channel="webhook", kind="digest",
        alert_ids=["alert-1", "alert-ü"], status=published, attempts=2,
        last_error=error,
        created_at=datetime(2025, 6, 15, 15, 6, 40, 250000, tzinfo=UTC),
        updated_at=datetime(2025, 6, 15, 15, 7, 40, tzinfo=UTC),
    )


def test_encoded_records_go_to_the_partition_the_default_partitioner_picks(
    settings: Settings,
) -> None:
    """Compaction keeps the latest value per key within a partition: a record the API
    writes through kafka-python's partitioner and one the engine writes with its own
    choice of partition must meet in the same partition."""
    keys = [f"delivery-{n}" for n in range(40)]
    row = _delivery()
    by_model = KeyedWriter(settings.kafka, "/tests/model")
    for key in keys:
        by_model.put(DELIVERIES, key, DeliveryRecord.model_validate_json(
            record_json(row, "dead", 1, "HTTP 500", 1_750_000_060.0)), wait=False)
    by_model.flush()
    by_model.close()
    encoded = KeyedWriter(settings.kafka, "/tests/encoded")
    encoded.put_encoded(DELIVERIES, [
        (key, record_json(row, "delivered", 2, None, 1_750_000_090.0)) for key in keys
    ])
    encoded.flush()
    encoded.close()
    records = read_topic(settings, DELIVERIES.name, expect=2 * len(keys))
    partitions: dict[str, set[int]] = {}
    for record in records:
        partitions.setdefault(record.key.decode(), set()).add(record.partition)
    assert set(partitions) == set(keys)
    assert all(len(p) == 1 for p in partitions.values())
    assert len(set().union(*partitions.values())) > 1  # the keys did spread over partitions
    view = KeyedView(settings.kafka, DELIVERIES, DeliveryRecord)
    try:
        view.refresh()
        assert {view.get(key).status for key in keys} == {"delivered"}  # type: ignore[union-attr]
    finally:
        view.close()
