"""notify: news.alerts → deliveries to every subscription that wants each alert or update.

consume: `news.alerts` (Alert; `news.alert.v1` new alerts and `news.alert.updated.v1`
         updates of an existing alert id with more evidence)
deliver: the built-in local channel appends each new alert once to
         `<data_dir>/<notify.jsonl_file>` (and a line on stdout); for the
         subscriptions of `news.subscriptions`, `plan_deliveries` plans one
         ledger row per (alert version, subscription); the `DeliveryEngine`
         thread (the process's one ledger writer) commits them before the
         batch's offsets are committed, and sends them.
produce: `news.deliveries` records (from the engine), nothing through the runtime.

A replayed alert maps to the same ledger rows (same idempotency key), so a
crash between the ledger write and the commit repeats nothing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import structlog

from ingest.core.models import Alert, Subscription
from ingest.core.runtime import BadInput, Inbound, Result
from ingest.core.settings import Settings
from ingest.core.topics import ALERTS, SUBSCRIPTIONS
from workers.notify.alert_log import AlertLog
from workers.notify.engine import DeliveryEngine
from workers.notify.filters import SubscriptionIndex
from workers.notify.keyed_view import KeyedView
from workers.notify.ledger import Ledger
from workers.notify.plan import plan_deliveries

log = structlog.get_logger()


def summary_line(alert: Alert) -> str:
    """One human line per alert, e.g. 'ALERT entered: Taliban → Kunduz (Kunduz, AF)'."""
    capital = alert.capital
    return (
        f"ALERT {alert.kind}: {alert.actor} → {capital.name} ({capital.province}, "
        f"{capital.country}) reported {alert.reported_at:%Y-%m-%d %H:%M}Z "
        f"[{len(alert.evidence)} source(s)] {alert.evidence[0].url if alert.evidence else ''}"
    )


class NotifyStage:
    """Created once per notify process; `close()` stops the delivery thread."""

    name = "notify"
    input = ALERTS

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        start_engine: bool = True,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.alert_log = AlertLog(settings.data_dir / settings.notify.jsonl_file)
        self.stdout = settings.notify.stdout
        self.ledger = Ledger(settings.data_dir / settings.notify.ledger_file)
        self.subscriptions = KeyedView(settings.kafka, SUBSCRIPTIONS, Subscription)
        self.subscriptions.refresh()
        self._index_version = -1
        self._index = SubscriptionIndex(())
        self.engine: DeliveryEngine | None = None
        if start_engine:
            self.engine = DeliveryEngine(
                settings, self.subscriptions.get, clock=clock, serve_api=_api_server(settings),
                on_tick=self.subscriptions.refresh,
            )
            self.engine.start()

    def index(self) -> SubscriptionIndex:
        """The matching index, rebuilt only when a subscription changed."""
        if self.subscriptions.version != self._index_version:
            self._index_version = self.subscriptions.version
            self._index = SubscriptionIndex(self.subscriptions.values())
        return self._index

    def handle_batch(self, batch: Sequence[Inbound]) -> list[Result]:
        self.subscriptions.refresh()
        index = self.index()
        now = datetime.fromtimestamp(self.clock(), UTC)
        deadline = self.settings.notify.delivery_deadline.total_seconds()
        results: list[Result] = []
        rows = []
        new_alerts: list[Alert] = []
        for inbound in batch:
            try:
                alert = inbound.payload_as(Alert)
            except BadInput as exc:
                results.append(exc)
                continue
            if inbound.event.type == Alert.ce_type:
                new_alerts.append(alert)
            matched = index.match(alert)
            rows += plan_deliveries(
                alert, inbound.event.type, matched, now=now, deadline_s=deadline,
                already_told=self.ledger.told,
            )
            results.append(())
        self._local(new_alerts)
        self.alert_log.sync()  # before the runtime commits this batch's offsets
        if not rows:
            return results
        added = self.engine.add(rows) if self.engine is not None else self.ledger.add(rows)
        if added:
            log.info("deliveries_planned", new=len(added), replayed=len(rows) - len(added))
        return results

    def _local(self, alerts: list[Alert]) -> None:
        """The local channel: each new alert once in the JSON-lines file (one locked write
        for the batch) and on stdout."""
        if not alerts:
            return
        written = self.alert_log.record_many(alerts, sync=False)
        for alert in written:
            log.info("alert_delivered", alert_id=alert.alert_id, kind=alert.kind,
                     capital=alert.capital.name, channel="jsonl")
            if self.stdout:
                print(summary_line(alert), file=sys.stdout, flush=True)
        if len(written) < len(alerts):
            log.info("alerts_already_delivered", alerts=len(alerts) - len(written))

    def close(self) -> None:
        if self.engine is not None:
            self.engine.stop()
        self.subscriptions.close()
        self.ledger.close()
        self.alert_log.close()


def _api_server(settings: Settings) -> Callable[..., object] | None:
    if not settings.notify.serve_api:
        return None
    from workers.notify.service import serve_api  # noqa: PLC0415 - only when configured

    return lambda stop: serve_api(settings, stop)


def build(settings: Settings) -> NotifyStage:
    return NotifyStage(settings)
