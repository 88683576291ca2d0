"""Which feeds this poller process owns: Kafka group membership on `news.feeds`.

`Membership` owns one KafkaConsumer in its own thread (kafka-python clients
belong to one thread), subscribed to `news.feeds` in the group
`news-ingest.poller`. The group coordinator spreads the topic's partitions
over the live poller processes; a process that dies stops heartbeating and
its partitions move to the others after the session timeout. The thread
also reads the catalog records of the partitions it owns.

Before a partition is given up (`on_partitions_revoked`, which Kafka calls
before any other member may get it), the `release` callback must return
only once no poll of those partitions' feeds is in flight any more: that is
what makes "one poller per feed at a time" hold across a rebalance.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import structlog
from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition

from ingest.core.kafka_clients import make_consumer
from ingest.core.settings import FeedConfig, KafkaSettings
from ingest.poller.catalog import FEEDS_TOPIC, apply_record

log = structlog.get_logger(__name__)
GROUP = "news-ingest.poller"


@dataclass(frozen=True)
class Ownership:
    """A snapshot: partitions owned, the topic's partition count, added feeds by partition."""

    version: int
    partitions: frozenset[int]
    partition_count: int
    added: dict[int, dict[str, FeedConfig]] = field(default_factory=dict)


class Membership(ConsumerRebalanceListener):  # type: ignore[misc]
    """Start once with `start()`; `stop()` leaves the group and joins the thread."""

    def __init__(
        self, kafka: KafkaSettings, release: Callable[[frozenset[int]], None], *,
        group_id: str = GROUP,
    ) -> None:
        self._kafka = kafka
        self._release = release
        self._group = group_id
        self._lock = threading.Lock()
        self._owned: set[int] = set()
        self._added: dict[int, dict[str, FeedConfig]] = {}
        self._count = 0
        self._version = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="poller-membership", daemon=True)
        self.error: BaseException | None = None
        self._consumer: KafkaConsumer | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def snapshot(self) -> Ownership:
        with self._lock:
            return Ownership(self._version, frozenset(self._owned), self._count,
                             {p: dict(f) for p, f in self._added.items()})

    def _run(self) -> None:
        # Polled every 200 ms by this thread alone, so a short max poll interval
        # keeps a rebalance (which waits for every member) short.
        kafka = self._kafka.model_copy(update={"max_poll_interval_ms": 30_000})
        consumer: KafkaConsumer = make_consumer(kafka, self._group)
        consumer.subscribe([FEEDS_TOPIC], listener=self)
        self._consumer = consumer
        try:
            while not self._stop.is_set():
                for tp, records in consumer.poll(timeout_ms=200).items():
                    with self._lock:
                        feeds = self._added.setdefault(tp.partition, {})
                        for record in records:
                            apply_record(feeds, record.key, record.value)
                        self._version += 1
        except BaseException as exc:
            self.error = exc
            log.exception("poller_membership_failed")
            raise
        finally:
            consumer.close()  # leaves the group: the others take over at once

    def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        gone = frozenset(tp.partition for tp in revoked)
        with self._lock:
            self._owned -= gone
            for partition in gone:
                self._added.pop(partition, None)
            self._version += 1
        self._release(gone)  # outside the lock: it waits for polls in flight
        log.info("feed_partitions_revoked", partitions=sorted(gone))

    def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        count = len(self._consumer.partitions_for_topic(FEEDS_TOPIC) or ()) if self._consumer else 0
        with self._lock:
            self._count = count
            self._owned |= {tp.partition for tp in assigned}
            for tp in assigned:
                self._added[tp.partition] = {}  # re-read from the start (never committed)
            self._version += 1
        log.info("feed_partitions_assigned", partitions=sorted(tp.partition for tp in assigned))
