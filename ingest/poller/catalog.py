"""The feed catalog topic `news.feeds`: feeds added at run time, and who polls which feed.

Feeds in the config file are the baseline; `news-ingest feeds add` writes a
record keyed by the feed URL to the compacted topic `news.feeds` (value: the
feed as JSON; a tombstone removes it), so every poller process on any machine
sees it. The topic's partitions are also the unit of work: a poller polls
exactly the feeds, configured or added, whose URL the default Kafka
partitioner (murmur2 of the key) puts in a partition the consumer group
assigned to it.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError
from kafka.partitioner.default import murmur2

from ingest.core.kafka_clients import make_producer
from ingest.core.progress import end_offsets
from ingest.core.settings import FeedConfig, KafkaSettings

FEEDS_TOPIC = "news.feeds"


def partition_for(feed_url: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a record keyed by `feed_url`."""
    digest: int = murmur2(feed_url.encode("utf-8"))
    return (digest & 0x7FFFFFFF) % partitions


def encode_feed(feed: FeedConfig) -> bytes:
    data: dict[str, Any] = {"url": feed.url, "name": feed.name,
                            "interval": feed.interval.total_seconds(), "robots": feed.robots}
    return json.dumps(data, separators=(",", ":")).encode()


def decode_feed(value: bytes | None) -> FeedConfig | None:
    """The feed in a record, or None for a tombstone; ValueError for a bad record."""
    if value is None:
        return None
    return FeedConfig.model_validate(json.loads(value))


def ensure_feeds_topic(kafka: KafkaSettings, partitions: int) -> None:
    """Create `news.feeds` (compacted) if it does not exist yet."""
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers,
                             client_id=f"{kafka.client_id}-admin")
    try:
        if FEEDS_TOPIC in set(admin.list_topics()):
            return
        topic = NewTopic(FEEDS_TOPIC, partitions, kafka.replication_factor,
                         topic_configs={"cleanup.policy": "compact"})
        with contextlib.suppress(TopicAlreadyExistsError):  # another poller was first
            admin.create_topics([topic])
    finally:
        admin.close()


def publish(kafka: KafkaSettings, partitions: int, changes: dict[str, FeedConfig | None]) -> None:
    """Add (a feed) or remove (None) catalog entries, acknowledged by the broker."""
    ensure_feeds_topic(kafka, partitions)
    producer: KafkaProducer = make_producer(kafka, "feeds-cli")
    try:
        futures = [
            producer.send(FEEDS_TOPIC, key=url.encode(),
                          value=None if feed is None else encode_feed(feed))
            for url, feed in changes.items()
        ]
        producer.flush()
        for future in futures:
            future.get(timeout=30)
    finally:
        producer.close()


def read_catalog(kafka: KafkaSettings, timeout: float = 30.0) -> dict[str, FeedConfig]:
    """Every feed currently in `news.feeds` (the latest record per URL, tombstones applied)."""
    ends = end_offsets(kafka, FEEDS_TOPIC)
    if not any(ends.values()):
        return {}
    consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap_servers,
                             enable_auto_commit=False)
    feeds: dict[str, FeedConfig] = {}
    try:
        tps = [TopicPartition(FEEDS_TOPIC, p) for p in ends]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < ends[tp.partition] for tp in tps):
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {FEEDS_TOPIC} took longer than {timeout:.0f} s")
            for records in consumer.poll(timeout_ms=200).values():
                for record in records:
                    apply_record(feeds, record.key, record.value)
        return feeds
    finally:
        consumer.close()


def apply_record(feeds: dict[str, FeedConfig], key: bytes | None, value: bytes | None) -> None:
    """Fold one catalog record into `feeds`; a record that does not decode is ignored."""
    if key is None:
        return
    url = key.decode("utf-8", "replace")
    try:
        feed = decode_feed(value)
    except ValueError:
        return
    if feed is None:
        feeds.pop(url, None)
    else:
        feeds[url] = feed
