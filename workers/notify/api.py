"""The subscriptions HTTP API (aiohttp): CRUD, delivery dead letters, the SSE alert stream.

Every `/subscriptions` and `/deliveries` route needs `Authorization: Bearer
<token>`; only the sha256 of each accepted token is configured
(`notify.api_token_sha256`), and tokens are compared in constant time. Writes
go to the compacted `news.subscriptions` topic (acknowledged by the broker
before the answer), so every notify process sees them. A signing secret is
returned once, in the creation answer, and never logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import structlog
from aiohttp import web
from pydantic import BaseModel, ValidationError

from ingest.core.models import DeliveryRecord, Subscription
from ingest.core.settings import Settings
from ingest.core.topics import DELIVERIES, SUBSCRIPTIONS
from workers.notify.api_models import (
    Problem,
    RetryAccepted,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionOut,
    SubscriptionPatch,
)
from workers.notify.channels import TargetRefused, check_target
from workers.notify.keyed_view import KeyedView, KeyedWriter
from workers.notify.openapi import openapi_document
from workers.notify.signing import new_secret
from workers.notify.sse import alert_stream

log = structlog.get_logger()
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def token_hash(token: str) -> str:
    """What goes into `notify.api_token_sha256` for a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _problem(status: int, title: str, detail: str | None = None) -> web.Response:
    body = Problem(status=status, title=title, detail=detail).model_dump_json()
    headers = {"WWW-Authenticate": 'Bearer realm="news-ingest"'} if status == 401 else None
    return web.Response(
        status=status, text=body, content_type="application/problem+json", headers=headers
    )


def _json(model: BaseModel | list[BaseModel], status: int = 200) -> web.Response:
    if isinstance(model, list):
        text = "[" + ",".join(m.model_dump_json() for m in model) + "]"
    else:
        text = model.model_dump_json()
    return web.Response(status=status, text=text, content_type="application/json")


