"""The one consume → handle → produce → flush → commit loop, used by every stage.

A stage is a `Stage`: it names its input topic and turns decoded events into
`Output`s. The `StreamRunner` owns everything else:

- auto-commit is off; a partition's offset is committed only after every
  output (and every dead letter) of every record up to it is acknowledged by
  the broker (`acks=all`), so a crash replays, never loses;
- a `ConcurrentStage` (the cleaner's process pool) is handed work without
  waiting for it: the loop keeps polling and decoding while up to
  `max_in_flight` records are being worked on, produces each record's outputs
  as soon as it and every earlier record of its partition are done, and
  commits that done prefix. Completion order does not matter; commit order is
  the partition's order;
- a message that cannot be decoded, or that the stage rejects with `BadInput`,
  goes to `<topic>.dlq` with its original key, bytes and headers plus
  `dlq_*` headers naming the source topic/partition/offset, the stage and the
  reason; the loop goes on. Too many dead letters in a row stop the stage
  (more likely a bad deploy than bad input);
- any other exception is a bug: it propagates, the process exits non-zero and
  its supervisor restarts it, replaying from the last commit;
- SIGINT/SIGTERM only set a flag: the work in flight finishes, is flushed and
  committed, the clients close and `run()` returns. A second signal exits at
  once. Revoked partitions get the same treatment before they are handed over.
"""

from __future__ import annotations

import os
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
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
T = TypeVar("T")

# While work is in flight, offsets are committed at most this often: one
# flush + commit round trip per finished page would cost more than the page.
COMMIT_INTERVAL_S = 0.25


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


class ConcurrentStage(Stage, Protocol):
    """A stage whose work runs elsewhere (a process pool, an event loop in its own thread),
    so the loop need not wait for it.

    `submit_batch` returns at once with one future per inbound message, in
    order. A future that raises anything but `BadInput` is a bug, as in
    `handle_batch`. The runner keeps at most `max_in_flight` records submitted.
    """

    max_in_flight: int

    def submit_batch(self, batch: Sequence[Inbound]) -> list[Future[Result]]: ...


def resolved(result: T) -> Future[T]:
    """A future that is already done."""
    future: Future[T] = Future()
    future.set_result(result)
    return future


def then(future: Future[T], finish: Callable[[Future[T]], Result]) -> Future[Result]:
    """The future of `finish(future)`, called once `future` is done (on the thread ending it)."""
    chained: Future[Result] = Future()

    def on_done(done: Future[T]) -> None:
        try:
            chained.set_result(finish(done))
        except BaseException as exc:  # surfaced to the runner, which re-raises it
            chained.set_exception(exc)

    future.add_done_callback(on_done)
    return chained


class Submits:
    """Mixin for a `ConcurrentStage`: implement `submit_batch` and get `handle_batch`,
    which waits for every future (the runner itself calls `submit_batch`)."""

    def submit_batch(self, batch: Sequence[Inbound]) -> list[Future[Result]]:
        raise NotImplementedError

    def handle_batch(self, batch: Sequence[Inbound]) -> list[Result]:
        return [future.result() for future in self.submit_batch(batch)]


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


