"""Logging setup: one JSON line per event, to the stderr in use when it is written."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest
import structlog

from ingest.core.logs import configure_logging


def test_records_go_to_the_stderr_of_the_moment_even_after_an_earlier_one_was_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure_logging("info", "json", process="cli")
    structlog.get_logger("test").info("first_event", where="first")
    first.close()  # as a test runner or an embedding program does with its capture
    second = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second)
    structlog.get_logger("test").info("second_event", where="second")
    logging.getLogger("kafka.conn").warning("broker %s unreachable", "127.0.0.1:1")
    lines = [json.loads(line) for line in second.getvalue().splitlines()]
    assert [(line["event"], line["process"]) for line in lines] == [
        ("second_event", "cli"), ("broker 127.0.0.1:1 unreachable", "cli"),
    ]
    assert lines[0]["where"] == "second"
