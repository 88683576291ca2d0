"""How far each stage has got: topic sizes and consumer-group lag.

Used by `news-ingest demo` to know when the pipeline has drained, and by
tests and benchmarks that wait for a stream to pass through.

End offsets are read from a fetch response's high watermark, not from
ListOffsets: the embedded broker (Tansu) answers ListOffsets(latest) with the
last record batch's base offset + 1, which undercounts batched writes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from ingest.core.settings import KafkaSettings


def end_offsets(kafka: KafkaSettings, topic: str, timeout: float = 10.0) -> dict[int, int]:
    """Partition → offset after its last record (0 for an empty partition)."""
    return ends_of_topics(kafka, [topic], timeout)[topic]


def ends_of_topics(
    kafka: KafkaSettings, topics: Sequence[str], timeout: float = 10.0
) -> dict[str, dict[int, int]]:
    """Topic → partition → offset after its last record, with one consumer for all."""
    consumer = KafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers, enable_auto_commit=False, fetch_max_wait_ms=50,
        max_partition_fetch_bytes=64 * 1024,
    )
    try:
        tps = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        ends: dict[str, dict[int, int]] = {topic: {} for topic in topics}
        if not tps:
            return ends
        listed = consumer.end_offsets(tps)
        consumer.assign(tps)
        for tp in tps:  # the last batch starts at or before listed - 1 on any broker
            consumer.seek(tp, max(listed[tp] - 1, 0))
        found = 0
        deadline = time.monotonic() + timeout
        while found < len(tps) and time.monotonic() < deadline:
            consumer.poll(timeout_ms=100)
            for tp in tps:
                high = consumer.highwater(tp)
                if high is not None and tp.partition not in ends[tp.topic]:
                    ends[tp.topic][tp.partition] = high
                    found += 1
        if found < len(tps):
            missing = sorted({tp.topic for tp in tps if tp.partition not in ends[tp.topic]})
            raise TimeoutError(f"no high watermark for every partition of {', '.join(missing)}")
        return ends
    finally:
        consumer.close()


def topic_size(kafka: KafkaSettings, topic: str) -> int:
    """Records ever written to `topic` (sum of end offsets; 0 if it does not exist)."""
    return sum(end_offsets(kafka, topic).values())


def group_lags(kafka: KafkaSettings, inputs: Mapping[str, str]) -> dict[str, int]:
    """Stage → records on its input topic (`inputs[stage]`) not yet committed by its group.

    One consumer reads every topic's end and one admin client every group's
    commits, whatever the number of stages: `drained()` runs this in a loop.
    """
    ends = ends_of_topics(kafka, sorted(set(inputs.values())))
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    try:
        specs = {
            f"news-ingest.{stage}": [TopicPartition(topic, p) for p in ends[topic]]
            for stage, topic in inputs.items()
        }
        committed = admin.list_group_offsets(specs) if any(specs.values()) else {}
    finally:
        admin.close()
    lags = {}
    for stage, topic in inputs.items():
        offsets = committed.get(f"news-ingest.{stage}", {})
        lags[stage] = sum(
            end - max(_offset(offsets.get(TopicPartition(topic, p))), 0)
            for p, end in ends[topic].items()
        )
    return lags


def _offset(committed: OffsetAndMetadata | None) -> int:
    return -1 if committed is None else int(committed.offset)
