"""Test helpers that read and write topics the way an outside program would."""

from __future__ import annotations

import time
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from ingest.core.envelope import encode, event_id
from ingest.core.models import Payload
from ingest.core.settings import Settings


def produce(settings: Settings, topic: str, key: str, payload: Payload) -> None:
    headers, value = encode(payload, source="/tests", id=event_id(payload.ce_type, key))
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all")
    producer.send(topic, key=key.encode(), value=value, headers=headers).get(timeout=10)
    producer.close()


def produce_raw(
    settings: Settings, topic: str, value: bytes, headers: list[tuple[str, bytes]] | None = None
) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all")
    producer.send(topic, key=b"poison", value=value, headers=headers or []).get(timeout=10)
    producer.close()


def read_topic(
    settings: Settings, topic: str, *, expect: int | None = None, timeout: float = 30.0
) -> list[Any]:
    """All records on a topic (from the beginning), waiting until `expect` arrived."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=300).values():
                records.extend(batch)
            if expect is not None and len(records) >= expect:
                break
            if expect is None and not any(
                consumer.position(tp) < end for tp, end in consumer.end_offsets(tps).items()
            ):
                break
        return records
    finally:
        consumer.close()