class SubscriptionsApi:
    """The app's state: the two views, the writer and the accepted token hashes."""

    def __init__(
        self, settings: Settings, subs: KeyedView[Subscription],
        deliveries: KeyedView[DeliveryRecord], writer: KeyedWriter,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.subs = subs
        self.deliveries = deliveries
        self.writer = writer
        self.clock = clock
        self.token_hashes = [h.lower() for h in settings.notify.api_token_sha256]

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth])
        r = app.router
        r.add_get("/openapi.json", self.openapi)
        r.add_get("/healthz", self.health)
        r.add_get("/alerts/stream", self.stream)
        r.add_get("/subscriptions", self.list_subs)
        r.add_post("/subscriptions", self.create)
        r.add_get("/subscriptions/{sid}", self.show)
        r.add_patch("/subscriptions/{sid}", self.patch)
        r.add_delete("/subscriptions/{sid}", self.remove)
        r.add_get("/deliveries", self.list_deliveries)
        r.add_post("/deliveries/{did}/retry", self.retry)
        return app

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(("/subscriptions", "/deliveries")) and not self._authorised(
            request.headers.get("Authorization", "")
        ):
            log.warning("api_unauthorised", method=request.method, path=request.path)
            return _problem(401, "a valid API token is required")
        return await handler(request)

    def _authorised(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        digest = token_hash(token.strip())
        # compare against every hash so timing does not reveal which one matched
        found = False
        for known in self.token_hashes:
            found |= hmac.compare_digest(digest, known)
        return found

    async def openapi(self, _request: web.Request) -> web.Response:
        return web.json_response(openapi_document())

    async def health(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def stream(self, request: web.Request) -> web.StreamResponse:
        return await alert_stream(request, self.settings.kafka)

    async def _refresh(self) -> None:
        await asyncio.to_thread(self.subs.refresh)

    async def list_subs(self, _request: web.Request) -> web.Response:
        await self._refresh()
        subs = sorted(self.subs.values(), key=lambda s: s.created_at)
        return _json([SubscriptionOut.of(s) for s in subs])

    async def show(self, request: web.Request) -> web.Response:
        await self._refresh()
        sub = self.subs.get(request.match_info["sid"])
        if sub is None:
            return _problem(404, "no such subscription")
        return _json(SubscriptionOut.of(sub))

    async def _body(self, request: web.Request, cls: type[BaseModel]) -> BaseModel | web.Response:
        try:
            return cls.model_validate_json(await request.read())
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            return _problem(422, "invalid request body", f"{where}: {first['msg']}")

    def _check_target(self, channel: str, target: str) -> str | None:
        if channel == "email":
            return None if "@" in target and " " not in target else "not an e-mail address"
        try:
            check_target(target, self.settings.notify.allow_private_targets)
        except (TargetRefused, ValueError) as exc:
            return str(exc)
        return None

    async def create(self, request: web.Request) -> web.Response:
        body = await self._body(request, SubscriptionIn)
        if isinstance(body, web.Response):
            return body
        assert isinstance(body, SubscriptionIn)
        if problem := self._check_target(body.channel, body.target):
            return _problem(422, "target refused", problem)
        now = datetime.fromtimestamp(self.clock(), UTC)
        secret = body.secret if body.channel != "webhook" else (body.secret or new_secret())
        sub = Subscription(
            subscription_id="sub_" + secrets.token_hex(8),
            **body.model_dump(exclude={"secret"}), secret=secret,
            created_at=now, updated_at=now,
        )
        await asyncio.to_thread(self.writer.put, SUBSCRIPTIONS, sub.subscription_id, sub)
        await self._refresh()
        log.info("subscription_created", subscription_id=sub.subscription_id, channel=sub.channel)
        created = SubscriptionCreated(**SubscriptionOut.of(sub).model_dump(), secret=secret)
        return _json(created, status=201)

    async def patch(self, request: web.Request) -> web.Response:
        body = await self._body(request, SubscriptionPatch)
        if isinstance(body, web.Response):
            return body
        assert isinstance(body, SubscriptionPatch)
        await self._refresh()
        sub = self.subs.get(request.match_info["sid"])
        if sub is None:
            return _problem(404, "no such subscription")
        changes = body.model_dump(exclude_unset=True)
        if "target" in changes and (problem := self._check_target(sub.channel, changes["target"])):
            return _problem(422, "target refused", problem)
        changes["updated_at"] = datetime.fromtimestamp(self.clock(), UTC)
        updated = Subscription.model_validate({**sub.model_dump(), **changes})
        await asyncio.to_thread(self.writer.put, SUBSCRIPTIONS, sub.subscription_id, updated)
        await self._refresh()
        log.info("subscription_changed", subscription_id=sub.subscription_id,
                 fields=sorted(changes))
        return _json(SubscriptionOut.of(updated))

    async def remove(self, request: web.Request) -> web.Response:
        await self._refresh()
        sid = request.match_info["sid"]
        if self.subs.get(sid) is None:
            return _problem(404, "no such subscription")
        await asyncio.to_thread(self.writer.delete, SUBSCRIPTIONS, sid)
        await self._refresh()
        log.info("subscription_removed", subscription_id=sid)
        return web.Response(status=204)

    async def list_deliveries(self, request: web.Request) -> web.Response:
        await asyncio.to_thread(self.deliveries.refresh)
        status = request.query.get("status")
        records = [r for r in self.deliveries.values() if status is None or r.status == status]
        records.sort(key=lambda r: r.updated_at)
        return _json(list(records))

    async def retry(self, request: web.Request) -> web.Response:
        await asyncio.to_thread(self.deliveries.refresh)
        did = request.match_info["did"]
        record = self.deliveries.get(did)
        if record is None:
            return _problem(404, "no such delivery")
        if record.status != "dead":
            return _problem(409, "only dead deliveries can be retried", f"status {record.status}")
        now = datetime.fromtimestamp(self.clock(), UTC)
        again = record.model_copy(update={"status": "retry_requested", "updated_at": now})
        await asyncio.to_thread(self.writer.put, DELIVERIES, did, again)
        log.info("delivery_retry_requested", delivery_id=did)
        return _json(RetryAccepted(delivery_id=did, status="retry_requested"), status=202)
