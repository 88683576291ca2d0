"""Loopback receivers (webhook/chat over aiohttp, SMTP over aiosmtpd) and the seed-like alert,
plus the channel tests that use them with a real ledger and dispatcher, without a broker."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from standardwebhooks import Webhook

from ingest.core.models import Alert, Capital, Evidence, Subscription, SubscriptionFilter
from ingest.core.settings import NotifySettings, SmtpSettings
from workers.notify.channels import Senders
from workers.notify.dispatcher import Dispatcher, RetryPolicy
from workers.notify.filters import SubscriptionIndex
from workers.notify.ledger import Ledger
from workers.notify.plan import plan_deliveries
from workers.notify.signing import new_secret

T0 = datetime(2021, 6, 22, 9, 30, tzinfo=UTC)
KUNDUZ = Capital(place_id="geonames:1135689", name="Kunduz", province="Kunduz", country="AF",
                 lat=36.728, lon=68.857)
MAIMANA = Capital(place_id="geonames:1134720", name="Maimana", province="Faryab", country="AF",
                  lat=35.921, lon=64.784)


def evidence(source: str, n: int = 1) -> Evidence:
    return Evidence(
        article_id=f"{source}-{n}", url=f"https://{source}.example/2021/06/kunduz-{n}",
        source=source.title(), title="Insurgents push into northern cities",
        sentence="Taliban fighters moved into Kunduz city on Monday, residents said.",
        published=T0,
    )


def make_alert(capital: Capital = KUNDUZ, sources: tuple[str, ...] = ("ledger",),
               kind: str = "entered", alert_id: str = "alert-kunduz-entered") -> Alert:
    return Alert(
        alert_id=alert_id, kind=kind, actor="Taliban", capital=capital,
        confidence=0.9, reported_at=T0, detected_at=T0,
        evidence=[evidence(s, i) for i, s in enumerate(sources, 1)],
    )


def make_sub(sid: str, channel: str, target: str, **extra: Any) -> Subscription:
    return Subscription(
        subscription_id=sid, name=sid, channel=channel, target=target,
        secret=new_secret() if channel == "webhook" else None,
        created_at=T0, updated_at=T0, **extra,
    )


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int


@dataclass
class Receiver:
    """An aiohttp server on 127.0.0.1 in its own thread, answering from a script.

    `script` statuses are used in order, then 200; a status of 0 means hang
    until `release` is set (a dead or slow receiver).
    """

    script: list[int] = field(default_factory=list)
    retry_after: str | None = None
    requests: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""
    arrived: threading.Event = field(default_factory=threading.Event)
    hits: int = 0

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.hits += 1
        status = self.script.pop(0) if self.script else 200
        self.arrived.set()
        if status == 0:
            while not self.release.is_set():
                await asyncio.sleep(0.02)
            status = 200
        self.requests.append(Received(dict(request.headers), body, status))
        headers = {"Retry-After": self.retry_after} if self.retry_after and status in (
            429, 503) else None
        return web.Response(status=status, text="ok", headers=headers)

    def ok(self) -> list[Received]:
        return [r for r in self.requests if 200 <= r.answered < 300]


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runners: list[web.AppRunner] = []
    made: list[Receiver] = []

    async def start(rx: Receiver) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", rx._handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        rx.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"

    def make(**kwargs: Any) -> Receiver:
        rx = Receiver(**kwargs)
        asyncio.run_coroutine_threadsafe(start(rx), loop).result(10)
        made.append(rx)
        return rx

    yield make
    for rx in made:
        rx.release.set()
    for runner in runners:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, Mailbox]]:
    box = Mailbox()
    with socket.socket() as probe:  # aiosmtpd's readiness check cannot use port 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield controller, box
    controller.stop()


def notify_settings(**extra: Any) -> NotifySettings:
    return NotifySettings(**{"allow_private_targets": True, "request_timeout": 2, **extra})


def run_dispatcher(
    ledger: Ledger, subs: dict[str, Subscription], settings: NotifySettings,
    until: Callable[[], bool], *, policy: RetryPolicy | None = None,
    clock: Callable[[], float] = time.time, timeout: float = 20.0,
) -> None:
    """Run a dispatcher in a fresh event loop until `until()` is true."""

    async def main() -> None:
        senders = Senders(settings)
        d = Dispatcher(ledger, subs.get, senders, policy or RetryPolicy(0.01, 0.05, 30.0),
                       clock=clock)
        deadline = time.monotonic() + timeout
        try:
            while not until():
                assert time.monotonic() < deadline, "dispatcher did not finish in time"
                await d.step()
                await asyncio.sleep(0.01)
            await d.drain()
        finally:
            await senders.close()

    asyncio.run(main())


def plan(ledger: Ledger, alert: Alert, subs: list[Subscription], now: datetime | None = None,
         ce_type: str = "news.alert.v1", deadline_s: float = 30.0) -> list[str]:
    rows = plan_deliveries(alert, ce_type, subs, now=now or datetime.now(UTC),
                           deadline_s=deadline_s, already_told=ledger.told)
    return ledger.add(rows)


def test_webhook_delivers_alert_with_evidence_signed_per_standard_webhooks(
    tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    rx = receivers()
    sub = make_sub("s1", "webhook", rx.url)
    ledger = Ledger(tmp_path / "l.sqlite3")
    (did,) = plan(ledger, make_alert(sources=("ledger", "courier")), [sub])
    run_dispatcher(ledger, {"s1": sub}, notify_settings(), lambda: len(rx.ok()) == 1)
    got = rx.ok()[0]
    assert sub.secret is not None
    payload = Webhook(sub.secret).verify(got.body, got.headers)
    assert got.headers["webhook-id"] == did
    assert payload["type"] == "alert.created"
    assert payload["data"]["capital"]["name"] == "Kunduz"
    assert [e["source"] for e in payload["data"]["evidence"]] == ["Ledger", "Courier"]
    assert ledger.get(did).status == "delivered"  # type: ignore[union-attr]


def test_a_tampered_body_fails_signature_verification(
    tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    rx = receivers()
    sub = make_sub("s1", "webhook", rx.url)
    ledger = Ledger(tmp_path / "l.sqlite3")
    plan(ledger, make_alert(), [sub])
    run_dispatcher(ledger, {"s1": sub}, notify_settings(), lambda: len(rx.ok()) == 1)
    got = rx.ok()[0]
    with pytest.raises(Exception, match=r"[Ss]ignature"):
        Webhook(sub.secret or "").verify(got.body.replace(b"Kunduz", b"Kabul"), got.headers)


def test_chat_webhook_gets_slack_text_and_blocks_with_evidence(
    tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    rx = receivers()
    sub = make_sub("c1", "chat", rx.url)
    ledger = Ledger(tmp_path / "l.sqlite3")
    plan(ledger, make_alert(), [sub])
    run_dispatcher(ledger, {"c1": sub}, notify_settings(), lambda: len(rx.ok()) == 1)
    body = json.loads(rx.ok()[0].body)
    assert body["text"].startswith("entered: Taliban → Kunduz (Kunduz, AF)")
    context = next(b for b in body["blocks"] if b["type"] == "context")
    assert "moved into Kunduz city" in context["elements"][0]["text"]


def test_email_goes_over_smtp_as_plain_text_and_html(
    tmp_path: Path, smtp_server: tuple[Controller, Mailbox]
) -> None:
    controller, box = smtp_server
    smtp = SmtpSettings(host="127.0.0.1", port=controller.port, sender="alerts@desk.example")
    sub = make_sub("m1", "email", "analyst@desk.example")
    ledger = Ledger(tmp_path / "l.sqlite3")
    (did,) = plan(ledger, make_alert(), [sub])
    run_dispatcher(ledger, {"m1": sub}, notify_settings(smtp=smtp), lambda: len(box.messages) == 1)
    msg = message_from_bytes(box.messages[0], policy=policy.default)
    assert msg["To"] == "analyst@desk.example"
    assert msg["X-Delivery-Id"] == did
    plain = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "moved into Kunduz city" in plain
    assert "<h3>entered: Taliban → Kunduz" in html


def test_receiver_failing_twice_then_succeeding_gets_one_success_and_two_failures(
    tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    rx = receivers(script=[500, 503])
    sub = make_sub("s1", "webhook", rx.url)
    ledger = Ledger(tmp_path / "l.sqlite3")
    (did,) = plan(ledger, make_alert(), [sub])
    run_dispatcher(ledger, {"s1": sub}, notify_settings(), lambda: len(rx.ok()) == 1)
    attempts = ledger.attempts(did)
    assert [a.ok for a in attempts] == [False, False, True]
    assert [a.status for a in attempts] == [500, 503, 200]
    assert len(rx.ok()) == 1
    assert {r.headers["webhook-id"] for r in rx.requests} == {did}


def test_dead_receiver_ends_in_the_dead_letters_with_its_last_error(
    tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    rx = receivers(script=[500] * 100)
    sub = make_sub("s1", "webhook", rx.url)
    ledger = Ledger(tmp_path / "l.sqlite3")
    (did,) = plan(ledger, make_alert(), [sub])
    clock = [time.time()]
    policy = RetryPolicy(base=10.0, max_delay=20.0, deadline=30.0)

    def advance() -> bool:
        clock[0] += 25.0  # each step jumps past any backoff: the deadline comes after 2 tries
        return ledger.get(did).status == "dead"  # type: ignore[union-attr]

    run_dispatcher(ledger, {"s1": sub}, notify_settings(), advance, policy=policy,
                   clock=lambda: clock[0])
    (dead,) = ledger.by_status("dead")
    assert dead.delivery_id == did
    assert dead.last_error == "HTTP 500"
    assert rx.ok() == []


def test_retry_after_of_a_429_is_honoured(
    tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    rx = receivers(script=[429], retry_after="120")
    sub = make_sub("s1", "webhook", rx.url)
    ledger = Ledger(tmp_path / "l.sqlite3")
    now = float(int(time.time()))  # whole seconds survive the trip through datetime
    (did,) = plan(ledger, make_alert(), [sub], now=datetime.fromtimestamp(now, UTC),
                  deadline_s=3600.0)
    policy = RetryPolicy(base=0.01, max_delay=0.05, deadline=3600.0)
    run_dispatcher(ledger, {"s1": sub}, notify_settings(), lambda: len(rx.requests) == 1,
                   policy=policy, clock=lambda: now)
    row = ledger.get(did)
    assert row is not None
    assert row.status == "pending"
    assert row.next_attempt >= now + 120  # not the 0.01 s backoff


def test_slow_receiver_does_not_delay_another_subscription(
    tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    slow, fast = receivers(script=[0, 0]), receivers()  # both of its requests hang
    subs = {"slow": make_sub("slow", "webhook", slow.url),
            "fast": make_sub("fast", "webhook", fast.url)}
    ledger = Ledger(tmp_path / "l.sqlite3")
    plan(ledger, make_alert(), list(subs.values()))
    plan(ledger, make_alert(MAIMANA, alert_id="alert-maimana"), list(subs.values()))

    def fast_done() -> bool:
        if len(fast.ok()) == 2 and not slow.release.is_set():
            assert slow.ok() == [], "the slow receiver answered first"
            slow.release.set()
        return len(slow.ok()) == 2

    run_dispatcher(ledger, subs, notify_settings(request_timeout=30), fast_done)
    assert slow.arrived.is_set()


def test_loopback_webhook_is_refused_unless_configured(
    tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    rx = receivers()
    sub = make_sub("s1", "webhook", rx.url)
    ledger = Ledger(tmp_path / "l.sqlite3")
    (did,) = plan(ledger, make_alert(), [sub])
    settings = NotifySettings(allow_private_targets=False)
    run_dispatcher(ledger, {"s1": sub}, settings,
                   lambda: ledger.get(did).status == "dead")  # type: ignore[union-attr]
    assert rx.requests == []
    assert "refused" in (ledger.get(did).last_error or "")  # type: ignore[union-attr]


def test_a_filter_mismatch_plans_nothing(tmp_path: Path) -> None:
    sub = make_sub("s1", "webhook", "https://desk.example/hook",
                   filters=SubscriptionFilter(countries=["ML"]))
    assert SubscriptionIndex([sub]).match(make_alert()) == []
