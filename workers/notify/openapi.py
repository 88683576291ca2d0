"""The OpenAPI 3.1 document of the subscriptions API, built from its pydantic models."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel

from ingest.core.models import DeliveryRecord
from workers.notify.api_models import (
    Problem,
    RetryAccepted,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionOut,
    SubscriptionPatch,
)

_MODELS: tuple[type[BaseModel], ...] = (
    SubscriptionIn, SubscriptionPatch, SubscriptionOut, SubscriptionCreated, Problem,
    RetryAccepted, DeliveryRecord,
)
_REF = "#/components/schemas/{model}"


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _answer(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    if schema is None:
        return {"description": description}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_UNAUTHORISED = _answer("no valid API token", _ref(Problem))
_NOT_FOUND = _answer("unknown id", _ref(Problem))
_SECURED: list[dict[str, list[str]]] = [{"bearer": []}]


@cache
def openapi_document() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in _MODELS:
        schema = model.model_json_schema(ref_template=_REF, mode="serialization")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    sid = {"name": "sid", "in": "path", "required": True, "schema": {"type": "string"}}
    did = {"name": "did", "in": "path", "required": True, "schema": {"type": "string"}}
    body = {"required": True, "content": {"application/json": {"schema": _ref(SubscriptionIn)}}}
    patch = {"required": True,
             "content": {"application/json": {"schema": _ref(SubscriptionPatch)}}}
    listing = {"type": "array", "items": _ref(SubscriptionOut)}
    stream_params = [
        {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
        for n in ("countries", "provinces", "capitals", "kinds", "actors", "min_kind",
                  "min_confidence", "min_sources", "from", "last_event_id")
    ]
    return {
        "openapi": "3.1.0",
        "info": {"title": "news-ingest subscriptions", "version": "1"},
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/subscriptions": {
                "get": {"summary": "List subscriptions", "security": _SECURED,
                        "responses": {"200": _answer("subscriptions", listing),
                                      "401": _UNAUTHORISED}},
                "post": {"summary": "Create a subscription (the secret is shown only here)",
                         "security": _SECURED, "requestBody": body,
                         "responses": {"201": _answer("created", _ref(SubscriptionCreated)),
                                       "401": _UNAUTHORISED,
                                       "422": _answer("invalid", _ref(Problem))}},
            },
            "/subscriptions/{sid}": {
                "parameters": [sid],
                "get": {"summary": "Show a subscription", "security": _SECURED,
                        "responses": {"200": _answer("found", _ref(SubscriptionOut)),
                                      "401": _UNAUTHORISED, "404": _NOT_FOUND}},
                "patch": {"summary": "Change, pause or resume a subscription",
                          "security": _SECURED, "requestBody": patch,
                          "responses": {"200": _answer("changed", _ref(SubscriptionOut)),
                                        "401": _UNAUTHORISED, "404": _NOT_FOUND}},
                "delete": {"summary": "Remove a subscription", "security": _SECURED,
                           "responses": {"204": _answer("removed"), "401": _UNAUTHORISED,
                                         "404": _NOT_FOUND}},
            },
            "/deliveries": {
                "get": {"summary": "Delivery records (e.g. ?status=dead)", "security": _SECURED,
                        "parameters": [{"name": "status", "in": "query", "required": False,
                                        "schema": {"type": "string"}}],
                        "responses": {"200": _answer("records", {"type": "array",
                                                                 "items": _ref(DeliveryRecord)}),
                                      "401": _UNAUTHORISED}},
            },
            "/deliveries/{did}/retry": {
                "parameters": [did],
                "post": {"summary": "Send a dead delivery again", "security": _SECURED,
                         "responses": {"202": _answer("queued", _ref(RetryAccepted)),
                                       "401": _UNAUTHORISED, "404": _NOT_FOUND,
                                       "409": _answer("not dead", _ref(Problem))}},
            },
            "/alerts/stream": {
                "get": {"summary": "Server-Sent Events of alerts; resume with Last-Event-ID",
                        "parameters": stream_params,
                        "responses": {"200": {"description": "event stream",
                                              "content": {"text/event-stream": {}}}}},
            },
        },
    }
