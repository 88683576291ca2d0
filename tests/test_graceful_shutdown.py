"""Graceful shutdown: SIGTERM to `news-ingest run` under load exits within the configured
grace period with every offset committed, a stage stuck past it is killed and named, and a
restart loses and repeats nothing either way.

No duration is measured: a test only waits for the exit with `wait(timeout=grace + margin)`.
"""

from __future__ import annotations

import signal
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition
from structlog.testing import capture_logs

from ingest.core.progress import topic_size
from ingest.core.settings import Settings
from ingest.core.supervisor import Supervisor
from ingest.core.topics import ARTICLES, DUPLICATES, GEOTAGGED, ITEMS, RAW, UNIQUE, Topic
from ingest.demo import EXPECTED_ALERTS, MAIN_STORY
from tests.kafka_helpers import read_topic
from tests.newsroom import Newsroom
from tests.test_slow_downstream import (  # noqa: F401 - staged_run is a fixture
    HANGING_STORY,
    StagedRun,
    StagedRunFactory,
    TroubledNewsroom,
    staged_run,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

STAGES = ("poller", "fetcher", "cleaner", "dedupe", "geotag", "alert", "notify")
MARGIN_S = 15.0  # start-up of the wait, the broker's goodbyes: not part of the grace

# Stages with one output (or one dead letter) per input record, under the input's key.
ONE_FOR_ONE: dict[str, tuple[Topic, tuple[str, ...]]] = {
    "fetcher": (ITEMS, (RAW.name, ITEMS.dlq)),
    "cleaner": (RAW, (ARTICLES.name, RAW.dlq)),
    "dedupe": (ARTICLES, (UNIQUE.name, DUPLICATES.name, ARTICLES.dlq)),
    "geotag": (UNIQUE, (GEOTAGGED.name, UNIQUE.dlq)),
}


def committed(settings: Settings, stage: str, topic: str) -> dict[int, int]:
    """The stage's committed offset on each partition of `topic` (0 when none)."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        group_id=f"news-ingest.{stage}", enable_auto_commit=False,
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        return {p: consumer.committed(TopicPartition(topic, p)) or 0 for p in partitions}
    finally:
        consumer.close()


def assert_every_committed_record_was_handled(settings: Settings) -> int:
    """Below each committed offset, every input record's output is downstream: none in flight
    was committed without its result. Returns how many records were checked."""
    checked = 0
    for stage, (source, outputs) in ONE_FOR_ONE.items():
        done = committed(settings, stage, source.name)
        handled = {r.key for topic in outputs for r in read_topic(settings, topic)}
        for record in read_topic(settings, source.name):
            if record.offset < done.get(record.partition, 0):
                assert record.key in handled, f"{stage} committed {record.key!r} unhandled"
                checked += 1
    return checked


def assert_each_key_once(settings: Settings, *topics: str) -> None:
    for topic in topics:
        counts = Counter(r.key for r in read_topic(settings, topic))
        repeated = {key: n for key, n in counts.items() if n > 1}
        assert not repeated, f"{topic}: handled again after the restart: {repeated}"


def drain_and_stop(run: StagedRun, articles: int) -> None:
    run.wait(lambda: run.drained(articles=articles) and len(run.delivered()) >= 3,
             "the stream to drain after the restart")
    time.sleep(2)  # anything still in flight would show up as an extra alert
    assert run.signal(signal.SIGTERM) == 0


def assert_nothing_lost_no_alert_twice(run: StagedRun, items: int) -> None:
    item_ids = {r.key for r in read_topic(run.settings, ITEMS.name)}
    assert len(item_ids) == items
    assert {r.key for r in read_topic(run.settings, ARTICLES.name)} == item_ids
    delivered = run.delivered()
    assert {(a["capital"]["name"], a["kind"]) for a in delivered} == EXPECTED_ALERTS
    assert len(delivered) == len(EXPECTED_ALERTS), "an alert was delivered twice"


def test_sigterm_under_load_exits_within_the_grace_period_with_every_offset_committed(
    staged_run: StagedRunFactory,  # noqa: F811
) -> None:
    grace = 20.0
    stories: list[int | str] = list(range(1, 81))
    stories.insert(30, MAIN_STORY)
    # Stories appear at 8 a second: every stage has work in hand when the signal comes.
    with Newsroom({"bulletin": stories}, publish_rate=8) as newsroom:
        run = staged_run({"Bulletin": newsroom.feed_url("bulletin")},
                         env={"NEWS_INGEST_SUPERVISOR__GRACE_PERIOD": f"{grace}s"})
        run.start()
        run.wait(lambda: topic_size(run.settings.kafka, ARTICLES.name) >= 15,
                 "the stream to be under way")
        assert run.process is not None
        run.process.send_signal(signal.SIGTERM)
        assert run.process.wait(timeout=grace + MARGIN_S) == 0
        assert topic_size(run.settings.kafka, ARTICLES.name) < len(stories), "stopped too late"

        assert not run.log_events("stage_killed_after_grace_period")
        assert sorted(e["stage"] for e in run.log_events("stage_stopped")) == sorted(STAGES)
        exits = {e["stage"]: e["exit_code"] for e in run.log_events("stage_process_stopped")}
        assert exits == dict.fromkeys(STAGES, 0)
        (stopped,) = run.log_events("stages_stopped")
        assert stopped["failed"] == []
        assert stopped["killed"] == []
        assert assert_every_committed_record_was_handled(run.settings) >= 15

        run.start()
        drain_and_stop(run, articles=len(stories))
    assert_nothing_lost_no_alert_twice(run, items=len(stories))
    # Every offset consumed before the stop was committed: nothing was handled twice.
    assert_each_key_once(run.settings, ITEMS.name, RAW.name, ARTICLES.name, GEOTAGGED.name)


def test_a_stage_stuck_past_a_short_grace_period_is_killed_and_named_and_loses_nothing(
    staged_run: StagedRunFactory,  # noqa: F811
) -> None:
    # Long enough for the healthy stages to stop on a busy machine (their interpreters' own
    # teardown takes seconds there), far shorter than the hanging page.
    grace = 10.0
    stories: list[int | str] = list(range(1, 21))
    stories.insert(8, MAIN_STORY)
    later: list[int | str] = [21, 22, HANGING_STORY, 23, 24]
    with TroubledNewsroom({"bulletin": stories}) as newsroom:
        run = staged_run({"Bulletin": newsroom.feed_url("bulletin")}, env={
            "NEWS_INGEST_SUPERVISOR__GRACE_PERIOD": f"{grace}s",
            "NEWS_INGEST_HTTP__READ_TIMEOUT": "120s",
            "NEWS_INGEST_HTTP__TOTAL_TIMEOUT": "120s",
        })
        run.start()
        # Every stage up and idle first: one still joining its group may overrun 3 s too.
        run.wait(lambda: run.drained(articles=len(stories)) and len(run.delivered()) >= 3,
                 "the first stories through every stage")
        newsroom.feeds["bulletin"] = stories + later
        # The fetcher's batch now waits for a page that comes only when the test releases it,
        # and its timeouts are far longer than the grace period.
        run.wait(newsroom.hanging_requested.is_set, "the fetcher to ask for the hanging page")
        assert run.process is not None
        run.process.send_signal(signal.SIGTERM)
        assert run.process.wait(timeout=grace + MARGIN_S) == 0

        (killed,) = run.log_events("stage_killed_after_grace_period")
        assert killed["stage"] == "fetcher"
        assert killed["level"] == "error"
        stopped = [e["stage"] for e in run.log_events("stage_process_stopped")]
        assert sorted(stopped) == sorted(set(STAGES) - {"fetcher"})

        newsroom.release_hanging.set()
        run.start()
        drain_and_stop(run, articles=len(stories) + len(later))
    assert_nothing_lost_no_alert_twice(run, items=len(stories) + len(later))


STUBBORN = """
import pathlib, signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
pathlib.Path(sys.argv[1]).write_text(str(helper.pid))
time.sleep(600)
"""
POLITE = """
import pathlib, signal, sys, time
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
pathlib.Path(sys.argv[1]).write_text("ready")
while not stop:
    time.sleep(0.05)
"""


class StandInSupervisor(Supervisor):
    """The supervisor under test, with small programs standing in for the stages."""

    def __init__(self, programs: dict[str, str], folder: Path, grace_seconds: float) -> None:
        super().__init__(list(programs), None, env={}, grace_seconds=grace_seconds)
        self.programs = programs
        self.folder = folder

    def command(self, name: str) -> list[str]:
        return [sys.executable, "-c", self.programs[name], str(self.folder / name)]


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in {"Z", "X"}  # dead; a zombie only waits for its new parent to reap it


def test_supervisor_kills_a_stage_that_ignores_sigterm_with_its_helpers_and_names_it(
    tmp_path: Path,
) -> None:
    supervisor = StandInSupervisor({"polite": POLITE, "stubborn": STUBBORN}, tmp_path, 0.5)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        with capture_logs() as logs:
            code = supervisor.run(
                done=lambda: all((tmp_path / n).exists() for n in ("polite", "stubborn")),
                check_every=0.1,
            )
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    assert code == 0
    killed = [e for e in logs if e["event"] == "stage_killed_after_grace_period"]
    assert [(e["stage"], e["grace_s"]) for e in killed] == [("stubborn", 0.5)]
    (stopped,) = [e for e in logs if e["event"] == "stages_stopped"]
    assert stopped["killed"] == ["stubborn"]
    assert stopped["failed"] == ["stubborn"]  # polite exited 0; stubborn died of SIGKILL
    helper = int((tmp_path / "stubborn").read_text())
    deadline = time.monotonic() + 10
    while not gone(helper) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(helper), "the killed stage's helper process outlived it"
    for child in supervisor.children:
        assert child.process is not None
        assert child.process.poll() is not None


def test_grace_period_comes_from_the_settings_when_not_given(tmp_path: Path) -> None:
    config = tmp_path / "news-ingest.toml"
    config.write_text('[supervisor]\ngrace_period = "1.5s"\n')
    supervisor = Supervisor([], config, env={})
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        assert supervisor.run(done=lambda: True, check_every=0.0) == 0
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    assert supervisor.grace_seconds == 1.5
