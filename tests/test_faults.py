"""Fault injection: stage processes killed with SIGKILL, and a frozen broker, mid-stream.

The short version runs in CI. The long version is the same test with more
articles and seeds:

    NEWS_INGEST_FAULT_ARTICLES=2000 NEWS_INGEST_FAULT_SEEDS=1,2,3 \
        .venv/bin/pytest tests/test_faults.py -s

Each run prints its counts (articles, kills, alerts) on stdout.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.core.embedded_broker import EmbeddedBroker
from ingest.core.topics import ALERTS, ARTICLES, ITEMS
from ingest.demo import EXPECTED_ALERTS, MAIN_STORY
from tests.kafka_helpers import read_topic
from tests.newsroom import Newsroom
from tests.test_pipeline import Pipeline, pipeline_factory  # noqa: F401 - fixture

ARTICLES_IN_STREAM = int(os.environ.get("NEWS_INGEST_FAULT_ARTICLES", "150"))
SEEDS = [int(s) for s in os.environ.get("NEWS_INGEST_FAULT_SEEDS", "7").split(",")]
# The feed gains items at this rate, so the stream flows while stages are killed.
PUBLISH_RATE = max(10.0, ARTICLES_IN_STREAM / 120)
STAGES = ("poller", "fetcher", "cleaner", "dedupe", "geotag", "alert", "notify")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def stage_pids(log: Path) -> dict[str, int]:
    """The current process of each stage, from the supervisor's log lines."""
    pids: dict[str, int] = {}
    for line in log.read_text(errors="replace").splitlines():
        if '"stage_process_started"' in line:
            event = json.loads(line)
            pids[event["stage"]] = event["pid"]
    return pids


def assert_nothing_lost_nothing_repeated(pipeline: Pipeline, expected_items: int) -> int:
    settings = pipeline.settings
    item_ids = {r.key for r in read_topic(settings, ITEMS.name)}
    article_ids = {r.key for r in read_topic(settings, ARTICLES.name)}
    assert len(item_ids) == expected_items
    assert article_ids == item_ids, f"{len(item_ids - article_ids)} items never became articles"
    delivered = pipeline.delivered()
    assert {(a["capital"]["name"], a["kind"]) for a in delivered} == EXPECTED_ALERTS
    assert len(delivered) == len(EXPECTED_ALERTS), "an alert was delivered twice"
    return len(read_topic(settings, ALERTS.name))


@pytest.mark.parametrize("seed", SEEDS)
def test_killing_stages_at_random_loses_no_article_and_repeats_no_alert(
    pipeline_factory: Callable[[dict[str, str]], Pipeline],  # noqa: F811
    seed: int,
) -> None:
    rng = random.Random(seed)
    stories: list[int | str] = list(range(1, ARTICLES_IN_STREAM))
    stories.insert(rng.randrange(len(stories)), MAIN_STORY)
    with Newsroom({"bulletin": stories}, publish_rate=PUBLISH_RATE) as newsroom:
        pipeline = pipeline_factory({"Bulletin": newsroom.feed_url("bulletin")})
        pipeline.start()
        pipeline.wait(lambda: len(stage_pids(pipeline.log)) == len(STAGES), "every stage")
        publishing_ends = time.monotonic() + ARTICLES_IN_STREAM / PUBLISH_RATE
        kills: dict[str, int] = dict.fromkeys(STAGES, 0)
        killed: set[int] = set()
        # Every stage twice in random order, then random stages for as long as
        # the feed is still publishing, so that kills hit every part of the stream.
        schedule = rng.sample(STAGES, len(STAGES)) * 2
        while schedule or time.monotonic() < publishing_ends:
            stage = schedule.pop() if schedule else rng.choice(STAGES)
            time.sleep(rng.uniform(0.5, 3.0) if schedule else rng.uniform(2.0, 8.0))
            # A stage killed moments ago may still be waiting for its restart.
            def restarted(name: str = stage) -> bool:
                return stage_pids(pipeline.log)[name] not in killed

            pipeline.wait(restarted, f"{stage} to restart")
            pid = stage_pids(pipeline.log)[stage]
            os.kill(pid, signal.SIGKILL)
            killed.add(pid)
            kills[stage] += 1
        pipeline.wait(
            lambda: pipeline.drained(articles=ARTICLES_IN_STREAM)
            and len(pipeline.delivered()) >= len(EXPECTED_ALERTS),
            "the stream to drain after the kills", timeout=600,
        )
        time.sleep(2)
        assert pipeline.signal(signal.SIGTERM) == 0
    on_topic = assert_nothing_lost_nothing_repeated(pipeline, ARTICLES_IN_STREAM)
    print(f"\nfaults seed={seed}: {ARTICLES_IN_STREAM} articles, kills={kills}, "
          f"alert messages on topic={on_topic}, delivered={len(pipeline.delivered())}")


def test_a_broker_frozen_for_30_s_mid_stream_loses_and_repeats_nothing(
    pipeline_factory: Callable[[dict[str, str]], Pipeline],  # noqa: F811
    broker: EmbeddedBroker,
) -> None:
    """SIGSTOP keeps the memory-only broker's data while it answers nothing, like an outage."""
    stories: list[int | str] = list(range(1, 60))
    stories.insert(40, MAIN_STORY)
    with Newsroom({"bulletin": stories}) as newsroom:
        pipeline = pipeline_factory({"Bulletin": newsroom.feed_url("bulletin")})
        pipeline.start()
        pipeline.wait(lambda: len(stage_pids(pipeline.log)) == len(STAGES), "every stage")
        time.sleep(6)  # mid-stream: group joins done, articles flowing
        os.kill(broker.pid, signal.SIGSTOP)
        try:
            time.sleep(30)
        finally:
            os.kill(broker.pid, signal.SIGCONT)
        pipeline.wait(
            lambda: pipeline.drained(articles=60) and len(pipeline.delivered()) >= 3,
            "the backlog to drain after the outage", timeout=300,
        )
        assert pipeline.signal(signal.SIGTERM) == 0
    assert_nothing_lost_nothing_repeated(pipeline, 60)
