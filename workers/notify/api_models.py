"""Request and response bodies of the subscriptions API; the OpenAPI document uses them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ingest.core.models import QuietHours, Subscription, SubscriptionChannel, SubscriptionFilter


class SubscriptionIn(BaseModel):
    """What a client sends to create a subscription."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    channel: SubscriptionChannel
    target: str = Field(min_length=3, max_length=2000, description="URL, or e-mail address")
    secret: str | None = Field(
        default=None, description="webhook signing secret (whsec_...); generated when absent"
    )
    filters: SubscriptionFilter = Field(default_factory=SubscriptionFilter)
    quiet_hours: QuietHours | None = None
    digest_period_s: int | None = Field(default=None, ge=60)
    paused: bool = False


class SubscriptionPatch(BaseModel):
    """Fields to change; absent fields keep their value."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    target: str | None = Field(default=None, min_length=3, max_length=2000)
    filters: SubscriptionFilter | None = None
    quiet_hours: QuietHours | None = None
    digest_period_s: int | None = Field(default=None, ge=60)
    paused: bool | None = None


class SubscriptionOut(BaseModel):
    """A subscription as the API shows it: never with its secret."""

    subscription_id: str
    name: str
    channel: SubscriptionChannel
    target: str
    has_secret: bool
    filters: SubscriptionFilter
    quiet_hours: QuietHours | None
    digest_period_s: int | None
    paused: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, sub: Subscription) -> SubscriptionOut:
        data = sub.model_dump(exclude={"secret"})
        return cls(has_secret=sub.secret is not None, **data)


class SubscriptionCreated(SubscriptionOut):
    """The answer to a creation: the only time the signing secret is shown."""

    secret: str | None


class Problem(BaseModel):
    """An error answer."""

    status: int
    title: str
    detail: str | None = None


class RetryAccepted(BaseModel):
    delivery_id: str
    status: Literal["retry_requested"]
