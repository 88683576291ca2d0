"""From one alert (or update) on `news.alerts` to the ledger rows it calls for.

A delivery's id is its idempotency key: a hash of the subscription, the alert
id and the version of the alert (the set of evidence URLs), so a replay of the
same message maps to the same rows, while an update that adds a source is a
new deliverable for every subscription that wants it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import datetime

from ingest.core.envelope import event_id
from ingest.core.models import Alert, Subscription
from workers.notify.filters import hold_until
from workers.notify.ledger import Delivery

NEW_ALERT_TYPE = Alert.ce_type


def alert_version(alert: Alert) -> str:
    """Names what the subscriber learns: the alert and the evidence it carries."""
    urls = "\n".join(sorted({e.url for e in alert.evidence}))
    return hashlib.sha256(f"{alert.kind}\n{urls}".encode()).hexdigest()[:16]


def delivery_id(subscription_id: str, alert: Alert, version: str | None = None) -> str:
    """`version`: `alert_version(alert)`, when the caller has it already."""
    return event_id("delivery", subscription_id, alert.alert_id, version or alert_version(alert))


def plan_deliveries(
    alert: Alert,
    ce_type: str,
    subscriptions: Iterable[Subscription],
    *,
    now: datetime,
    deadline_s: float,
    already_told: Callable[[str, str], bool],
) -> list[Delivery]:
    """One row per matching subscription: pending now, or held for a digest.

    An update (`ce_type` other than `news.alert.v1`) goes out as `update` to a
    subscriber who has been told about the alert, and as `alert` to one who has
    not (e.g. whose minimum-sources filter the first report did not pass).
    `already_told(subscription_id, alert_id)` answers from the ledger.
    """
    ts = now.timestamp()
    version = alert_version(alert)
    payload = alert.model_dump(mode="json")
    # One items tuple per kind, shared by the rows, so the ledger encodes it once.
    items = {kind: ({"kind": kind, "alert": payload},) for kind in ("alert", "update")}
    rows: list[Delivery] = []
    for sub in subscriptions:
        is_update = ce_type != NEW_ALERT_TYPE and already_told(sub.subscription_id, alert.alert_id)
        kind = "update" if is_update else "alert"
        held = hold_until(sub, now)
        rows.append(
            Delivery(
                delivery_id=delivery_id(sub.subscription_id, alert, version),
                subscription_id=sub.subscription_id,
                channel=sub.channel,
                kind=kind,
                alert_ids=(alert.alert_id,),
                items=items[kind],
                status="held" if held else "pending",
                hold_until=held.timestamp() if held else None,
                attempts=0,
                next_attempt=ts,
                deadline=(held.timestamp() if held else ts) + deadline_s,
                created=ts,
                updated=ts,
            )
        )
    return rows
