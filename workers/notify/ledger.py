"""The durable delivery ledger: one SQLite row per delivery, keyed by its idempotency key.

A delivery's id is a hash of what is delivered (an alert, an update of it, or
a digest period) and the subscription; `add` ignores an id it already has, so
a replayed alert, a restarted process or a second notify process on the same
data folder never creates a second delivery. Rows move
`held → digested` (folded into a digest row) or `pending → delivered | dead`;
every attempt is kept in `attempts`. Several processes share one file:
a row is sent only by the process holding its lease.

Each thread that writes opens its own `Ledger` on the same file; one `Ledger`
is used by one thread at a time. WAL mode with `synchronous=NORMAL` survives a killed process.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from ingest.core.sqlite_files import chunks, in_list, use_wal
from workers.notify.rows import Attempt, Delivery, ItemsCache, Outcome

__all__ = ["Attempt", "Delivery", "Ledger", "Outcome", "apply_remote"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    delivery_id TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    alert_ids TEXT NOT NULL,
    items TEXT NOT NULL,
    status TEXT NOT NULL,
    hold_until REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL,
    deadline REAL NOT NULL,
    last_error TEXT,
    lease_owner TEXT,
    lease_until REAL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_attempt);
CREATE INDEX IF NOT EXISTS deliveries_sub ON deliveries (subscription_id, alert_ids);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS attempts (
    delivery_id TEXT NOT NULL,
    n INTEGER NOT NULL,
    at REAL NOT NULL,
    ok INTEGER NOT NULL,
    status INTEGER,
    error TEXT,
    PRIMARY KEY (delivery_id, n)
);
"""

_COLUMNS = (
    "delivery_id, subscription_id, channel, kind, alert_ids, items, status, hold_until, "
    "attempts, next_attempt, deadline, last_error, created, updated"
)


