"""The whole pipeline as an operator runs it: `news-ingest run` processes on a real broker.

Feeds and pages come from a loopback HTTP server; a separate program reads
`news.alerts` the way another team would (confluent-kafka + the cloudevents SDK).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary
from cloudevents.core.formats.json import JSONFormat
from confluent_kafka import Consumer

from ingest.core import jsonschemas
from ingest.core.embedded_broker import EmbeddedBroker
from ingest.core.envelope import PAYLOAD_TYPES
from ingest.core.kafka_clients import ensure_topics
from ingest.core.progress import topic_size
from ingest.core.settings import Settings, load_settings
from ingest.core.status import STAGE_INPUTS, drained
from ingest.core.topics import ALERTS, ALL, ARTICLES, ITEMS
from ingest.demo import EXPECTED_ALERTS, MAIN_STORY, SYNDICATED_COPY
from tests.kafka_helpers import produce_raw, read_topic
from tests.newsroom import Newsroom

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

class Pipeline:
    """`news-ingest run` as a child process, with its config, data folder and logs."""

    def __init__(self, tmp: Path, broker: EmbeddedBroker, feeds: dict[str, str]) -> None:
        self.data_dir = tmp / "data"
        self.config = tmp / "news-ingest.toml"
        feed_tables = "".join(
            f'\n[[feeds]]\nurl = "{url}"\nname = "{name}"\ninterval = "1s"\n'
            for name, url in feeds.items()
        )
        self.config.write_text(
            f'data_dir = "{self.data_dir}"\n'
            f'[kafka]\nbootstrap_servers = "{broker.bootstrap_servers}"\n'
            "[http]\nallow_private_networks = true\n"
            '[poller]\nmin_interval = "1s"\n'
            "[notify]\nstdout = false\n" + feed_tables
        )
        self.settings: Settings = load_settings(self.config)
        self.process: subprocess.Popen[bytes] | None = None
        self.runs = 0
        self.log = tmp / "run.log"

    def start(self) -> None:
        self.runs += 1
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ingest", "run", "--config", str(self.config)],
                stdout=out,
                stderr=out,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    def signal(self, signum: int) -> int:
        assert self.process is not None
        self.process.send_signal(signum)
        return self.process.wait(timeout=60)

    def delivered(self) -> list[dict[str, Any]]:
        path = self.data_dir / "alerts.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def drained(self, articles: int) -> bool:
        return drained(self.settings, articles)

    def wait(self, condition: Callable[[], bool], what: str, timeout: float = 150.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            assert self.process.poll() is None, f"run exited early:\n{self.tail_log()}"
            if condition():
                return
            time.sleep(1.0)
        raise AssertionError(f"timed out waiting for {what}\n{self.tail_log()}")

    def tail_log(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])


@pytest.fixture
def pipeline_factory(
    broker: EmbeddedBroker, tmp_path: Path
) -> Iterator[Callable[[dict[str, str]], Pipeline]]:
    made: list[Pipeline] = []

    def make(feeds: dict[str, str]) -> Pipeline:
        pipeline = Pipeline(tmp_path, broker, feeds)
        ensure_topics(pipeline.settings.kafka)
        made.append(pipeline)
        return pipeline

    yield make
    for pipeline in made:
        if pipeline.process and pipeline.process.poll() is None:
            pipeline.process.kill()
            pipeline.process.wait()


def read_alerts_as_another_team(bootstrap: str) -> list[Any]:
    """confluent-kafka (librdkafka) and the cloudevents SDK, as an outside program would."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": "another-team",
        "auto.offset.reset": "earliest", "enable.auto.commit": False,
        # Tansu holds a JoinGroup for the whole rebalance timeout (max.poll.interval.ms);
        # with these a join takes ~3 s instead of minutes.
        "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000, "max.poll.interval.ms": 10000,
    })
    consumer.subscribe([ALERTS.name])
    events: list[Any] = []
    idle_since = time.monotonic() + 30  # the group join comes first
    try:
        while time.monotonic() - idle_since < 5:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            idle_since = time.monotonic()
            kafka_message = KafkaMessage(
                headers=dict(message.headers() or []), key=message.key(), value=message.value()
            )
            events.append(from_binary(kafka_message, JSONFormat()))
    finally:
        consumer.close()
    return events


def assert_every_message_matches_its_schema(settings: Settings) -> int:
    checked = 0
    for topic in ALL:
        for record in read_topic(settings, topic.name, timeout=10):
            headers = dict(record.headers)
            ce_type = headers["ce_type"].decode()
            # An alert update (news.alert.updated.v1) carries the Alert payload too.
            assert PAYLOAD_TYPES.get(ce_type) is topic.payload, f"{topic.name} carries {ce_type}"
            jsonschemas.validator(topic.payload.ce_type).validate(json.loads(record.value))
            checked += 1
    return checked


