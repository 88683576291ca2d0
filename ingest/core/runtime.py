"""The one consume → handle → produce → flush → commit loop, used by every stage.

A stage is a `Stage`: it names its input topic and turns decoded events into
`Output`s. The `StreamRunner` owns everything else:

- auto-commit is off; a batch's offsets are committed only after every output
  of that batch (and every dead letter) is acknowledged by the broker
  (`acks=all`), so a crash replays, never loses;
- a message that cannot be decoded, or that the stage rejects with `BadInput`,
  goes to `<topic>.dlq` with its original key, bytes and headers plus
  `dlq_*` headers naming the source topic/partition/offset, the stage and the
  reason; the loop goes on. Too many dead letters in a row stop the stage
  (more likely a bad deploy than bad input);
- any other exception is a bug: it propagates, the process exits non-zero and
  its supervisor restarts it, replaying from the last commit;
- SIGINT/SIGTERM only set a flag: the current batch finishes, is flushed and
  committed, the clients close and `run()` returns. A second signal exits at once.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Protocol, TypeVar

import structlog
from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from ingest.core.envelope import DecodeError, Event, decode, encode, event_id
from ingest.core.kafka_clients import make_consumer, make_producer
from ingest.core.models import Payload, utc_now
from ingest.core.observability import (
    BATCH_SECONDS,
    CONSUMER_LAG,
    DEAD_LETTERS,
    MESSAGES_IN,
    MESSAGES_OUT,
    MetricsServer,
    Readiness,
)
from ingest.core.settings import Settings
from ingest.core.topics import Topic

log = structlog.get_logger()
P = TypeVar("P", bound=Payload)


class BadInput(Exception):
    """Raised by a stage for a message it can never process; the text is the reason."""


@dataclass(frozen=True)
class Output:
    """One message a stage wants produced."""

    topic: Topic
    key: str
    payload: Payload
    id: str | None = None  # default: deterministic from type and key
    ce_type: str | None = None  # default: the payload's own type


@dataclass(frozen=True)
class Inbound:
    """A consumed record with its decoded event."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    event: Event

    def payload_as(self, cls: type[P]) -> P:
        """The payload, typed; the runner has already checked the topic's payload type."""
        payload = self.event.payload
        if not isinstance(payload, cls):
            raise BadInput(f"expected {cls.ce_type}, got {payload.ce_type}")
        return payload


Result = Sequence[Output] | BadInput


class Stage(Protocol):
    """What a stage provides. Created once per process, closed at shutdown.

    `handle_batch` must return one result per inbound message, in order, and
    must not block much longer than a fraction of `max_poll_interval_ms`.
    """

    name: str
    input: Topic

    def handle_batch(self, batch: Sequence[Inbound]) -> list[Result]: ...

    def close(self) -> None: ...


class OneByOne:
    """Mixin: implement `handle(inbound) -> outputs` and get `handle_batch`."""

    def handle(self, inbound: Inbound) -> Sequence[Output]:
        raise NotImplementedError

    def handle_batch(self, batch: Sequence[Inbound]) -> list[Result]:
        results: list[Result] = []
        for inbound in batch:
            structlog.contextvars.bind_contextvars(
                topic=inbound.topic, partition=inbound.partition, offset=inbound.offset
            )
            try:
                results.append(self.handle(inbound))
            except BadInput as exc:
                results.append(exc)
        structlog.contextvars.unbind_contextvars("topic", "partition", "offset")
        return results

    def close(self) -> None:
        return None


