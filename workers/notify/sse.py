"""`GET /alerts/stream`: Server-Sent Events of `news.alerts`, filtered, resumable.

Each event's id is a cursor naming the next offset of every partition
(`0:12,1:5,...`); a client that reconnects with `Last-Event-ID` (or
`?last_event_id=`) resumes exactly after the last event it saw. Without one the
stream starts at the end (new alerts only), or at the beginning with
`?from=beginning`. Query filters are those of a subscription: `countries`,
`provinces`, `capitals`, `kinds`, `actors` (comma-separated), `min_kind`,
`min_confidence`, `min_sources`. Each client has its own consumer, closed
when the client goes away.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping

from aiohttp import web
from kafka import KafkaConsumer, TopicPartition
from pydantic import ValidationError

from ingest.core.envelope import DecodeError, decode
from ingest.core.models import Alert, SubscriptionFilter
from ingest.core.settings import KafkaSettings
from ingest.core.topics import ALERTS
from workers.notify.filters import CompiledFilter, independent_sources

_LISTS = ("countries", "provinces", "capitals", "kinds", "actors")
_SCALARS = ("min_kind", "min_confidence", "min_sources")
KEEPALIVE_S = 15.0


def filter_from_query(query: Mapping[str, str]) -> SubscriptionFilter:
    """Query parameters → a subscription filter; raises `ValidationError` when invalid."""
    data: dict[str, object] = {}
    for name in _LISTS:
        if query.get(name):
            data[name] = [v.strip() for v in query[name].split(",") if v.strip()]
    for name in _SCALARS:
        if query.get(name):
            data[name] = query[name]
    return SubscriptionFilter.model_validate(data)


def parse_cursor(text: str) -> dict[int, int]:
    """'0:12,1:5' → {0: 12, 1: 5}; raises ValueError when malformed."""
    cursor: dict[int, int] = {}
    for part in text.split(","):
        p, _, o = part.partition(":")
        cursor[int(p)] = int(o)
    return cursor


def format_cursor(cursor: Mapping[int, int]) -> str:
    return ",".join(f"{p}:{o}" for p, o in sorted(cursor.items()))


async def alert_stream(
request: web.Request, kafka: KafkaSettings) -> web.StreamResponse:
    try:
        compiled = CompiledFilter.of(filter_from_query(request.query))
        last = request.headers.get("Last-Event-ID") or request.query.get("last_event_id")
        cursor = parse_cursor(last) if last else None
    except (ValidationError, ValueError) as exc:
        return web.json_response({"status": 400, "title": "bad stream request",
                                  "detail": str(exc).splitlines()[0]}, status=400)
    consumer = KafkaConsumer(
        bootstrap_servers=(kafka.bootstrap_servers or "").split(","),
        client_id=f"{kafka.client_id}-sse", enable_auto_commit=False,
    )
    try:
        tps = [TopicPartition(ALERTS.name, p)
               for p in sorted(consumer.partitions_for_topic(ALERTS.name) or {0})]
        consumer.assign(tps)
        if cursor is not None:
            for tp in tps:
                consumer.seek(tp, cursor.get(tp.partition, 0))
        elif request.query.get("from") == "beginning":
            consumer.seek_to_beginning(*tps)
        else:
            consumer.seek_to_end(*tps)
        position = {tp.partition: consumer.position(tp) for tp in tps}
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        })
        await response.prepare(request)
        await response.write(b": stream open\n\n")
        idle = 0.0
        while True:
            polled = await asyncio.to_thread(consumer.poll, 500)
            if not polled:
                idle += 0.5
                if idle >= KEEPALIVE_S:
                    await response.write(b": keep-alive\n\n")
                    idle = 0.0
                continue
            idle = 0.0
            for records in polled.values():
                for record in records:
                    position[record.partition] = record.offset + 1
                    chunk = _event(record, compiled, position)
                    if chunk:
                        await response.write(chunk)
    finally:
        await asyncio.to_thread(consumer.close)


def _event(record: object, compiled: CompiledFilter, position: Mapping[int, int]) -> bytes:
    try:
        event = decode(record.value, record.headers or [])  # type: ignore[attr-defined]
    except DecodeError:
        return b""
    alert = event.payload
    if not isinstance(alert, Alert) or not compiled.matches(alert, independent_sources(alert)):
        return b""
    name = "alert.created" if event.type == Alert.ce_type else "alert.updated"
    data = json.dumps(alert.model_dump(mode="json"), ensure_ascii=False)
    return f"id: {format_cursor(position)}\nevent: {name}\ndata: {data}\n\n".encode()