def test_seed_story_raises_exactly_three_alerts_and_its_copy_none(
    pipeline_factory: Callable[[dict[str, str]], Pipeline],
) -> None:
    with Newsroom({"ledger": [MAIN_STORY, 1, 2], "courier": []}) as newsroom:
        pipeline = pipeline_factory(
            {"Ledger": newsroom.feed_url("ledger"), "Courier": newsroom.feed_url("courier")}
        )
        pipeline.start()
        pipeline.wait(lambda: pipeline.drained(articles=3) and len(pipeline.delivered()) >= 3,
                      "the first outlet's 3 articles through every stage")
        newsroom.feeds["courier"] = [SYNDICATED_COPY]  # the wire copy appears hours later
        pipeline.wait(lambda: pipeline.drained(articles=4), "the copy through every stage")
        time.sleep(2)  # anything still in flight would show up as an extra alert
        assert pipeline.signal(signal.SIGTERM) == 0

    received = read_alerts_as_another_team(pipeline.settings.kafka.bootstrap_servers or "")
    events = [e for e in received if e.get_type() == "news.alert.v1"]  # not the updates
    # The copy may reach the alert stage (when dedupe does not recognise it): then it only
    # updates the three alerts, and a copy is no independent source.
    for update in (e for e in received if e.get_type() == "news.alert.updated.v1"):
        assert update.get_data()["alert_id"] in {e.get_data()["alert_id"] for e in events}
        assert update.get_data()["sources"] == 1
    seen = {(e.get_data()["capital"]["name"], e.get_data()["kind"]) for e in events}
    assert seen == EXPECTED_ALERTS
    assert len(events) == 3
    for event in events:
        assert event.get_type() == "news.alert.v1"
        assert event.get_extension("partitionkey") == event.get_data()["capital"]["place_id"]
        assert event.get_data()["actor"] == "Taliban"
        assert event.get_data()["evidence"][0]["url"].endswith(f"/articles/{MAIN_STORY}")

    delivered = pipeline.delivered()
    on_topic = sorted(e.get_data()["alert_id"] for e in events)
    assert sorted(a["alert_id"] for a in delivered) == on_topic
    assert topic_size(pipeline.settings.kafka, ARTICLES.name) == 4
    assert assert_every_message_matches_its_schema(pipeline.settings) >= 4 * 4 + 3


def test_sigkill_mid_stream_then_restart_loses_no_article_and_repeats_no_alert(
    pipeline_factory: Callable[[dict[str, str]], Pipeline],
) -> None:
    stories: list[int | str] = list(range(1, 62))
    stories.insert(30, MAIN_STORY)
    # Stories appear at 8 a second, so the stream is still flowing when it is cut.
    with Newsroom({"bulletin": stories}, publish_rate=8) as newsroom:
        pipeline = pipeline_factory({"Bulletin": newsroom.feed_url("bulletin")})
        pipeline.start()
        pipeline.wait(
            lambda: topic_size(pipeline.settings.kafka, ARTICLES.name) >= 8,
            "the stream to be under way",
        )
        assert pipeline.signal(signal.SIGKILL) == -signal.SIGKILL
        assert topic_size(pipeline.settings.kafka, ARTICLES.name) < 62, "killed too late"

        pipeline.start()
        pipeline.wait(
            lambda: pipeline.drained(articles=62) and len(pipeline.delivered()) >= 3,
            "the backlog to drain after the restart",
        )
        time.sleep(2)
        assert pipeline.signal(signal.SIGTERM) == 0

    settings = pipeline.settings
    item_ids = {r.key for r in read_topic(settings, ITEMS.name)}
    article_ids = {r.key for r in read_topic(settings, ARTICLES.name)}
    assert len(item_ids) == 62
    assert article_ids == item_ids, "an item never became an article"
    delivered = pipeline.delivered()
    assert {(a["capital"]["name"], a["kind"]) for a in delivered} == EXPECTED_ALERTS
    assert len(delivered) == 3, "an alert was delivered twice"
    alert_ids = {json.loads(r.value)["alert_id"] for r in read_topic(settings, ALERTS.name)}
    assert len(alert_ids) == 3


def test_poison_message_on_each_input_topic_is_dead_lettered_and_stages_go_on(
    pipeline_factory: Callable[[dict[str, str]], Pipeline],
) -> None:
    with Newsroom({"ledger": [MAIN_STORY]}) as newsroom:
        pipeline = pipeline_factory({"Ledger": newsroom.feed_url("ledger")})
        for topic in STAGE_INPUTS.values():
            produce_raw(pipeline.settings, topic.name, b"\xff\xfe garbage " + topic.name.encode())
        pipeline.start()
        pipeline.wait(
            lambda: len(pipeline.delivered()) >= 3 and pipeline.drained(articles=1),
            "the story to pass every stage after the poison",
        )
        assert pipeline.signal(signal.SIGTERM) == 0

    for stage, topic in STAGE_INPUTS.items():
        dead = read_topic(pipeline.settings, topic.dlq, expect=1, timeout=10)
        assert len(dead) == 1, f"{topic.dlq} should hold the one poison message"
        headers = dict(dead[0].headers)
        assert dead[0].value == b"\xff\xfe garbage " + topic.name.encode()
        assert headers["dlq_stage"].decode() == stage
        assert headers["dlq_reason"].decode().startswith("no ce_type header")
    assert {(a["capital"]["name"], a["kind"]) for a in pipeline.delivered()} == EXPECTED_ALERTS
