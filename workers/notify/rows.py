"""The ledger's rows as Python values: a delivery, one recorded attempt, one outcome to record."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Delivery:
    """One row. `items` are `{"kind": "alert"|"update", "alert": {...}}` dicts."""

    delivery_id: str
    subscription_id: str
    channel: str
    kind: str
    alert_ids: tuple[str, ...]
    items: tuple[dict[str, Any], ...]
    status: str
    hold_until: float | None
    attempts: int
    next_attempt: float
    deadline: float
    last_error: str | None = None
    created: float = 0.0
    updated: float = 0.0

    @classmethod
    def _from_row(cls, row: Sequence[Any]) -> Delivery:
        return cls(
            delivery_id=row[0], subscription_id=row[1], channel=row[2], kind=row[3],
            alert_ids=tuple(json.loads(row[4])), items=tuple(json.loads(row[5])),
            status=row[6], hold_until=row[7], attempts=row[8], next_attempt=row[9],
            deadline=row[10], last_error=row[11], created=row[12], updated=row[13],
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """One finished attempt to record: `next_attempt` None after a failure means dead."""

    delivery: Delivery
    at: float
    ok: bool
    status: int | None
    error: str | None
    next_attempt: float | None


@dataclass(frozen=True, slots=True)
class Attempt:
    n: int
    at: float
    ok: bool
    status: int | None
    error: str | None
