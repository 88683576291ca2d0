"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

The signature is HMAC-SHA256 of `"{webhook-id}.{webhook-timestamp}.{body}"`
under the key in a `whsec_...` secret, base64-encoded after `v1,`; receivers
verify with any Standard Webhooks implementation (the tests use the
`standardwebhooks` library). Signed here over the body's bytes with one
`hmac.digest` call: the library's `sign` takes the body as text and builds a
datetime per call, which is most of its cost at one signature per webhook.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from functools import lru_cache

PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh signing secret: 24 random bytes, `whsec_` + base64."""
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


@lru_cache(maxsize=4096)
def secret_key(secret: str) -> bytes:
    """The HMAC key of a secret, decoded as the `standardwebhooks` library decodes it."""
    text = secret.removeprefix(PREFIX)
    try:
        key = base64.b64decode(text + "==")  # the padding an unpadded secret lacks
    except binascii.Error as exc:
        raise ValueError("webhook secret is not base64") from exc
    if not key:
        raise ValueError("webhook secret may not be empty")
    return key


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value: `v1,` + base64 HMAC-SHA256."""
    signed = b"%s.%d.%s" % (message_id.encode(), timestamp, body)
    return "v1," + base64.b64encode(hmac.digest(secret_key(secret), signed, "sha256")).decode()


def signature_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers of one signed webhook request."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, body),
    }
