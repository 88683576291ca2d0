"""The command line as an operator meets it: topics, tail, and clear one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from ingest.core.embedded_broker import EmbeddedBroker, free_port
from ingest.core.models import Item
from ingest.core.settings import load_settings
from ingest.core.topics import ITEMS, all_topic_names
from tests.kafka_helpers import produce


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ingest", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def config_for(tmp_path: Path, bootstrap: str, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'data_dir = "{tmp_path / "data"}"\n[kafka]\nbootstrap_servers = "{bootstrap}"\n'
        f'startup_timeout = "3s"\n{extra}'
    )
    return path


def test_topics_create_then_list_shows_every_registry_topic_with_its_partitions(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    config = config_for(tmp_path, broker.bootstrap_servers, "partitions = 3\n")
    created = cli("topics", "create", "--config", str(config))
    assert created.returncode == 0, created.stderr
    assert f"created {len(all_topic_names())} topic(s)" in created.stdout
    listed = cli("topics", "list", "--config", str(config))
    rows = dict(line.split("\t") for line in listed.stdout.splitlines())
    assert {name: int(n) for name, n in rows.items()} == dict.fromkeys(all_topic_names(), 3)


def test_tail_prints_each_message_as_a_json_line_with_its_cloudevent_attributes(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    config = config_for(tmp_path, broker.bootstrap_servers)
    assert cli("topics", "create", "--config", str(config)).returncode == 0
    item = Item(
        item_id="k1",
        url="https://example.org/a",
        feed_url="https://example.org/rss",
        feed_name="Example",
        title="A title",
        discovered_at=datetime(2021, 6, 21, tzinfo=UTC),
    )
    produce(load_settings(config), ITEMS.name, "k1", item)
    tailed = cli(
        "tail",
        ITEMS.name,
        "--from-beginning",
        "--max",
        "1",
        "--idle-timeout",
        "20",
        "--config",
        str(config),
    )
    assert tailed.returncode == 0, tailed.stderr
    line = json.loads(tailed.stdout.strip())
    assert line["key"] == "k1"
    assert line["ce_type"] == "news.item.v1"
    assert line["payload"]["title"] == "A title"


def test_invalid_config_is_one_line_naming_the_field_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[kafka]\npartitions = "many"\n')
    result = cli("worker", "dedupe", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "kafka.partitions" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_broker_is_reported_with_its_address_and_exit_3(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    result = cli("topics", "list", "--config", str(config_for(tmp_path, address)))
    assert result.returncode == 3
    assert f"no Kafka broker reachable at {address}" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_stage_is_refused_with_the_known_ones() -> None:
    result = cli("worker", "dedup")
    assert result.returncode == 2
    assert "known: poller, fetcher, cleaner, dedupe, geotag, alert, notify" in result.stderr


def test_status_lists_every_stage_with_its_input_and_lag(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    config = config_for(tmp_path, broker.bootstrap_servers)
    assert cli("topics", "create", "--config", str(config)).returncode == 0
    item = Item(item_id="k1", url="https://example.org/a", feed_url="https://example.org/rss",
                feed_name="Example", discovered_at=datetime(2021, 6, 21, tzinfo=UTC))
    produce(load_settings(config), ITEMS.name, "k1", item)  # nobody has fetched it yet
    result = cli("status", "--config", str(config))
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
    assert list(rows) == ["poller", "fetcher", "cleaner", "dedupe", "geotag", "alert", "notify"]
    assert rows["fetcher"][1:3] == ["news.items", "1"]
    assert rows["cleaner"][1:3] == ["news.raw", "0"]
    assert rows["poller"][2] == "-"


def test_run_refuses_a_second_process_for_a_stage_that_keeps_state_over_all_partitions(
    tmp_path: Path,
) -> None:
    extra = "[supervisor]\nprocesses = {cleaner = 2, dedupe = 2}\n"
    result = cli("run", "--config", str(config_for(tmp_path, "127.0.0.1:1", extra)))
    assert result.returncode == 2
    assert "dedupe keeps state over all partitions and runs as one process" in result.stderr
    assert "Traceback" not in result.stderr
