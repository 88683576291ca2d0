"""Stage discovery and start-up: the `news_ingest.stages` entry points.

Stages register themselves in pyproject.toml, so the core and the CLI never
import `workers`. A stage's entry point is `build(settings) -> Stage | Source`:
a `Stage` consumes a topic and is driven by the `StreamRunner`; a `Source`
(the poller) produces from outside Kafka and drives itself.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Protocol, runtime_checkable

from ingest.core.runtime import Stage, StreamRunner
from ingest.core.settings import Settings

PIPELINE_ORDER = ("poller", "fetcher", "cleaner", "dedupe", "geotag", "alert", "notify")
# Stages whose state covers every partition at once: dedupe compares each
# article with all earlier ones (a copy lands on any partition) and alert keeps
# one control state per capital (an article names any capital). A second
# process would keep a second, partial state, so `run` starts one of each.
SINGLE_PROCESS_STAGES = frozenset({"dedupe", "alert"})


@runtime_checkable
class Source(Protocol):
    """A stage that is not fed by a topic. `run` returns after SIGINT/SIGTERM."""

    name: str

    def run(self) -> None: ...


def stage_names() -> list[str]:
    found = {ep.name for ep in entry_points(group="news_ingest.stages")}
    ordered = [n for n in PIPELINE_ORDER if n in found]
    return ordered + sorted(found - set(ordered))


def builder(name: str) -> Callable[[Settings], Stage | Source]:
    for ep in entry_points(group="news_ingest.stages"):
        if ep.name == name:
            build: Callable[[Settings], Stage | Source] = ep.load()
            return build
    raise KeyError(f"no stage named {name!r}; known stages: {', '.join(stage_names())}")


def run_worker(settings: Settings, name: str) -> None:
    """Build the named stage and run it until a shutdown signal."""
    stage = builder(name)(settings)
    if isinstance(stage, Source):
        stage.run()
    else:
        StreamRunner(settings, stage).run()
