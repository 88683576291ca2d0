"""How far each stage has got: topic sizes and consumer-group lag.

Used by `news-ingest demo` to know when the pipeline has drained, and by
tests and benchmarks that wait for a stream to pass through.

End offsets are read from a fetch response's high watermark, not from
ListOffsets: the embedded broker (Tansu) answers ListOffsets(latest) with the
last record batch's base offset + 1, which undercounts batched writes.
"""

from __future__ import annotations

import time

from kafka import KafkaConsumer, TopicPartition

from ingest.core.settings import KafkaSettings


def end_offsets(kafka: KafkaSettings, topic: str, timeout: float = 10.0) -> dict[int, int]:
    """Partition → offset after its last record (0 for an empty partition)."""
    consumer = KafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers, enable_auto_commit=False, fetch_max_wait_ms=50,
        max_partition_fetch_bytes=64 * 1024,
    )
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not tps:
            return {}
        listed = consumer.end_offsets(tps)
        consumer.assign(tps)
        for tp in tps:  # the last batch starts at or before listed - 1 on any broker
            consumer.seek(tp, max(listed[tp] - 1, 0))
        ends: dict[int, int] = {}
        deadline = time.monotonic() + timeout
        while len(ends) < len(tps) and time.monotonic() < deadline:
            consumer.poll(timeout_ms=100)
            for tp in tps:
                high = consumer.highwater(tp)
                if high is not None:
                    ends[tp.partition] = high
        if len(ends) < len(tps):
            raise TimeoutError(f"no high watermark for every partition of {topic}")
        return ends
    finally:
        consumer.close()


def topic_size(kafka: KafkaSettings, topic: str) -> int:
    """Records ever written to `topic` (sum of end offsets; 0 if it does not exist)."""
    return sum(end_offsets(kafka, topic).values())


def group_lag(kafka: KafkaSettings, stage: str, topic: str) -> int:
    """Records on `topic` not yet committed by the stage's consumer group."""
    ends = end_offsets(kafka, topic)
    # A consumer that never subscribes reads the group's commits without joining it.
    consumer = KafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers,
        group_id=f"news-ingest.{stage}",
        enable_auto_commit=False,
    )
    try:
        return sum(
            end - (consumer.committed(TopicPartition(topic, partition)) or 0)
            for partition, end in ends.items()
        )
    finally:
        consumer.close()
