"""A process's view of a compacted, keyed topic (subscriptions, the delivery ledger).

The view reads every partition from the beginning without a consumer group
(every process needs the whole table), keeps the latest value per key and
drops a key on a tombstone. `refresh()` reads up to the end offsets it sees
when called, so a write acknowledged before the call is visible after it.
Thread-safe: one lock guards the kafka-python consumer, which is not.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Generic, TypeVar

import structlog
from kafka import KafkaConsumer, TopicPartition
from kafka.partitioner.default import murmur2

from ingest.core.envelope import DecodeError, Headers, binary_headers, decode, event_id
from ingest.core.kafka_clients import make_producer
from ingest.core.models import Payload
from ingest.core.settings import KafkaSettings
from ingest.core.topics import Topic

log = structlog.get_logger()
P = TypeVar("P", bound=Payload)


class KeyedView(Generic[P]):
    """Latest value per key of one compacted topic; created once, `close()`d at shutdown."""

    def __init__(
        self, kafka: KafkaSettings, topic: Topic, cls: type[P],
        on_change: Callable[[str, P | None], None] | None = None,
        *,
        skip_source: str | None = None,
    ) -> None:
        """`skip_source`: ignore records whose `ce_source` starts with this (e.g. the writes
        of the processes sharing one ledger file)."""
        self.topic = topic
        self._skip = skip_source.encode() if skip_source else None
        self.cls = cls
        self.on_change = on_change
        self._lock = threading.Lock()
        self._items: dict[str, P] = {}
        self.version = 0  # bumped on every change, so callers can cache derived data
        self._consumer = KafkaConsumer(
            bootstrap_servers=(kafka.bootstrap_servers or "").split(","),
            client_id=f"{kafka.client_id}-view-{topic.name}",
            enable_auto_commit=False,
            request_timeout_ms=max(kafka.request_timeout_ms, kafka.session_timeout_ms + 5000),
        )
        parts = self._consumer.partitions_for_topic(topic.name) or {0}
        self._tps = [TopicPartition(topic.name, p) for p in sorted(parts)]
        self._consumer.assign(self._tps)
        self._consumer.seek_to_beginning(*self._tps)

    def refresh(self, timeout: float = 10.0) -> int:
        """Read what was written before this call; return the number of records applied."""
        with self._lock:
            ends = self._consumer.end_offsets(self._tps)
            applied = 0
            deadline = time.monotonic() + timeout
            while any(self._consumer.position(tp) < end for tp, end in ends.items()):
                if time.monotonic() > deadline:
                    log.warning("view_refresh_timeout", topic=self.topic.name)
                    break
                for records in self._consumer.poll(timeout_ms=200).values():
                    for record in records:
                        self._apply(record.key, record.value, record.headers or [])
                        applied += 1
            return applied

    def _apply(
        self, raw_key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        if raw_key is None:
            return
        key = raw_key.decode()
        item: P | None = None
        if self._skip is not None and any(
            name == "ce_source" and bool(raw) and raw.startswith(self._skip)
            for name, raw in headers
        ):
            return  # checked before decoding: the cheapest way past our own records
        if value is not None:
            try:
                payload = decode(value, headers).payload
            except DecodeError as exc:
                log.warning("view_record_skipped", topic=self.topic.name, key=key, reason=str(exc))
                return
            if not isinstance(payload, self.cls):
                return
            item = payload
            self._items[key] = item
        else:
            self._items.pop(key, None)
        self.version += 1
        if self.on_change is not None:
            self.on_change(key, item)

    def get(self, key: str) -> P | None:
        return self._items.get(key)

    def values(self) -> list[P]:
        return list(self._items.values())

    def close(self) -> None:
        with self._lock:
            self._consumer.close()


def binary_event(payload: Payload, key: str, source: str) -> tuple[Headers, bytes]:
    """The CloudEvents binary-mode message `envelope.encode` makes, built directly.

    Same `ce_*` headers and id (`event_id` of type, key and JSON value), value as
    compact JSON: `envelope.decode` reads it back. At one record per delivery, the
    SDK's event object and second serialisation were 5-7% of the notify process.
    """
    value = payload.model_dump_json()
    headers = binary_headers(id=event_id(payload.ce_type, key, value), source=source,
                             type=payload.ce_type, time=datetime.now(UTC))
    return headers, value.encode()


class KeyedWriter:
    """Writes values and tombstones to compacted topics, waiting for `acks=all`."""

    def __init__(
        self, kafka: KafkaSettings, source: str, *, linger_ms: int = 5,
        batch_size: int = 16384,
    ) -> None:
        """`linger_ms`: how long a record waits for others to share its batch of at most
        `batch_size` bytes (per partition)."""
        self.source = source
        self._producer = make_producer(
            kafka, source.strip("/").replace("/", "-"), linger_ms=linger_ms, batch_size=batch_size
        )

    def put(self, topic: Topic, key: str, payload: Payload, *, wait: bool = True) -> None:
        headers, value = binary_event(payload, key, self.source)
        future = self._producer.send(topic.name, key=key.encode(), value=value, headers=headers)
        if wait:
            future.get(timeout=30)

    def put_encoded(self, topic: Topic, records: Sequence[tuple[str, bytes]]) -> None:
        """Send values of `topic`'s payload type already encoded as JSON; no waiting.

        Each record goes to the partition kafka-python's default partitioner would
        pick (murmur2 of the key over the sorted partitions), computed here once the
        partitions are known for the whole batch: the partitioner's metadata
        look-ups were half of each `send`, at one record per delivery.
        """
        if not records:
            return
        parts = sorted(self._producer.partitions_for(topic.name))
        ce_type = topic.payload.ce_type
        now = datetime.now(UTC)
        send = self._producer.send
        for key, value in records:
            raw_key = key.encode()
            headers = binary_headers(id=event_id(ce_type, key, value.decode()),
                                     source=self.source, type=ce_type, time=now)
            send(
                topic.name, key=raw_key, value=value, headers=headers,
                partition=parts[(murmur2(raw_key) & 0x7FFFFFFF) % len(parts)],
            )

    def delete(self, topic: Topic, key: str) -> None:
        self._producer.send(topic.name, key=key.encode(), value=None).get(timeout=30)

    def flush(self) -> None:
        self._producer.flush()

    def close(self) -> None:
        self._producer.close()
