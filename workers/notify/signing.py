"""Standard Webhooks signatures (https://www.standardwebhooks.com/), via its library.

The library signs `"{webhook-id}.{webhook-timestamp}.{body}"` with HMAC-SHA256
under the key in a `whsec_...` secret; receivers verify with any Standard
Webhooks implementation.
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime
from functools import lru_cache

from standardwebhooks.webhooks import Webhook

PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh signing secret: 24 random bytes, `whsec_` + base64."""
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


@lru_cache(maxsize=4096)
def _signer(secret: str) -> Webhook:
    return Webhook(secret)  # decodes the secret's key once per subscription, not per request


def signature_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers of one signed webhook request."""
    signed_at = datetime.fromtimestamp(timestamp, UTC)
    signature = _signer(secret).sign(message_id, signed_at, body.decode("utf-8"))
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }
