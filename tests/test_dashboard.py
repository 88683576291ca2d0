"""The Grafana dashboard in deploy/ loads in Grafana's schema and charts real metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard
from prometheus_client import REGISTRY

import ingest.core.observability  # noqa: F401 - registers the metrics

DASHBOARD = Path(__file__).resolve().parent.parent / "deploy/grafana/news-ingest-dashboard.json"


def load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def test_the_dashboard_round_trips_through_grafanas_dashboard_model() -> None:
    original = load()
    model = Dashboard.from_json(original)
    again = json.loads(json.dumps(model, cls=JSONEncoder))
    assert again["title"] == original["title"]
    assert again["uid"] == original["uid"]
    assert [p["title"] for p in again["panels"]] == [p["title"] for p in original["panels"]]
    for panel, source in zip(again["panels"], original["panels"], strict=True):
        assert panel["targets"] == source["targets"]
        assert panel["gridPos"] == source["gridPos"]


def test_every_query_uses_a_metric_the_service_exports() -> None:
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    exported = {
        family.name + suffix
        for family in REGISTRY.collect()
        for suffix in suffixes.get(family.type, ("",))
    }
    for panel in load()["panels"]:
        for target in panel["targets"]:
            for name in re.findall(r"news_ingest_[a-z_]+", target["expr"]):
                assert name in exported, f"{panel['title']}: {name} is not exported"
