"""How far each stage has got: topic sizes and consumer-group lag.

Used by `news-ingest demo` to know when the pipeline has drained, and by
tests and benchmarks that wait for a stream to pass through.
"""

from __future__ import annotations

from kafka import KafkaConsumer, TopicPartition

from ingest.core.settings import KafkaSettings


def topic_size(kafka: KafkaSettings, topic: str) -> int:
    """Messages ever written to `topic` (sum of end offsets; 0 if it does not exist)."""
    consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap_servers)
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in parts]
        return sum(consumer.end_offsets(tps).values()) if tps else 0
    finally:
        consumer.close()


def group_lag(kafka: KafkaSettings, stage: str, topic: str) -> int:
    """Messages on `topic` not yet committed by the stage's consumer group."""
    # A consumer that never subscribes reads the group's commits without joining it.
    consumer = KafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers,
        group_id=f"news-ingest.{stage}",
        enable_auto_commit=False,
    )
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in parts]
        ends = consumer.end_offsets(tps) if tps else {}
        return sum(end - (consumer.committed(tp) or 0) for tp, end in ends.items())
    finally:
        consumer.close()
