"""An append-only JSON-lines file of delivered alerts that is also its own ledger.

Opening the file reads the ids already written, so a replay after a crash or
restart delivers nothing twice; a line cut short by a crash is dropped (and
delivered again, whole) rather than left half-written. Several notify
processes may share the file (one data folder): each append happens under an
exclusive lock after reading what the others appended since, so an alert
replayed to a second process at a rebalance is not written twice.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Sequence
from pathlib import Path

from ingest.core.models import Alert


class AlertLog:
    """Owns one JSONL file; created at stage start, closed at shutdown."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.delivered: set[str] = set()
        self._read_to = 0  # the file is read up to here (always a line boundary)
        # One os.write per line on an O_APPEND descriptor: notify processes sharing the
        # data folder append whole lines, never interleaved halves of a buffered one.
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._dirty = False
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            self._catch_up()  # everything so far; drops a line cut short by a crash
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _remember(self, lines: bytes) -> None:
        self._read_to += len(lines)
        for line in lines.splitlines():
            if line.strip():
                self.delivered.add(json.loads(line)["alert_id"])

    def _catch_up(self) -> None:
        """Read what was appended since the last look; called with the lock held."""
        with self.path.open("rb") as f:
            f.seek(self._read_to)
            data = f.read()
        complete = data[: data.rfind(b"\n") + 1]
        if len(complete) != len(data):
            # Every writer holds the lock, so a partial last line is a crashed writer's.
            os.ftruncate(self._fd, self._read_to + len(complete))
        self._remember(complete)

    def record(self, alert: Alert, *, sync: bool = True) -> bool:
        """Append the alert unless it is already there; True when it was new.

        With `sync=False` the line is durable only after the next `sync()`, so a
        batch pays for one fsync: call `sync()` before its offsets are committed.
        """
        return bool(self.record_many([alert], sync=sync))

    def record_many(self, alerts: Sequence[Alert], *, sync: bool = True) -> list[Alert]:
        """Append the alerts not already there, under one lock and in one write; return them."""
        fresh = [a for a in alerts if a.alert_id not in self.delivered]
        if not fresh:
            return []
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            self._catch_up()
            new: list[Alert] = []
            lines: list[bytes] = []
            for alert in fresh:
                if alert.alert_id in self.delivered:
                    continue  # another process wrote it since we last looked, or a repeat
                self.delivered.add(alert.alert_id)
                new.append(alert)
                lines.append(alert.model_dump_json().encode() + b"\n")
            if lines:
                data = b"".join(lines)
                os.write(self._fd, data)
                self._read_to += len(data)
                self._dirty = True
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        if sync:
            self.sync()
        return new

    def sync(self) -> None:
        """Flush and fsync what `record` wrote since the last sync."""
        if self._dirty:
            os.fsync(self._fd)
            self._dirty = False

    def close(self) -> None:
        self.sync()
        os.close(self._fd)
