"""The notify worker on a real broker: subscriptions from the topic, deliveries that survive
a SIGKILL, and the API with its token, CLI, dead letters and SSE stream."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from typer.testing import CliRunner

from ingest.cli import app
from ingest.core.settings import Settings
from ingest.core.topics import ALERTS, SUBSCRIPTIONS
from tests import test_notify_receivers
from tests.kafka_helpers import produce
from tests.test_notify_receivers import (
    KUNDUZ,
    MAIMANA,
    Receiver,
    make_alert,
    make_sub,
)
from workers.notify.api import token_hash
from workers.notify.channels import TargetRefused, check_target
from workers.notify.keyed_view import KeyedWriter
from workers.notify.ledger import Ledger
from workers.notify.service import serve_api

pytestmark = pytest.mark.timeout(120)
receivers = test_notify_receivers.receivers  # the loopback receivers fixture, shared
TOKEN = "test-token-not-a-secret"


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def worker(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ingest", "worker", "notify", "--config", str(config)],
            stdout=out, stderr=out, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


def test_killed_notify_loses_and_repeats_no_delivery(
    settings: Settings, tmp_path: Path,
    receivers: Callable[..., Receiver],
) -> None:
    rx = receivers(script=[200, 0])  # the second request hangs until the worker is killed
    sub = make_sub("desk", "webhook", rx.url)
    writer = KeyedWriter(settings.kafka, "/tests")
    writer.put(SUBSCRIPTIONS, sub.subscription_id, sub)
    writer.close()
    config = tmp_path / "notify.toml"
    config.write_text(
        f'data_dir = "{settings.data_dir}"\n[kafka]\nbootstrap_servers = '
        f'"{settings.kafka.bootstrap_servers}"\n[notify]\nstdout = false\n'
        'allow_private_targets = true\nrequest_timeout = "60s"\nretry_base = "0.1s"\n'
    )
    alerts = [make_alert(KUNDUZ), make_alert(MAIMANA, alert_id="alert-maimana"),
              make_alert(MAIMANA, kind="captured", alert_id="alert-maimana-captured")]
    for alert in alerts:
        produce(settings, ALERTS.name, alert.capital.place_id, alert)
    ledger_file = settings.data_dir / "notify-ledger.sqlite3"

    def delivered() -> set[str]:
        if not ledger_file.exists():
            return set()
        ledger = Ledger(ledger_file)
        try:
            return {d.delivery_id for d in ledger.by_status("delivered")}
        finally:
            ledger.close()

    first = worker(config, tmp_path / "notify.log")
    try:
        # the deliveries go out side by side: two answered and recorded, one hanging
        wait_for(lambda: rx.hits >= 3 and len(delivered()) == 2, "two deliveries recorded")
        before_kill = delivered()
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        rx.release.set()
        second = worker(config, tmp_path / "notify.log")
        try:
            wait_for(lambda: len({r.headers["webhook-id"] for r in rx.ok()}) == 3
                     and rx.hits >= 4, "all three deliveries")
            time.sleep(0.5)  # room for a wrong extra delivery to show up
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0
    finally:
        if first.poll() is None:
            first.kill()
    ids = [r.headers["webhook-id"] for r in rx.requests]
    (interrupted,) = set(ids) - before_kill
    # three deliveries; only the one cut off by the kill was sent again, with the same id
    assert len(set(ids)) == 3
    assert Counter(ids) == {**dict.fromkeys(ids, 1), interrupted: 2}
    ledger = Ledger(settings.data_dir / "notify-ledger.sqlite3")
    assert {d.delivery_id for d in ledger.by_status("delivered")} == set(ids)
    for did in set(ids):
        assert [a.ok for a in ledger.attempts(did)][-1] is True
        assert sum(a.ok for a in ledger.attempts(did)) == 1


@pytest.fixture
def api(settings: Settings) -> Iterator[tuple[str, Settings]]:
    notify = settings.notify.model_copy(update={
        "api_listen": "127.0.0.1:0", "api_token_sha256": [token_hash(TOKEN)],
        "allow_private_targets": True,
    })
    live = settings.model_copy(update={"notify": notify})
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    started: asyncio.Future[int] = loop.create_future()
    thread = threading.Thread(target=loop.run_until_complete,
                              args=(serve_api(live, stop, started),), daemon=True)
    thread.start()
    port = asyncio.run_coroutine_threadsafe(asyncio.wait_for(asyncio.shield(started), 30),
                                            loop).result(40)
    yield f"http://127.0.0.1:{port}", live
    loop.call_soon_threadsafe(stop.set)
    thread.join(30)
    loop.close()


def cli(base: str, *args: str, token: str | None = TOKEN) -> Any:
    extra = ["--api", base] + (["--token", token] if token else [])
    return CliRunner().invoke(app, [*args, *extra])


def test_api_refuses_requests_without_a_valid_token(api: tuple[str, Settings]) -> None:
    base, _ = api

    async def go() -> list[int]:
        async with aiohttp.ClientSession() as http:
            statuses = []
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
                async with http.post(f"{base}/subscriptions", json={}, headers=headers) as r:
                    statuses.append(r.status)
            async with http.get(f"{base}/subscriptions") as r:
                statuses.append(r.status)
            async with http.get(f"{base}/openapi.json") as r:
                doc = await r.json()
                assert "/subscriptions/{sid}" in doc["paths"]
            return statuses

    assert asyncio.run(go()) == [401, 401, 401, 401]


def test_cli_manages_subscriptions_and_never_shows_the_secret_again(
    api: tuple[str, Settings]
) -> None:
    base, _ = api
    made = cli(base, "subscriptions", "add", "--name", "desk", "--channel", "webhook",
               "--target", "http://127.0.0.1:9/hook", "--countries", "AF",
               "--min-sources", "2", "--quiet-hours", "22:00-07:00@Asia/Kabul")
    assert made.exit_code == 0, made.output
    assert '"secret": "whsec_' in made.output
    sid = made.output.split('"subscription_id": "')[1].split('"')[0]
    shown = cli(base, "subscriptions", "show", sid)
    assert shown.exit_code == 0
    assert "whsec_" not in shown.output
    assert '"has_secret": true' in shown.output
    assert cli(base, "subscriptions", "pause", sid).exit_code == 0
    assert f"{sid}\tpaused" in cli(base, "subscriptions", "list").output
    assert cli(base, "subscriptions", "resume", sid).exit_code == 0
    assert f"{sid}\tactive" in cli(base, "subscriptions", "list").output
    assert cli(base, "subscriptions", "remove", sid).exit_code == 0
    assert sid not in cli(base, "subscriptions", "list").output
    refused = cli(base, "subscriptions", "list", token="nope")
    assert refused.exit_code == 4
    assert "401" in refused.output


def test_private_webhook_target_is_refused_by_default(settings: Settings) -> None:
    with pytest.raises(TargetRefused):
        check_target("http://127.0.0.1:9/hook", allow_private=False)
    with pytest.raises(TargetRefused):
        check_target("http://169.254.169.254/latest", allow_private=False)
    check_target("http://127.0.0.1:9/hook", allow_private=True)


def test_sse_stream_filters_and_resumes_after_last_event_id(
    api: tuple[str, Settings]
) -> None:
    base, live = api
    produce(live, ALERTS.name, KUNDUZ.place_id, make_alert(KUNDUZ))
    produce(live, ALERTS.name, MAIMANA.place_id, make_alert(MAIMANA, alert_id="m1"))
    produce(live, ALERTS.name, MAIMANA.place_id,
            make_alert(MAIMANA, kind="captured", alert_id="m2"))

    async def read(headers: dict[str, str], n: int) -> list[tuple[str, str]]:
        events: list[tuple[str, str]] = []
        event_id = ""
        url = f"{base}/alerts/stream?from=beginning&provinces=Faryab"
        async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as resp:
            async for raw in resp.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("id: "):
                    event_id = line[4:]
                elif line.startswith("data: "):
                    alert_id = line.split('"alert_id": "')[1].split('"')[0]
                    events.append((event_id, alert_id))
                    if len(events) == n:
                        return events
        return events

    first = asyncio.run(asyncio.wait_for(read({}, 2), 30))
    assert sorted(a for _, a in first) == ["m1", "m2"]  # Kunduz filtered out
    resumed = asyncio.run(asyncio.wait_for(read({"Last-Event-ID": first[0][0]}, 1), 30))
    assert resumed[0][1] == first[1][1]
