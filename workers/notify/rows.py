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
    def _from_row(cls, row: Sequence[Any], items: ItemsCache | None = None) -> Delivery:
        """`items`: decode each distinct items text once for many rows (they share it)."""
        return cls(
            delivery_id=row[0], subscription_id=row[1], channel=row[2], kind=row[3],
            alert_ids=tuple(json.loads(row[4])),
            items=items.decode(row[5]) if items is not None else tuple(json.loads(row[5])),
            status=row[6], hold_until=row[7], attempts=row[8], next_attempt=row[9],
            deadline=row[10], last_error=row[11], created=row[12], updated=row[13],
        )


class ItemsCache:
    """Decoded `items` texts, shared by the rows that carry the same text, most recent kept.

    An alert's rows for its ~13 subscriptions store one items text; decoding it
    once, and handing every row the same tuple, also lets the sender encode the
    alert once (`Senders` recognises the tuple). The dicts must not be mutated.
    """

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._items: dict[str, tuple[dict[str, Any], ...]] = {}

    def decode(self, text: str) -> tuple[dict[str, Any], ...]:
        items = self._items.pop(text, None)
        if items is None:
            items = tuple(json.loads(text))
            if len(self._items) >= self.size:
                del self._items[next(iter(self._items))]
        self._items[text] = items  # re-inserted: the dict's order is least recent first
        return items


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