_INSERT = (
    f"INSERT OR IGNORE INTO deliveries ({_COLUMNS}) "  # noqa: S608 - constant
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


def _values(d: Delivery, items_json: str | None = None) -> tuple[Any, ...]:
    """The row's column values, in `_COLUMNS` order; `items_json`: `d.items` encoded."""
    return (
        d.delivery_id, d.subscription_id, d.channel, d.kind, json.dumps(list(d.alert_ids)),
        items_json or json.dumps(list(d.items)), d.status, d.hold_until, d.attempts,
        d.next_attempt, d.deadline, d.last_error, d.created, d.updated,
    )


class Ledger:
    """Owns one SQLite connection; open per thread, `close()` when that thread stops."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # One user at a time, but not always the creating thread (a stage is built in one
        # thread and may run in another), hence check_same_thread=False.
        self._db = sqlite3.connect(
            path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        use_wal(self._db)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._items = ItemsCache()
        # Names this file: processes sharing it know each other's outcomes without the topic.
        # The first process to open the file picks the id; INSERT OR IGNORE keeps it.
        self._db.execute(
            "INSERT OR IGNORE INTO meta VALUES ('ledger_id', ?)", (uuid.uuid4().hex,)
        )
        self.ledger_id: str = self._db.execute(
            "SELECT value FROM meta WHERE key = 'ledger_id'"
        ).fetchone()[0]

    def close(self) -> None:
        self._db.close()

    def add(self, deliveries: Iterable[Delivery]) -> list[str]:
        """Insert the deliveries whose id is new, in one transaction; return the new ids."""
        rows = list(deliveries)
        # Rows planned from one alert share their items tuple: encode it once. The tuple is
        # kept alongside, so its id cannot be reused by another object meanwhile.
        encoded: dict[int, tuple[tuple[dict[str, Any], ...], str]] = {}
        with self._transaction():
            # Which ids exist already, a few hundred per query, then one insert for the new
            # rows: a statement per row cost twice as much at ~13 rows per alert.
            seen: set[str] = set()
            ids = [d.delivery_id for d in rows]
            for chunk in chunks(ids):
                query = in_list("SELECT delivery_id FROM deliveries WHERE delivery_id IN ({})",
                                chunk)
                seen.update(r[0] for r in self._db.execute(query, chunk))
            new: list[tuple[Any, ...]] = []
            added: list[str] = []
            for d in rows:
                if d.delivery_id in seen:
                    continue
                seen.add(d.delivery_id)  # the same row twice in one call: inserted once
                known = encoded.get(id(d.items))
                if known is None or known[0] is not d.items:
                    known = encoded[id(d.items)] = (d.items, json.dumps(list(d.items)))
                new.append(_values(d, known[1]))
                added.append(d.delivery_id)
            self._db.executemany(_INSERT, new)
        return added

    def get(self, delivery_id: str) -> Delivery | None:
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM deliveries WHERE delivery_id = ?",  # noqa: S608
            (delivery_id,),
        ).fetchone()
        return Delivery._from_row(row) if row else None

    def told(self, subscription_id: str, alert_id: str) -> bool:
        """True when the subscription has a delivery (or held item) about this alert."""
        row = self._db.execute(
            "SELECT 1 FROM deliveries WHERE subscription_id = ? AND alert_ids = ? LIMIT 1",
            (subscription_id, json.dumps([alert_id])),
        ).fetchone()
        return row is not None

    def by_status(self, status: str) -> list[Delivery]:
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM deliveries WHERE status = ? ORDER BY created",  # noqa: S608
            (status,),
        ).fetchall()
        return [Delivery._from_row(r) for r in rows]

    def counts(self) -> dict[str, int]:
        """Number of rows per status."""
        rows = self._db.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status")
        return dict(rows)

    def attempts(self, delivery_id: str) -> list[Attempt]:
        rows = self._db.execute(
            "SELECT n, at, ok, status, error FROM attempts WHERE delivery_id = ? ORDER BY n",
            (delivery_id,),
        ).fetchall()
        return [Attempt(r[0], r[1], bool(r[2]), r[3], r[4]) for r in rows]

    def claim_due(
        self, now: float, owner: str, lease_s: float, busy: Sequence[str], limit: int,
        *, per_subscription: int = 1,
    ) -> list[Delivery]:
        """Lease due pending rows of up to `limit` subscriptions not in `busy`, at most
        `per_subscription` rows each, oldest first; a subscription's rows keep their order.

        One transaction for the whole claim; only the claimed rows are decoded.
        """
        marks = ",".join("?" * len(busy))
        chosen: list[str] = []
        taken: dict[str, int] = {}
        with self._transaction():
            for did, sub_id in self._db.execute(
                "SELECT delivery_id, subscription_id FROM deliveries "  # noqa: S608
                "WHERE status = 'pending' AND next_attempt <= ? "
                "AND (lease_until IS NULL OR lease_until < ?) "
                f"AND subscription_id NOT IN ({marks}) ORDER BY next_attempt LIMIT ?",
                (now, now, *busy, limit * (7 + per_subscription)),
            ):
                n = taken.get(sub_id, 0)
                if n >= per_subscription or (not n and len(taken) >= limit):
                    continue
                taken[sub_id] = n + 1
                chosen.append(did)
            if not chosen:
                return []
            # A leased row is due again when its lease ends: moved there in the due index,
            # the next claims no longer walk past every row in flight to find due ones.
            self._db.executemany(
                "UPDATE deliveries SET lease_owner = ?, lease_until = ?, next_attempt = ? "
                "WHERE delivery_id = ?",
                [(owner, now + lease_s, now + lease_s, did) for did in chosen],
            )
            rows = []
            for chunk in chunks(chosen):
                query = in_list(
                    f"SELECT {_COLUMNS} FROM deliveries WHERE delivery_id IN ({{}})",  # noqa: S608
                    chunk,
                )
                rows += self._db.execute(query, chunk).fetchall()
        order = {did: i for i, did in enumerate(chosen)}
        return sorted(
            (Delivery._from_row(r, self._items) for r in rows),
            key=lambda d: order[d.delivery_id],
        )

    def next_due(self) -> float | None:
        """When the earliest pending row (a leased one: when its lease ends) or held row
        comes due; None when there is none."""
        pending, held = self._db.execute(
            "SELECT (SELECT MIN(next_attempt) FROM deliveries WHERE status = 'pending'),"
            " (SELECT MIN(hold_until) FROM deliveries WHERE status = 'held')"
        ).fetchone()
        times = [t for t in (pending, held) if t is not None]
        return min(times) if times else None

    def record_attempt(
        self, d: Delivery, now: float, *, ok: bool, status: int | None, error: str | None,
        next_attempt: float | None,
    ) -> str:
        """Record one attempt; the row becomes delivered, pending again, or dead. Returns it."""
        (new_status,) = self.record_attempts([Outcome(d, now, ok, status, error, next_attempt)])
        return new_status

    def record_attempts(self, outcomes: Sequence[Outcome]) -> list[str]:
        """Record attempts in one transaction; return each row's new status, in order.

        A row becomes `delivered` (ok), `pending` again (a `next_attempt`), or `dead`.
        """
        statuses = [
            "delivered" if o.ok else ("pending" if o.next_attempt is not None else "dead")
            for o in outcomes
        ]
        # Two statements for the whole batch; the attempt's number comes from the row itself.
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO attempts "
                "SELECT delivery_id, attempts + 1, ?, ?, ?, ? FROM deliveries "
                "WHERE delivery_id = ?",
                [(o.at, int(o.ok), o.status, o.error, o.delivery.delivery_id) for o in outcomes],
            )
            self._db.executemany(
                "UPDATE deliveries SET status = ?, attempts = attempts + 1, next_attempt = ?, "
                "last_error = ?, lease_owner = NULL, lease_until = NULL, updated = ? "
                "WHERE delivery_id = ?",
                [
                    (status, o.next_attempt if o.next_attempt is not None else o.at,
                     None if o.ok else o.error, o.at, o.delivery.delivery_id)
                    for o, status in zip(outcomes, statuses, strict=True)
                ],
            )
        return statuses

    def release_leases(self, is_dead: Callable[[str], bool], now: float | None = None) -> int:
        """Give back the leases of owners that are gone (a killed process); return how many.

        Their rows are due at once (`now`, by default the time of the call).
        """
        at = time.time() if now is None else now
        owners = [r[0] for r in self._db.execute(
            "SELECT DISTINCT lease_owner FROM deliveries WHERE lease_owner IS NOT NULL "
            "AND status = 'pending'"
        ).fetchall()]
        released = 0
        for owner in owners:
            if is_dead(owner):
                cur = self._db.execute(
                    "UPDATE deliveries SET lease_owner = NULL, lease_until = NULL, "
                    "next_attempt = MIN(next_attempt, ?) "
                    "WHERE lease_owner = ? AND status = 'pending'",
                    (at, owner),
                )
                released += cur.rowcount
        return released

    def postpone(self, delivery_id: str, until: float) -> None:
        """Give a lease back without an attempt (e.g. the subscription is paused)."""
        self.postpone_many([delivery_id], until)

    def postpone_many(self, delivery_ids: Sequence[str], until: float) -> None:
        """Give leases back without an attempt, the rows due again at `until`."""
        with self._transaction():
            self._db.executemany(
                "UPDATE deliveries SET next_attempt = ?, lease_owner = NULL, lease_until = NULL "
                "WHERE delivery_id = ?",
                [(until, did) for did in delivery_ids],
            )

    def requeue(self, delivery_id: str, now: float, deadline: float) -> bool:
        """A dead delivery becomes pending again with a new deadline (`deliveries retry`)."""
        cur = self._db.execute(
            "UPDATE deliveries SET status = 'pending', next_attempt = ?, deadline = ?, "
            "updated = ? WHERE delivery_id = ? AND status = 'dead'",
            (now, deadline, now, delivery_id),
        )
        return bool(cur.rowcount)

    def mark_settled(self, delivery_id: str, status: str, now: float) -> None:
        """Another host settled this delivery: never send it here."""
        self._db.execute(
            "UPDATE deliveries SET status = ?, updated = ? WHERE delivery_id = ? "
            "AND status IN ('pending', 'held')",
            (status, now, delivery_id),
        )

    def release_digests(
        self, now: float, digest_id: Any, deadline_s: float
    ) -> list[Delivery]:
        """Fold held rows whose time has come into one digest row per (subscription, due time).

        `digest_id(subscription_id, due)` names the digest; returns the new digest rows.
        """
        made: list[Delivery] = []
        if not self._db.execute(  # the common case, without taking the write lock
            "SELECT 1 FROM deliveries WHERE status = 'held' AND hold_until <= ? LIMIT 1", (now,)
        ).fetchone():
            return made
        with self._transaction():
            groups = self._db.execute(
                "SELECT DISTINCT subscription_id, hold_until FROM deliveries "
                "WHERE status = 'held' AND hold_until <= ?",
                (now,),
            ).fetchall()
            for sub_id, due in groups:
                rows = [
                    Delivery._from_row(r)
                    for r in self._db.execute(
                        f"SELECT {_COLUMNS} FROM deliveries WHERE status = 'held' "  # noqa: S608
                        "AND subscription_id = ? AND hold_until = ? ORDER BY created",
                        (sub_id, due),
                    ).fetchall()
                ]
                digest = Delivery(
                    delivery_id=digest_id(sub_id, due), subscription_id=sub_id,
                    channel=rows[0].channel, kind="digest",
                    alert_ids=tuple(a for r in rows for a in r.alert_ids),
                    items=tuple(i for r in rows for i in r.items), status="pending",
                    hold_until=due, attempts=0, next_attempt=now, deadline=now + deadline_s,
                    created=now, updated=now,
                )
                self._db.execute(
                    "UPDATE deliveries SET status = 'digested', updated = ? "
                    "WHERE status = 'held' AND subscription_id = ? AND hold_until = ?",
                    (now, sub_id, due),
                )
                if self.add_one(digest):
                    made.append(digest)
        return made

    def add_one(self, d: Delivery, items_json: str | None = None) -> bool:
        """Insert one row unless its id exists; `items_json` is `d.items` already encoded."""
        cur = self._db.execute(_INSERT, _values(d, items_json))
        return bool(cur.rowcount)

    def _transaction(self) -> _Tx:
        return _Tx(self._db)


class _Tx:
    """BEGIN IMMEDIATE … COMMIT/ROLLBACK: one writer at a time across processes."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")


def apply_remote(
    ledger: Ledger, records: Iterable[tuple[str, Delivery]], now: float
) -> None:
    """Apply `(status, row)` ledger records read from `news.deliveries`, in one transaction.

    A delivery settled elsewhere (`delivered`/`dead`) is never sent here, even
    if this host replays its alert later; `retry_requested` re-queues a dead one.
    """
    with ledger._transaction():
        for status, row in records:
            if status == "retry_requested":
                ledger.requeue(row.delivery_id, now, row.deadline)
            elif status in ("delivered", "dead") and not ledger.add_one(row):
                ledger.mark_settled(row.delivery_id, status, now)