class OutputSink:
    """Produces outputs and dead letters, and confirms they were acknowledged."""

    def __init__(self, producer: KafkaProducer, source: str) -> None:
        self.producer = producer
        self.source = source
        self._pending: list[Any] = []

    def send(self, output: Output) -> None:
        ce_type = output.ce_type or output.payload.ce_type
        headers, value = encode(
            output.payload,
            source=self.source,
            id=output.id or event_id(ce_type, output.key),
            type=ce_type,
        )
        self._pending.append(
            self.producer.send(
                output.topic.name, key=output.key.encode(), value=value, headers=headers
            )
        )

    def send_raw(
        self, topic: str, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        self._pending.append(self.producer.send(topic, key=key, value=value, headers=headers))

    def flush(self) -> None:
        """Block until every message sent so far is acknowledged, or raise."""
        self.producer.flush()
        pending, self._pending = self._pending, []
        for future in pending:
            future.get(timeout=0)  # re-raises the broker's error for a failed send


@dataclass
class ShutdownFlag:
    """Set by SIGINT/SIGTERM; loops check it between units of work."""

    requested: bool = False
    signals: int = 0

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.signals += 1
        if self.signals > 1:
            os._exit(128 + signum)  # second signal: the operator insists
        self.requested = True


@dataclass
class _Offsets(ConsumerRebalanceListener):  # type: ignore[misc]
    """Offsets processed but not yet committed; committed on revoke too."""

    consumer: KafkaConsumer | None = None
    pending: dict[TopicPartition, int] = field(default_factory=dict)

    def commit(self) -> None:
        if self.pending and self.consumer is not None:
            self.consumer.commit(
                {tp: OffsetAndMetadata(off, "", -1) for tp, off in self.pending.items()}
            )
            self.pending.clear()

    def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        self.commit()
        log.info("partitions_revoked", partitions=[f"{p.topic}[{p.partition}]" for p in revoked])

    def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        log.info("partitions_assigned", partitions=[f"{p.topic}[{p.partition}]" for p in assigned])


class StreamRunner:
    """Runs one `Stage` against Kafka until a shutdown signal (or `stop()`)."""

    def __init__(self, settings: Settings, stage: Stage, *, install_signals: bool = True) -> None:
        self.settings = settings
        self.stage = stage
        self.shutdown = ShutdownFlag()
        if install_signals:
            self.shutdown.install()
        self.consecutive_dead_letters = 0
        self.processed = 0
        self.readiness = Readiness(stall_after=settings.observability.stall_after.total_seconds())
        self.on_batch_committed: Callable[[int], None] | None = None

    def stop(self) -> None:
        self.shutdown.requested = True

    def run(self) -> None:
        kafka = self.settings.kafka
        observe = self.settings.observability
        if observe.metrics_port:
            MetricsServer(observe.metrics_host, observe.metrics_port, readiness=self.readiness)
        offsets = _Offsets()
        consumer = make_consumer(kafka, group_id=f"news-ingest.{self.stage.name}")
        consumer.subscribe([self.stage.input.name], listener=offsets)
        offsets.consumer = consumer
        sink = OutputSink(make_producer(kafka, self.stage.name), f"/news-ingest/{self.stage.name}")
        self.readiness.connected = True
        log.info("stage_started", stage=self.stage.name, input=self.stage.input.name)
        try:
            while not self.shutdown.requested:
                polled = consumer.poll(timeout_ms=500)
                records = [r for part in polled.values() for r in part]
                started = time.perf_counter()
                if records:
                    self._process(records, sink, offsets)
                    BATCH_SECONDS.labels(self.stage.name).observe(time.perf_counter() - started)
                self._observe(consumer)
        finally:
            try:
                sink.flush()
                offsets.commit()
            finally:
                consumer.close(autocommit=False)
                sink.producer.close()
                self.stage.close()
                log.info("stage_stopped", stage=self.stage.name, processed=self.processed)

    def _observe(self, consumer: KafkaConsumer) -> None:
        """Lag per assigned partition (from fetch high watermarks) and readiness."""
        assigned = consumer.assignment()
        self.readiness.assigned = len(assigned)
        self.readiness.progressed()  # a poll that returns, with or without records, is progress
        for tp in assigned:
            high = consumer.highwater(tp)
            if high is not None:
                lag = max(0, high - consumer.position(tp))
                CONSUMER_LAG.labels(self.stage.name, tp.topic, str(tp.partition)).set(lag)

    def _process(self, records: list[Any], sink: OutputSink, offsets: _Offsets) -> None:
        inbound: list[Inbound] = []
        for record in records:
            try:
                event = decode(record.value, record.headers or [])
            except DecodeError as exc:
                self._dead_letter(sink, record, str(exc), "decode")
                continue
            expected = self.stage.input.payload
            if not isinstance(event.payload, expected):
                reason = f"{record.topic} carries {expected.ce_type}, got {event.type}"
                self._dead_letter(sink, record, reason, "decode")
                continue
            inbound.append(
                Inbound(record.topic, record.partition, record.offset, record.key, event)
            )
        MESSAGES_IN.labels(self.stage.name, self.stage.input.name).inc(len(records))
        results = self.stage.handle_batch(inbound) if inbound else []
        by_offset = {(r.topic, r.partition, r.offset): r for r in records}
        for item, result in zip(inbound, results, strict=True):
            if isinstance(result, BadInput):
                record = by_offset[(item.topic, item.partition, item.offset)]
                self._dead_letter(sink, record, str(result), "handle")
                continue
            self.consecutive_dead_letters = 0
            for output in result:
                sink.send(output)
                MESSAGES_OUT.labels(self.stage.name, output.topic.name).inc()
        sink.flush()
        for record in records:
            offsets.pending[TopicPartition(record.topic, record.partition)] = record.offset + 1
        offsets.commit()
        self.processed += len(records)
        if self.on_batch_committed:
            self.on_batch_committed(len(records))

    def _dead_letter(self, sink: OutputSink, record: Any, reason: str, phase: str) -> None:
        self.consecutive_dead_letters += 1
        log.warning(
            "message_dead_lettered",
            stage=self.stage.name,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=reason,
        )
        headers = [(k, v) for k, v in (record.headers or []) if not k.startswith("dlq_")]
        headers += [
            ("dlq_reason", reason.encode()),
            ("dlq_phase", phase.encode()),
            ("dlq_stage", self.stage.name.encode()),
            ("dlq_topic", record.topic.encode()),
            ("dlq_partition", str(record.partition).encode()),
            ("dlq_offset", str(record.offset).encode()),
            ("dlq_time", utc_now().isoformat().encode()),
        ]
        sink.send_raw(f"{record.topic}.dlq", record.key, record.value, headers)
        DEAD_LETTERS.labels(self.stage.name, record.topic).inc()
        limit = self.settings.kafka.max_consecutive_dead_letters
        if self.consecutive_dead_letters > limit:
            raise RuntimeError(
                f"{self.consecutive_dead_letters} messages in a row dead-lettered by "
                f"{self.stage.name}; stopping: this looks like a bug or bad deploy, not bad input"
            )