@dataclass(frozen=True)
class _Entry:
    """A consumed record and its result to come; `phase` names where a `BadInput` arose."""

    record: Any
    result: Future[Result]
    phase: str


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """Hands revoked partitions over with their work finished and committed."""

    def __init__(self, runner: StreamRunner) -> None:
        self.runner = runner

    def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        self.runner.settle(revoked)
        log.info("partitions_revoked", partitions=[f"{p.topic}[{p.partition}]" for p in revoked])

    def on_partitions_lost(self, lost: Sequence[TopicPartition]) -> None:
        self.runner.forget(lost)  # no longer a member: a commit would be refused
        log.warning("partitions_lost", partitions=[f"{p.topic}[{p.partition}]" for p in lost])

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
        self.max_in_flight: int = getattr(stage, "max_in_flight", settings.kafka.max_poll_records)
        # Per partition, in offset order: records consumed and not yet produced.
        self._in_flight: dict[TopicPartition, deque[_Entry]] = {}
        # Per partition: the offset after the last record produced but not yet committed.
        self._produced: dict[TopicPartition, int] = {}
        self._uncommitted = 0
        self._last_commit = time.monotonic()
        self._consumer: KafkaConsumer | None = None
        self._sink: OutputSink | None = None

    def stop(self) -> None:
        self.shutdown.requested = True

    def run(self) -> None:
        kafka = self.settings.kafka
        observe = self.settings.observability
        if observe.metrics_port:
            MetricsServer(observe.metrics_host, observe.metrics_port, readiness=self.readiness)
        consumer = self._consumer = make_consumer(kafka, group_id=f"news-ingest.{self.stage.name}")
        consumer.subscribe([self.stage.input.name], listener=_Rebalance(self))
        producer = make_producer(kafka, self.stage.name)
        self._sink = OutputSink(producer, f"/news-ingest/{self.stage.name}")
        self.readiness.connected = True
        log.info("stage_started", stage=self.stage.name, input=self.stage.input.name)
        try:
            while not self.shutdown.requested:
                polled = self._step(consumer)
                self._observe(consumer, polled=polled)
            self.settle(list(self._in_flight))
        finally:
            consumer.close(autocommit=False)
            producer.close()
            self.stage.close()
            log.info("stage_stopped", stage=self.stage.name, processed=self.processed)

    def _step(self, consumer: KafkaConsumer) -> bool:
        """Poll if there is room, else wait for work to finish; produce and commit what is done.

        Returns whether it polled.
        """
        waiting = self._waiting()
        # Refill only once half the window is free: each poll has a fixed cost,
        # and the other half keeps the stage's workers busy meanwhile.
        refill = waiting <= self.max_in_flight // 2
        records: list[Any] = []
        if refill:
            room = self.max_in_flight - waiting
            polled = consumer.poll(timeout_ms=0 if waiting else 500, max_records=room)
            records = [r for part in polled.values() for r in part]
        if waiting and not records:
            heads = [queue[0].result for queue in self._in_flight.values() if queue]
            wait(heads, timeout=0.05 if refill else 0.5, return_when=FIRST_COMPLETED)
        started = time.perf_counter()
        if records:
            self._submit(records)
        produced = self._produce_done()
        due = time.monotonic() - self._last_commit >= COMMIT_INTERVAL_S
        if self._produced and (due or not self._waiting()):
            self._commit()
        if records or produced:
            BATCH_SECONDS.labels(self.stage.name).observe(time.perf_counter() - started)
        return refill

    def _waiting(self) -> int:
        return sum(len(queue) for queue in self._in_flight.values())

    def _submit(self, records: list[Any]) -> None:
        """Decode the records and hand them to the stage; queue each with its result to come."""
        decoded = [(record, self._decode(record)) for record in records]
        inbound = [item for _, item in decoded if isinstance(item, Inbound)]
        MESSAGES_IN.labels(self.stage.name, self.stage.input.name).inc(len(records))
        results = iter(self._hand_over(inbound) if inbound else [])
        for record, item in decoded:
            if isinstance(item, BadInput):
                rejected: Result = item
                entry = _Entry(record, resolved(rejected), "decode")
            else:
                entry = _Entry(record, next(results), "handle")
            tp = TopicPartition(record.topic, record.partition)
            self._in_flight.setdefault(tp, deque()).append(entry)

    def _decode(self, record: Any) -> Inbound | BadInput:
        try:
            event = decode(record.value, record.headers or [])
        except DecodeError as exc:
            return BadInput(str(exc))
        expected = self.stage.input.payload
        if not isinstance(event.payload, expected):
            return BadInput(f"{record.topic} carries {expected.ce_type}, got {event.type}")
        return Inbound(record.topic, record.partition, record.offset, record.key, event)

    def _hand_over(self, inbound: list[Inbound]) -> list[Future[Result]]:
        """One future result per inbound record, in order; already done for a plain `Stage`."""
        submit = getattr(self.stage, "submit_batch", None)
        if submit is not None:
            futures: list[Future[Result]] = submit(inbound)
        else:
            futures = [resolved(result) for result in self.stage.handle_batch(inbound)]
        if len(futures) != len(inbound):
            raise RuntimeError(f"{self.stage.name}: {len(futures)} results for {len(inbound)}")
        return futures

    def _produce_done(self, partitions: Iterable[TopicPartition] | None = None) -> int:
        """Produce the outputs of each partition's leading run of finished records; count them."""
        before = self._uncommitted
        for tp in list(self._in_flight if partitions is None else partitions):
            queue = self._in_flight.get(tp, deque())
            while queue and queue[0].result.done():
                entry = queue.popleft()
                self._emit(entry)
                self._produced[tp] = entry.record.offset + 1
                self._uncommitted += 1
        return self._uncommitted - before

    def _emit(self, entry: _Entry) -> None:
        result = entry.result.result()  # a bug in the stage re-raises here
        if isinstance(result, BadInput):
            self._dead_letter(entry.record, str(result), entry.phase)
            return
        self.consecutive_dead_letters = 0
        assert self._sink is not None
        for output in result:
            self._sink.send(output)
            MESSAGES_OUT.labels(self.stage.name, output.topic.name).inc()

    def _commit(self) -> None:
        """Wait for the broker to acknowledge everything produced, then commit past it."""
        assert self._sink is not None
        assert self._consumer is not None
        self._sink.flush()
        if self._produced:
            self._consumer.commit(
                {tp: OffsetAndMetadata(off, "", -1) for tp, off in self._produced.items()}
            )
        self._produced.clear()
        self._last_commit = time.monotonic()
        count, self._uncommitted = self._uncommitted, 0
        self.processed += count
        if self.on_batch_committed and count:
            self.on_batch_committed(count)

    def settle(self, partitions: Sequence[TopicPartition]) -> None:
        """Finish the work in flight on `partitions`, produce its outputs and commit."""
        pending = [e.result for tp in partitions for e in self._in_flight.get(tp, ())]
        wait(pending)  # bounded: a stage's futures end (the cleaner's pages have a time limit)
        self._produce_done(partitions)
        self._commit()
        for tp in partitions:
            self._in_flight.pop(tp, None)

    def forget(self, partitions: Sequence[TopicPartition]) -> None:
        """Drop the work on partitions this process no longer owns; their new owner redoes it."""
        for tp in partitions:
            self._in_flight.pop(tp, None)
            self._produced.pop(tp, None)

    def _observe(self, consumer: KafkaConsumer, *, polled: bool) -> None:
        """Readiness; after a poll, the lag per assigned partition (from fetch high watermarks)."""
        assigned = consumer.assignment()
        self.readiness.assigned = len(assigned)
        self.readiness.progressed()  # a poll that returns, with or without records, is progress
        if not polled:
            return  # a concurrent stage steps once per finished record, lag need not
        for tp in assigned:
            high = consumer.highwater(tp)
            if high is not None:
                lag = max(0, high - consumer.position(tp))
                CONSUMER_LAG.labels(self.stage.name, tp.topic, str(tp.partition)).set(lag)

    def _dead_letter(self, record: Any, reason: str, phase: str) -> None:
        assert self._sink is not None
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
        self._sink.send_raw(f"{record.topic}.dlq", record.key, record.value, headers)
        DEAD_LETTERS.labels(self.stage.name, record.topic).inc()
        limit = self.settings.kafka.max_consecutive_dead_letters
        if self.consecutive_dead_letters > limit:
            raise RuntimeError(
                f"{self.consecutive_dead_letters} messages in a row dead-lettered by "
                f"{self.stage.name}; stopping: this looks like a bug or bad deploy, not bad input"
            )
