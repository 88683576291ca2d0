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
        self._file = path.open("a", encoding="utf-8")
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
        self._file.write(alert.model_dump_json() + "\n")
        self.delivered.add(alert.alert_id)
        self._dirty = True
        if sync:
            self.sync()
        return True

    def sync(self) -> None:
        """Flush and fsync what `record` wrote since the last sync."""
        if self._dirty:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._dirty = False

    def close(self) -> None:
        self.sync()
        self._file.close()
