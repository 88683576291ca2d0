"""notify: news.alerts → each alert delivered once, to stdout and a JSONL file.

consume: `news.alerts` (Alert, keyed by capital)
deliver: append to `<data_dir>/<notify.jsonl_file>` (the ledger: a replayed
         alert id is skipped) and print one line on stdout
produce: nothing
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import structlog

from ingest.core.models import Alert
from ingest.core.runtime import Inbound, OneByOne, Output
from ingest.core.settings import Settings
from ingest.core.topics import ALERTS
from workers.notify.alert_log import AlertLog

log = structlog.get_logger()


def summary_line(alert: Alert) -> str:
    """One human line per alert, e.g. 'ALERT entered: Taliban → Kunduz (Kunduz, AF)'."""
    capital = alert.capital
    return (
        f"ALERT {alert.kind}: {alert.actor} → {capital.name} ({capital.province}, "
        f"{capital.country}) reported {alert.reported_at:%Y-%m-%d %H:%M}Z "
        f"[{len(alert.evidence)} source(s)] {alert.evidence[0].url if alert.evidence else ''}"
    )


class NotifyStage(OneByOne):
    name = "notify"
    input = ALERTS

    def __init__(self, settings: Settings) -> None:
        self.alert_log = AlertLog(settings.data_dir / settings.notify.jsonl_file)
        self.stdout = settings.notify.stdout

    def handle(self, inbound: Inbound) -> Sequence[Output]:
        alert = inbound.payload_as(Alert)
        if self.alert_log.record(alert):
            log.info("alert_delivered", alert_id=alert.alert_id, kind=alert.kind,
                     capital=alert.capital.name, channel="jsonl")
            if self.stdout:
                print(summary_line(alert), file=sys.stdout, flush=True)
        else:
            log.info("alert_already_delivered", alert_id=alert.alert_id)
        return ()

    def close(self) -> None:
        self.alert_log.close()


def build(settings: Settings) -> NotifyStage:
    return NotifyStage(settings)
