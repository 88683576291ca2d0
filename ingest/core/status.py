"""Where the pipeline stands: each stage's lag on its input and its health.

`news-ingest status` prints this table; `news-ingest demo`, the end-to-end
tests and the benchmarks use `drained()` to wait for a stream to pass through.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.error import HTTPError, URLError
from urllib.request import urlopen

from ingest.core.progress import group_lags, topic_size
from ingest.core.settings import Settings
from ingest.core.stages import PIPELINE_ORDER
from ingest.core.topics import ALERTS, ARTICLES, GEOTAGGED, ITEMS, RAW, UNIQUE, Topic

STAGE_INPUTS: dict[str, Topic] = {
    "fetcher": ITEMS, "cleaner": RAW, "dedupe": ARTICLES, "geotag": UNIQUE,
    "alert": GEOTAGGED, "notify": ALERTS,
}
"""The topic each consuming stage reads (the poller reads feeds, not a topic)."""


@dataclass(frozen=True)
class StageStatus:
    stage: str
    input: str | None
    lag: int | None
    health: str


def _health(settings: Settings, stage: str) -> str:
    base = settings.observability.metrics_port
    if not base:
        return "unknown (metrics_port not set)"
    port = base + PIPELINE_ORDER.index(stage)
    try:
        with urlopen(f"http://{settings.observability.metrics_host}:{port}/readyz", timeout=2):
            return "ready"
    except HTTPError as exc:
        return f"not ready: {exc.read().decode(errors='replace').strip()}"
    except (URLError, OSError):
        return f"down (nothing on port {port})"


def pipeline_status(settings: Settings) -> list[StageStatus]:
    lags = group_lags(settings.kafka, {stage: t.name for stage, t in STAGE_INPUTS.items()})
    rows = []
    for stage in PIPELINE_ORDER:
        topic = STAGE_INPUTS.get(stage)
        lag = lags[stage] if topic else None
        name = topic.name if topic else None
        rows.append(StageStatus(stage, name, lag, _health(settings, stage)))
    return rows


def drained(settings: Settings, min_articles: int, stages: Iterable[str] | None = None) -> bool:
    """At least `min_articles` on news.articles and every stage (or those named) caught up."""
    kafka = settings.kafka
    if topic_size(kafka, ARTICLES.name) < min_articles:
        return False
    names = STAGE_INPUTS if stages is None else stages
    lags = group_lags(kafka, {stage: STAGE_INPUTS[stage].name for stage in names})
    return all(lag <= 0 for lag in lags.values())
