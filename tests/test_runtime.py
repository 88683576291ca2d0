"""The consume → handle → produce → flush → commit loop, against a real broker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.request import urlopen

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from prometheus_client import REGISTRY

from ingest.core.embedded_broker import EmbeddedBroker, free_port
from ingest.core.envelope import decode, encode
from ingest.core.kafka_clients import ensure_topics
from ingest.core.models import Item, RawPage
from ingest.core.runtime import BadInput, Inbound, OneByOne, Output, Result, StreamRunner
from ingest.core.settings import Settings
from ingest.core.topics import ITEMS, RAW
from tests.conftest import make_settings
from tests.kafka_helpers import produce, produce_raw, read_topic

WHEN = datetime(2021, 6, 21, 8, 0, tzinfo=UTC)


def item(n: int, title: str = "ok") -> Item:
    return Item(
        item_id=f"item{n}", url=f"https://example.org/{n}", feed_url="https://example.org/rss",
        feed_name="Example", title=title, discovered_at=WHEN,
    )


class EchoStage(OneByOne):
    """Turns each item into a page whose html is the item's title; rejects 'reject'."""

    name = "echo"
    input = ITEMS

    def handle(self, inbound: Inbound) -> Sequence[Output]:
        found = inbound.payload_as(Item)
        if found.title == "reject":
            raise BadInput("title says reject")
        page = RawPage(
            item=found, final_url=found.url, status=200, encoding="utf-8",
            html=found.title or "", fetched_at=WHEN, elapsed_ms=1.0,
        )
        return [Output(RAW, found.item_id, page)]


def run_until(settings: Settings, done: Callable[[], bool], timeout: float = 40.0) -> StreamRunner:
    runner = StreamRunner(settings, EchoStage(), install_signals=False)
    thread = threading.Thread(target=runner.run)
    thread.start()
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        time.sleep(0.2)
    runner.stop()
    thread.join(timeout=20)
    assert not thread.is_alive()
    return runner


def committed(settings: Settings, topic: str) -> int:
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers, group_id="news-ingest.echo",
        enable_auto_commit=False,
    )
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        return sum(consumer.committed(TopicPartition(topic, p)) or 0 for p in parts)
    finally:
        consumer.close()


def test_outputs_are_produced_and_offsets_committed_after_them(settings: Settings) -> None:
    for n in range(5):
        produce(settings, ITEMS.name, f"item{n}", item(n, title=f"title {n}"))
    runner = run_until(settings, lambda: committed(settings, ITEMS.name) >= 5)
    assert runner.processed == 5
    pages = read_topic(settings, RAW.name, expect=5)
    titles = sorted(decode(r.value, r.headers).payload.html for r in pages)  # type: ignore[attr-defined]
    assert titles == [f"title {n}" for n in range(5)]
    assert committed(settings, ITEMS.name) == 5


def test_restart_resumes_after_the_last_commit_without_replaying(settings: Settings) -> None:
    produce(settings, ITEMS.name, "item1", item(1))
    run_until(settings, lambda: committed(settings, ITEMS.name) >= 1)
    produce(settings, ITEMS.name, "item2", item(2))
    run_until(settings, lambda: committed(settings, ITEMS.name) >= 2)
    keys = sorted(r.key for r in read_topic(settings, RAW.name, expect=2, timeout=5))
    assert keys == [b"item1", b"item2"]


def test_poison_messages_go_to_the_dead_letter_topic_and_the_loop_goes_on(
    settings: Settings,
) -> None:
    produce_raw(settings, ITEMS.name, b"\x00\xffnot json at all")
    produce_raw(settings, ITEMS.name, b'{"a": 1}', [("ce_type", b"news.item.v1"),
                ("ce_specversion", b"1.0"), ("ce_id", b"x"), ("ce_source", b"/t")])
    produce(settings, ITEMS.name, "item7", item(7, title="reject"))
    produce(settings, ITEMS.name, "item8", item(8, title="fine"))
    run_until(settings, lambda: committed(settings, ITEMS.name) >= 4)

    dead = read_topic(settings, ITEMS.dlq, expect=3)
    reasons = {r.value: dict(r.headers)["dlq_reason"].decode() for r in dead}
    assert reasons[b"\x00\xffnot json at all"].startswith("no ce_type header")
    assert "news.item.v1 payload invalid" in reasons[b'{"a": 1}']
    assert any(v == "title says reject" for v in reasons.values())
    for record in dead:
        headers = dict(record.headers)
        assert headers["dlq_topic"] == ITEMS.name.encode()
        assert headers["dlq_stage"] == b"echo"
        assert int(headers["dlq_offset"]) >= 0
    produced = read_topic(settings, RAW.name, expect=1)
    assert [r.key for r in produced] == [b"item8"]


