"""`news-ingest demo`: the whole pipeline on loopback, no network needed.

Serves the bundled feeds, starts a fresh embedded broker and every stage (the
same supervisor as `run`), waits until every demo article has passed every
stage, prints the alerts the notify stage delivered, and compares them with
`EXPECTED_ALERTS`.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ingest.core.embedded_broker import start_broker
from ingest.core.kafka_clients import ensure_topics, wait_for_broker
from ingest.core.progress import topic_size
from ingest.core.settings import Settings, load_settings
from ingest.core.stages import stage_names
from ingest.core.status import drained
from ingest.core.supervisor import Supervisor
from ingest.core.topics import ARTICLES
from ingest.demo import DEMO_FEEDS, EXPECTED_ALERTS, PAGE_NAMES
from ingest.demo.server import DemoServer


def _config(folder: Path, bootstrap: str, feed_urls: dict[str, str]) -> Path:
    feeds = "".join(
        f'\n[[feeds]]\nurl = "{url}"\nname = "{name}"\ninterval = "2s"\n'
        for name, url in feed_urls.items()
    )
    path = folder / "demo.toml"
    path.write_text(
        f'data_dir = "{folder / "data"}"\n'
        f'[kafka]\nbootstrap_servers = "{bootstrap}"\n'
        '[http]\nallow_private_networks = true\n'  # the demo's pages are on loopback
        '[poller]\nmin_interval = "1s"\n'
        '[notify]\nstdout = false\n'
        '[log]\nlevel = "warning"\n' + feeds
    )
    return path


def _delivered(settings: Settings) -> list[dict[str, object]]:
    path = settings.data_dir / settings.notify.jsonl_file
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_demo(timeout: float, echo: Callable[[str], None]) -> int:
    """Run the demo; 0 when exactly the expected alerts were raised, 1 otherwise."""
    broker = start_broker()
    try:
        with DemoServer() as server, tempfile.TemporaryDirectory(prefix="news-ingest-demo-") as tmp:
            feeds = {name: server.feed_url(name) for name in DEMO_FEEDS}
            config = _config(Path(tmp), broker.bootstrap_servers, feeds)
            settings = load_settings(config)
            wait_for_broker(settings.kafka, timeout=15)
            ensure_topics(settings.kafka)
            echo(f"demo: serving {len(PAGE_NAMES)} pages in {len(feeds)} feeds at "
                 f"{server.base_url}; broker {broker.bootstrap_servers}")
            echo("demo: running poller → fetcher → cleaner → dedupe → geotag → alert → notify")
            deadline = time.monotonic() + timeout
            supervisor = Supervisor(stage_names(), config, env={}, grace_seconds=10)
            supervisor.run(
                done=lambda: drained(settings, len(PAGE_NAMES)) or time.monotonic() > deadline,
                check_every=2.0,
            )
            return _report(settings, echo)
    finally:
        broker.stop()


def _report(settings: Settings, echo: Callable[[str], None]) -> int:
    alerts = _delivered(settings)
    echo(f"demo: {topic_size(settings.kafka, ARTICLES.name)} articles, "
         f"{len(alerts)} alert(s) delivered:")
    raised = set()
    for alert in alerts:
        capital = alert["capital"]
        assert isinstance(capital, dict)
        evidence = alert["evidence"]
        assert isinstance(evidence, list)
        raised.add((str(capital["name"]), str(alert["kind"])))
        echo(f"  {alert['kind']:<10} {capital['name']:<10} ({capital['province']}, "
             f"{capital['country']})  actor={alert['actor']}")
        for proof in evidence[:3]:
            echo(f"             “{proof['sentence']}” — {proof['source']}")
    if raised == EXPECTED_ALERTS and len(alerts) == len(EXPECTED_ALERTS):
        echo("demo: OK, exactly the expected alerts")
        return 0
    missing = sorted(EXPECTED_ALERTS - raised)
    extra = sorted(raised - EXPECTED_ALERTS)
    echo(f"demo: FAILED, missing {missing or '-'}, unexpected {extra or '-'}")
    return 1
