"""An append-only JSON-lines file of delivered alerts that is also its own ledger.

Opening the file reads the ids already written, so a replay after a crash or
restart delivers nothing twice; a line cut short by a crash is dropped (and
delivered again, whole) rather than left half-written.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ingest.core.models import Alert


class AlertLog:
    """Owns one JSONL file; created at stage start, closed at shutdown."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.delivered: set[str] = set()
        self._repair_and_load()
        # One os.write per line on an O_APPEND descriptor: notify processes sharing the
        # data folder append whole lines, never interleaved halves of a buffered one.
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._dirty = False

    def _repair_and_load(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        if len(complete) != len(data):
            with self.path.open("r+b") as f:  # drop a line cut short by a crash
                f.truncate(len(complete))
        for line in complete.splitlines():
            if line.strip():
                self.delivered.add(json.loads(line)["alert_id"])

    def record(self, alert: Alert, *, sync: bool = True) -> bool:
        """Append the alert unless it is already there; True when it was new.

        With `sync=False` the line is durable only after the next `sync()`, so a
        batch pays for one fsync: call `sync()` before its offsets are committed.
        """
        if alert.alert_id in self.delivered:
            return False
        os.write(self._fd, alert.model_dump_json().encode() + b"\n")
        self.delivered.add(alert.alert_id)
        self._dirty = True
        if sync:
            self.sync()
        return True

    def sync(self) -> None:
        """Flush and fsync what `record` wrote since the last sync."""
        if self._dirty:
            os.fsync(self._fd)
            self._dirty = False

    def close(self) -> None:
        self.sync()
        os.close(self._fd)
