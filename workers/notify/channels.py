"""Sending one delivery over its channel: signed webhook, chat webhook, or SMTP e-mail.

`Senders` owns one aiohttp session (created in the dispatcher's event loop,
closed by `close()`). Each send returns a `SendResult` and never raises for a
receiver's fault: the dispatcher decides about retries. Webhook and chat
targets on private, loopback or link-local addresses are refused unless
`allow_private_targets` is set; the check runs where aiohttp resolves the
host, so DNS cannot point a public name at a private address unnoticed.
"""

from __future__ import annotations

import asyncio
import json
import smtplib
import socket
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from ingest.core.http_client import is_public_address, retry_after_seconds
from ingest.core.models import Subscription
from ingest.core.settings import NotifySettings
from workers.notify.ledger import Delivery
from workers.notify.messages import chat_body, email_message, webhook_data_json, webhook_json
from workers.notify.signing import signature_headers


@dataclass(frozen=True, slots=True)
class SendResult:
    """Outcome of one attempt. `permanent` failures are not retried."""

    ok: bool
    status: int | None = None
    error: str | None = None
    retry_after: float | None = None
    permanent: bool = False


class TargetRefused(ValueError):
    """A webhook target the configuration does not allow (e.g. a private address)."""


def check_target(url: str, allow_private: bool) -> None:
    """Refuse non-http(s) URLs and, unless allowed, literal non-public addresses."""
    target = URL(url)
    if target.scheme not in ("http", "https") or not target.host:
        raise TargetRefused(f"not an http(s) URL: {url}")
    if allow_private:
        return
    if target.host in ("localhost", "localhost.localdomain"):
        raise TargetRefused(f"refused loopback target {target.host}")
    try:
        public = is_public_address(target.host)
    except ValueError:
        return  # a host name: the resolver checks its addresses at connect time
    if not public:
        raise TargetRefused(f"refused non-public address {target.host}")


class _PrivateTarget(OSError):
    pass


class _GuardedResolver(AbstractResolver):
    def __init__(self, allow_private: bool) -> None:
        self._inner = DefaultResolver()
        self._allow = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not self._allow and any(not is_public_address(r["host"]) for r in results):
            raise _PrivateTarget(f"{host} resolves to a non-public address")
        return results

    async def close(self) -> None:
        await self._inner.close()


class Senders:
    """Owns the HTTP session for webhook and chat deliveries; SMTP connects per message."""

    def __init__(self, settings: NotifySettings, user_agent: str = "news-ingest-notify") -> None:
        self.settings = settings
        self.user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None
        self._checked: set[str] = set()  # targets that passed `check_target`
        # id(items) -> (items, its `data` JSON as UTF-8): rows of one alert share their items
        # tuple (see `ItemsCache`), so its ~13 webhooks encode the alert once. The tuple is
        # kept alongside, so its id cannot be reused by another object while cached.
        self._data: dict[int, tuple[object, bytes]] = {}

    def _data_json(self, d: Delivery) -> bytes:
        if d.kind == "digest":
            return webhook_data_json(d).encode()
        known = self._data.get(id(d.items))
        if known is None or known[0] is not d.items:
            if len(self._data) >= 512:
                del self._data[next(iter(self._data))]
            known = self._data[id(d.items)] = (d.items, webhook_data_json(d).encode())
        return known[1]

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                resolver=_GuardedResolver(self.settings.allow_private_targets),
                # Keep-alive connections, reused per receiver host; each subscription has
                # at most one request in flight, so this bounds the connections too.
                limit=self.settings.max_in_flight, limit_per_host=0, keepalive_timeout=30,
            )
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": self.user_agent},
                cookie_jar=aiohttp.DummyCookieJar(), trust_env=False,
                # `_post` bounds each request with asyncio.timeout: no second timer here.
                timeout=aiohttp.ClientTimeout(total=None),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, sub: Subscription, d: Delivery, now: datetime) -> SendResult:
        if sub.channel == "email":
            return await self._email(sub, d)
        if sub.target not in self._checked:
            try:
                check_target(sub.target, self.settings.allow_private_targets)
            except TargetRefused as exc:
                return SendResult(ok=False, error=str(exc), permanent=True)
            if len(self._checked) >= 4096:
                self._checked.clear()
            self._checked.add(sub.target)
        if sub.channel == "chat":
            body = json.dumps(chat_body(d)).encode()
            return await self._post(sub.target, body, {})
        body = webhook_json(d, now, self._data_json(d))
        headers = signature_headers(sub.secret or "", d.delivery_id, int(now.timestamp()), body)
        return await self._post(sub.target, body, headers)

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> SendResult:
        timeout = self.settings.request_timeout.total_seconds()
        try:
            async with asyncio.timeout(timeout):
                async with self._get_session().post(
                    url, data=body, allow_redirects=False,
                    headers={"Content-Type": "application/json", **headers},
                ) as resp:
                    await resp.read()
                    if 200 <= resp.status < 300:
                        return SendResult(ok=True, status=resp.status)
                    wait = None
                    if resp.status in (429, 503):
                        wait = retry_after_seconds(resp.headers.get("Retry-After"))
                    return SendResult(
                        ok=False, status=resp.status, error=f"HTTP {resp.status}",
                        retry_after=wait, permanent=resp.status == 410,
                    )
        except TimeoutError:
            return SendResult(ok=False, error=f"timeout after {timeout:g} s")
        except aiohttp.ClientConnectorDNSError as exc:
            if isinstance(exc.os_error, _PrivateTarget):
                return SendResult(ok=False, error=str(exc.os_error), permanent=True)
            return SendResult(ok=False, error=f"DNS failure ({type(exc).__name__})")
        except (aiohttp.ClientError, OSError) as exc:
            return SendResult(ok=False, error=f"connection error ({type(exc).__name__})")

    async def _email(self, sub: Subscription, d: Delivery) -> SendResult:
        msg = email_message(d, self.settings.smtp.sender, sub.target)
        try:
            await asyncio.to_thread(self._smtp_send, msg)
        except smtplib.SMTPResponseException as exc:
            return SendResult(
                ok=False, status=exc.smtp_code, error=f"SMTP {exc.smtp_code}",
                permanent=exc.smtp_code >= 500,
            )
        except smtplib.SMTPRecipientsRefused:
            return SendResult(ok=False, error="SMTP recipient refused", permanent=True)
        except (smtplib.SMTPException, OSError) as exc:
            return SendResult(ok=False, error=f"SMTP failure ({type(exc).__name__})")
        return SendResult(ok=True, status=250)

    def _smtp_send(self, msg: EmailMessage) -> None:
        smtp = self.settings.smtp
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout.total_seconds()) as client:
            if smtp.starttls:
                client.starttls()
            if smtp.username and smtp.password is not None:
                client.login(smtp.username, smtp.password.get_secret_value())
            client.send_message(msg)
