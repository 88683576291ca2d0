"""What each channel receives for a delivery: webhook JSON, chat (Slack-style) and e-mail.

Every rendering carries the evidence (outlet, title, sentence, URL) and the
delivery id, so a receiver can show why the alert was raised and drop a
repeat of the same delivery.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from email.message import EmailMessage
from json.encoder import encode_basestring_ascii as _quote
from typing import Any

from workers.notify.ledger import Delivery

EVENT_TYPES = {"alert": "alert.created", "update": "alert.updated", "digest": "alert.digest"}


def webhook_body(d: Delivery, now: datetime) -> dict[str, Any]:
    """`{"type", "timestamp", "delivery_id", "subscription_id", "data"}`.

    `data` is the alert for `alert.created`/`alert.updated`, and
    `{"alerts": [{"kind", "alert"} ...]}` for `alert.digest`.
    """
    data: dict[str, Any] = (
        {"alerts": list(d.items)} if d.kind == "digest" else dict(d.items[0]["alert"])
    )
    return {
        "type": EVENT_TYPES[d.kind],
        "timestamp": now.astimezone(UTC).isoformat(),
        "delivery_id": d.delivery_id,
        "subscription_id": d.subscription_id,
        "data": data,
    }


def webhook_data_json(d: Delivery) -> str:
    """The `data` member of `webhook_body` as JSON text: the part rows of one alert share."""
    data = {"alerts": list(d.items)} if d.kind == "digest" else d.items[0]["alert"]
    return json.dumps(data, ensure_ascii=False)


def webhook_json(d: Delivery, now: datetime, data_json: str | bytes) -> bytes:
    """`webhook_body(d, now)` encoded, around a `data` already encoded by `webhook_data_json`
    (as text, or as UTF-8 bytes: then the alert's ~1 KB is not copied once more per webhook).

    Same keys, order and separators as `json.dumps(webhook_body(d, now))`.
    """
    # Formatted, not json.dumps'd: this runs once per webhook. The strings are escaped by
    # json's own C escaper.
    head = (
        f'{{"type": "{EVENT_TYPES[d.kind]}", '
        f'"timestamp": "{now.astimezone(UTC).isoformat()}", '
        f'"delivery_id": {_quote(d.delivery_id)}, '
        f'"subscription_id": {_quote(d.subscription_id)}, "data": '
    ).encode()
    data = data_json.encode() if isinstance(data_json, str) else data_json
    return b"".join((head, data, b"}"))


def headline(item: dict[str, Any]) -> str:
    """'UPDATE entered: Taliban → Kunduz (Kunduz, AF), 2 source(s)'."""
    alert = item["alert"]
    cap = alert["capital"]
    tag = "UPDATE " if item["kind"] == "update" else ""
    return (
        f"{tag}{alert['kind']}: {alert['actor']} → {cap['name']} ({cap['province']}, "
        f"{cap['country']}), {len(alert['evidence'])} source(s)"
    )


def _evidence_lines(item: dict[str, Any]) -> list[str]:
    return [
        f"{e['source']}: \"{e['sentence']}\" {e['url']}" for e in item["alert"]["evidence"]
    ]


def chat_body(d: Delivery) -> dict[str, Any]:
    """Slack incoming-webhook payload: `text` (fallback) and `blocks`."""
    items = list(d.items)
    title = f"Digest: {len(items)} alert(s)" if d.kind == "digest" else headline(items[0])
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}}
    ]
    for item in items:
        section = {"type": "mrkdwn", "text": f"*{headline(item)}*"}
        blocks.append({"type": "section", "text": section})
        blocks.append({
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": line[:2000]} for line in _evidence_lines(item)]
            or [{"type": "mrkdwn", "text": "no evidence"}],
        })
    text = "\n".join([title] + [headline(i) for i in items] if d.kind == "digest" else [title])
    return {"text": text, "blocks": blocks[:50]}


def email_message(d: Delivery, sender: str, to: str) -> EmailMessage:
    """A multipart/alternative message, plain text and HTML, with the delivery id header."""
    items = list(d.items)
    subject = f"[news-ingest] digest: {len(items)} alert(s)" if d.kind == "digest" else (
        f"[news-ingest] {headline(items[0])}"
    )
    text_parts, html_parts = [], []
    for item in items:
        lines = "\n".join("  - " + ln for ln in _evidence_lines(item))
        text_parts.append(headline(item) + "\n" + lines)
        evidence = "".join(
            f"<li>{html.escape(e['source'])}: &ldquo;{html.escape(e['sentence'])}&rdquo; "
            f"<a href=\"{html.escape(e['url'], quote=True)}\">{html.escape(e['url'])}</a></li>"
            for e in item["alert"]["evidence"]
        )
        html_parts.append(f"<h3>{html.escape(headline(item))}</h3><ul>{evidence}</ul>")
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = to
    msg["Message-ID"] = f"<{d.delivery_id}@news-ingest>"
    msg["X-Delivery-Id"] = d.delivery_id
    msg.set_content("\n\n".join(text_parts) + f"\n\ndelivery {d.delivery_id}\n")
    msg.add_alternative(f"<html><body>{''.join(html_parts)}</body></html>", subtype="html")
    return msg
