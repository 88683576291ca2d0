"""Message contracts: schema files, the CloudEvents envelope, the public stage list."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary
from cloudevents.core.formats.json import JSONFormat

from ingest.core import jsonschemas
from ingest.core.envelope import DecodeError, decode, encode
from ingest.core.models import Item
from ingest.core.stages import stage_names
from ingest.core.topics import ALL

ITEM = Item(
    item_id="abc", url="https://example.org/a", feed_url="https://example.org/rss",
    feed_name="Example", discovered_at=datetime(2021, 6, 21, tzinfo=UTC),
)


def test_committed_schema_files_match_the_models() -> None:
    """Run `python -m ingest.core.jsonschemas` after changing a model."""
    for ce_type, text in jsonschemas.generate().items():
        shipped = (jsonschemas.SCHEMA_DIR / f"{ce_type}.json").read_text()
        assert shipped == text, f"{ce_type}.json is stale"


def test_every_topic_payload_has_a_shipped_schema() -> None:
    for topic in ALL:
        assert jsonschemas.validator(topic.payload.ce_type) is not None


def test_encoded_message_is_a_binary_mode_cloudevent() -> None:
    headers, value = encode(ITEM, source="/news-ingest/poller", id="evt-1")
    names = dict(headers)
    assert names["ce_specversion"] == b"1.0"
    assert names["ce_type"] == b"news.item.v1"
    assert names["content-type"] == b"application/json"
    event = from_binary(KafkaMessage(headers=names, key=b"abc", value=value), JSONFormat())
    assert event.get_id() == "evt-1"
    assert event.get_source() == "/news-ingest/poller"
    data = event.get_data()
    assert isinstance(data, dict)
    jsonschemas.validator("news.item.v1").validate(data)
    assert decode(value, headers).payload == ITEM


@pytest.mark.parametrize(
    ("value", "headers", "reason"),
    [
        (None, [], "tombstone"),
        (b"{}", [], "no ce_type header"),
        (b"{}", [("ce_type", b"news.nothing.v9")], "unknown ce_type"),
        (b"not json", [("ce_type", b"news.item.v1"), ("ce_specversion", b"1.0"),
                       ("ce_id", b"1"), ("ce_source", b"/x")], "not valid JSON"),
    ],
)
def test_undecodable_messages_say_why(
    value: bytes | None, headers: list[tuple[str, bytes]], reason: str
) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode(value, headers)


def test_every_pipeline_stage_is_registered() -> None:
    assert stage_names() == [
        "poller", "fetcher", "cleaner", "dedupe", "geotag", "alert", "notify",
    ]
