"""Settings: TOML file, environment overrides, durations and clear errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from ingest.core.embedded_broker import EmbeddedBroker
from ingest.core.kafka_clients import make_producer
from ingest.core.settings import ConfigError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "news-ingest.toml"
    path.write_text(text)
    return path


def test_file_values_and_duration_strings_are_read(tmp_path: Path) -> None:
    config = write(tmp_path, """
data_dir = "/var/lib/news"
[kafka]
bootstrap_servers = "127.0.0.1:9092"
[[feeds]]
url = "https://example.org/rss.xml"
name = "Example"
interval = "1h30m"
""")
    settings = load_settings(config)
    assert settings.kafka.bootstrap_servers == "127.0.0.1:9092"
    assert settings.data_dir == Path("/var/lib/news")
    assert settings.feeds[0].interval == timedelta(minutes=90)


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(tmp_path, '[kafka]\nbootstrap_servers = "127.0.0.1:9092"\n')
    monkeypatch.setenv("NEWS_INGEST_KAFKA__BOOTSTRAP_SERVERS", "kafka:29092")
    assert load_settings(config).kafka.bootstrap_servers == "kafka:29092"


def test_grace_period_defaults_to_30_s_and_comes_from_file_or_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_settings(None).supervisor.grace_period == timedelta(seconds=30)
    config = write(tmp_path, '[supervisor]\ngrace_period = "1m30s"\n')
    assert load_settings(config).supervisor.grace_period == timedelta(seconds=90)
    monkeypatch.setenv("NEWS_INGEST_SUPERVISOR__GRACE_PERIOD", "2.5s")
    assert load_settings(config).supervisor.grace_period == timedelta(seconds=2.5)


def test_no_bootstrap_servers_means_embedded_broker() -> None:
    assert load_settings(None).kafka.bootstrap_servers is None


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[kafka]\npartitions = 0\n', "kafka.partitions"),
        ('[[feeds]]\nurl = "ftp://example.org/x"\n', "feeds.0.url"),
        ('[[feeds]]\nurl = "https://example.org/x"\ninterval = "soon"\n', "feeds.0.interval"),
        ('[kafka]\nbootstrap = "typo"\n', "kafka.bootstrap"),
        ('[supervisor]\ngrace_period = "0s"\n', "supervisor.grace_period"),
        ('[supervisor]\ngrace_period = "a while"\n', "supervisor.grace_period"),
    ],
)
def test_invalid_values_name_the_field(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_settings(write(tmp_path, text))


def test_a_producer_batch_larger_than_a_request_is_refused(tmp_path: Path) -> None:
    text = "[kafka]\nmax_message_bytes = 500_000\nbatch_bytes = 600_000\n"
    with pytest.raises(ConfigError, match=r"kafka: .*batch_bytes \(600000\) must not exceed "
                       r"max_message_bytes \(500000\)"):
        load_settings(write(tmp_path, text))


def test_producers_take_linger_and_batch_size_from_the_settings(
    tmp_path: Path, broker: EmbeddedBroker
) -> None:
    text = (f'[kafka]\nbootstrap_servers = "{broker.bootstrap_servers}"\n'
            "linger_ms = 7\nbatch_bytes = 65536\n")
    producer = make_producer(load_settings(write(tmp_path, text)).kafka, "test")
    try:
        assert (producer.config["linger_ms"], producer.config["batch_size"]) == (7, 65536)
    finally:
        producer.close()


def test_a_broken_toml_file_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    config = write(tmp_path, "[kafka\n")
    with pytest.raises(ConfigError, match=r"news-ingest\.toml"):
        load_settings(config)


def test_a_missing_config_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.toml")
