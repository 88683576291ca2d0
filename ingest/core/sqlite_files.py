"""The service's SQLite state files: WAL mode opened safely from several processes, and
`IN (...)` lists of any length.

Switching a file to WAL needs a moment of exclusive access. When two processes
open a new file at the same time (poller or notify processes started together),
SQLite may refuse the switch at once with "database is locked" instead of
waiting for the busy timeout: both hold a read lock and want to upgrade, so
waiting could deadlock. One of them simply tries again a little later.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Iterator, Sequence, Sized
from typing import TypeVar

T = TypeVar("T")

IN_CHUNK = 500
"""bound values per `IN (...)` list, far under SQLite's limit on parameters"""
_WAL_ATTEMPTS = 200
_WAL_PAUSE_S = 0.05


def use_wal(db: sqlite3.Connection) -> None:
    """`PRAGMA journal_mode=WAL`, retried while another process holds the file."""
    for attempt in range(1, _WAL_ATTEMPTS + 1):
        try:
            db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == _WAL_ATTEMPTS:
                raise
            time.sleep(_WAL_PAUSE_S * (0.5 + random.random()))  # jittered
        else:
            return


def chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    """`values` in slices of at most `IN_CHUNK`, one query each."""
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]


def in_list(template: str, chunk: Sized) -> str:
    """`template` with its `IN ({})` filled with one placeholder per value (the values
    stay bound)."""
    return template.format(",".join("?" * len(chunk)))
