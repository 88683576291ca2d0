"""Shared fixtures: a real Kafka-protocol broker (Tansu) over TCP, per test.

Tansu starts in well under a second and keeps everything in memory, so each
test gets its own empty broker: no topic or group state leaks between tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.core.embedded_broker import EmbeddedBroker, start_broker
from ingest.core.kafka_clients import ensure_topics
from ingest.core.settings import Settings, load_settings


@pytest.fixture
def broker() -> Iterator[EmbeddedBroker]:
    running = start_broker()
    yield running
    running.stop()


def make_settings(broker: EmbeddedBroker, data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a test: the test's broker, its own data folder, loopback allowed."""
    kafka = {"bootstrap_servers": broker.bootstrap_servers, **overrides.pop("kafka", {})}
    http = {"allow_private_networks": True, **overrides.pop("http", {})}
    return load_settings(None, data_dir=data_dir, kafka=kafka, http=http, **overrides)


@pytest.fixture
def settings(broker: EmbeddedBroker, tmp_path: Path) -> Settings:
    made = make_settings(broker, tmp_path / "data")
    ensure_topics(made.kafka)
    return made