def test_metrics_and_health_endpoints_report_the_stage(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    port = free_port()
    settings = make_settings(broker, tmp_path / "data", observability={"metrics_port": port})
    ensure_topics(settings.kafka)
    produce(settings, ITEMS.name, "item1", item(1))
    produce_raw(settings, ITEMS.name, b"junk")
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return bool(urlopen(f"{url}/readyz", timeout=2).status == 200)
        except (HTTPError, URLError):
            return False

    def count(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, {"stage": "echo", **labels}) or 0.0

    before = {
        "in": count("news_ingest_messages_in_total", topic="news.items"),
        "out": count("news_ingest_messages_out_total", topic="news.raw"),
        "dead": count("news_ingest_dead_letters_total", topic="news.items"),
    }
    run_until(settings, lambda: committed(settings, ITEMS.name) >= 2 and ready())
    assert urlopen(f"{url}/healthz", timeout=2).status == 200
    assert count("news_ingest_messages_in_total", topic="news.items") - before["in"] == 2
    assert count("news_ingest_messages_out_total", topic="news.raw") - before["out"] == 1
    assert count("news_ingest_dead_letters_total", topic="news.items") - before["dead"] == 1
    metrics = urlopen(f"{url}/metrics", timeout=2).read().decode()
    for name in ("messages_in_total", "messages_out_total", "dead_letters_total",
                 "batch_seconds_bucket", "consumer_lag"):
        assert f"news_ingest_{name}{{" in metrics


class GatedStage:
    """A concurrent stage whose results the test hands out one by one, in any order.

    Every output goes to one key, so its partition of news.raw shows the order
    in which the runner produced them.
    """

    name = "echo"
    input = ITEMS
    max_in_flight = 16

    def __init__(self) -> None:
        self.waiting: dict[tuple[int, int], tuple[Inbound, Future[Result]]] = {}
        self.lock = threading.Lock()

    def submit_batch(self, batch: Sequence[Inbound]) -> list[Future[Result]]:
        made: list[Future[Result]] = []
        with self.lock:
            for inbound in batch:
                made.append(Future())
                self.waiting[(inbound.partition, inbound.offset)] = (inbound, made[-1])
        return made

    def handle_batch(self, batch: Sequence[Inbound]) -> list[Result]:
        return [future.result() for future in self.submit_batch(batch)]

    def finish(self, partition: int, offset: int) -> None:
        eventually(lambda: (partition, offset) in self.waiting)
        with self.lock:
            inbound, future = self.waiting[(partition, offset)]
        found = inbound.payload_as(Item)
        if found.title == "reject":
            future.set_result(BadInput("title says reject"))
            return
        page = RawPage(
            item=found, final_url=found.url, status=200, encoding="utf-8",
            html=f"{partition}/{offset}", fetched_at=WHEN, elapsed_ms=1.0,
        )
        future.set_result([Output(RAW, "gated", page)])

    def close(self) -> None:
        return None


def eventually(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def committed_at(settings: Settings, topic: str, partition: int) -> int:
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers, group_id="news-ingest.echo",
        enable_auto_commit=False,
    )
    try:
        return consumer.committed(TopicPartition(topic, partition)) or 0
    finally:
        consumer.close()


def produced_in_order(settings: Settings) -> list[str]:
    """The html of every gated output, in the order of their partition."""
    records = read_topic(settings, RAW.name)
    return [decode(r.value, r.headers).payload.html for r in records]  # type: ignore[attr-defined]


def test_out_of_order_completion_is_produced_and_committed_in_partition_order(
    settings: Settings,
) -> None:
    titles = ["a", "b", "c", "reject", "e", "f"]
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all")
    for n, title in enumerate(titles):
        headers, value = encode(item(n, title), source="/tests", id=f"id{n}")
        producer.send(ITEMS.name, key=b"k", value=value, headers=headers, partition=0)
    headers, value = encode(item(9, "marker"), source="/tests", id="marker")
    producer.send(ITEMS.name, key=b"m", value=value, headers=headers, partition=1)
    producer.flush()
    producer.close()
    stage = GatedStage()
    runner = StreamRunner(settings, stage, install_signals=False)
    thread = threading.Thread(target=runner.run)
    thread.start()
    try:
        for offset in (1, 3, 5):
            stage.finish(0, offset)
        # The marker finishes after 1, 3 and 5: once it is committed, the runner
        # has seen them done and must still hold partition 0 at offset 0.
        stage.finish(1, 0)
        eventually(lambda: committed_at(settings, ITEMS.name, 1) == 1)
        assert committed_at(settings, ITEMS.name, 0) == 0
        assert produced_in_order(settings) == ["1/0"]

        stage.finish(0, 0)  # 0 and 1 are done, 2 is not: commit 2, produce 0 then 1
        eventually(lambda: committed_at(settings, ITEMS.name, 0) >= 2)
        assert committed_at(settings, ITEMS.name, 0) == 2
        assert produced_in_order(settings) == ["1/0", "0/0", "0/1"]

        runner.stop()  # a shutdown finishes the work in flight before it commits
        stage.finish(0, 4)
        stage.finish(0, 2)
    finally:
        runner.stop()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert committed_at(settings, ITEMS.name, 0) == 6
    assert produced_in_order(settings) == ["1/0", "0/0", "0/1", "0/2", "0/4", "0/5"]
    dead = read_topic(settings, ITEMS.dlq, expect=1)
    assert [dict(r.headers)["dlq_offset"] for r in dead] == [b"3"]
    assert runner.processed == 7
