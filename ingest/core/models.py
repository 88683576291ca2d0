"""Payload models: the one place where every message on a topic is typed.

Each model is one versioned payload (`ce_type`). Its JSON Schema is generated
from the model into `ingest/core/schemas/<ce_type>.json`, shipped in the package
and checked in tests. A breaking change is a new model with a new version,
never an edit of an existing one; adding an optional field is not breaking.

Nested models (`Item` inside `RawPage`, `Article` inside `Deduped` ...) carry
the upstream payload along so that each stage sees everything the earlier
stages knew, and a topic consumer needs to read only one topic.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Payload(BaseModel):
    """Base of every topic payload: immutable, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    ce_type: ClassVar[str]


# --- news.items ------------------------------------------------------------


class Item(Payload):
    """One article discovered in a feed. Key: `item_id`."""

    ce_type: ClassVar[str] = "news.item.v1"

    item_id: str = Field(description="sha256 of the canonical URL, hex, first 32 chars")
    url: str = Field(description="canonical article URL (tracking parameters removed)")
    guid: str | None = None
    feed_url: str
    feed_name: str
    title: str | None = None
    summary: str | None = Field(default=None, description="feed item summary, plain text")
    published: AwareDatetime | None = Field(
        default=None, description="publication time the feed gives, if any"
    )
    discovered_at: AwareDatetime


# --- news.raw --------------------------------------------------------------


class RawPage(Payload):
    """A downloaded article page. Key: `item.item_id`."""

    ce_type: ClassVar[str] = "news.raw.v1"

    item: Item
    final_url: str = Field(description="URL after redirects")
    status: int
    content_type: str | None = None
    encoding: str = Field(description="charset used to decode the body")
    html: str = Field(description="decoded page body (the producer compresses it)")
    truncated: bool = Field(default=False, description="body hit the size cap")
    fetched_at: AwareDatetime
    elapsed_ms: float


# --- news.articles ---------------------------------------------------------


ExtractionStatus = Literal["ok", "partial", "empty"]
PublishedSource = Literal["page", "feed", "fetched"]
PageKind = Literal["article", "video", "live_blog", "consent_wall", "paywall"]
LanguageSource = Literal["page", "detected"]


class Extraction(Payload):
    """How the article text was obtained."""

    ce_type: ClassVar[str] = "news.extraction.v1"

    status: ExtractionStatus
    reason: str | None = Field(default=None, description="why not 'ok', in plain words")
    extractor: str = "trafilatura"
    page_kind: PageKind = Field(
        default="article",
        description="what the page is: a news article, or a page that only looks like one",
    )


class Article(Payload):
    """The cleaned article. Key: `article_id` (same as the item id)."""

    ce_type: ClassVar[str] = "news.article.v1"

    article_id: str
    url: str = Field(description="the page's final URL")
    canonical_url: str
    feed_url: str
    source: str = Field(description="site name, else the feed's name")
    title: str | None = None
    authors: list[str] = Field(default_factory=list)
    text: str = Field(description="main text, paragraphs separated by a blank line")
    language: str | None = None
    language_source: LanguageSource | None = Field(
        default=None, description="'page' when the page declares it, 'detected' from the text"
    )
    published: AwareDatetime
    published_source: PublishedSource
    fetched_at: AwareDatetime
    extraction: Extraction


# --- news.unique / news.duplicates -----------------------------------------


DuplicateMatch = Literal["url", "text", "near"]


class Deduped(Payload):
    """An article with its dedupe verdict. Key: `article.article_id`.

    On `news.unique`, `duplicate_of` is null; on `news.duplicates` it names the
    first article this one copies and `match` says how it was recognised.
    """

    ce_type: ClassVar[str] = "news.deduped.v1"

    article: Article
    text_hash: str = Field(description="sha256 of the normalised text, hex")
    story_id: str = Field(description="groups copies (and later, reports) of one story")
    duplicate_of: str | None = None
    match: DuplicateMatch | None = None


# --- news.geotagged --------------------------------------------------------


PlaceType = Literal["capital", "province", "country", "other"]


class Place(Payload):
    """One place mention in an article's text."""

    ce_type: ClassVar[str] = "news.place.v1"

    place_id: str = Field(description="stable id: 'geonames:<id>' or the gazetteer's own")
    name: str = Field(description="the gazetteer's preferred name")
    matched: str = Field(description="the text as it appears in the article")
    type: PlaceType
    country: str = Field(description="ISO 3166-1 alpha-2")
    province: str | None = Field(default=None, description="province (admin-1) name")
    iso_3166_2: str | None = None
    geonames_id: int | None = None
    lat: float | None = None
    lon: float | None = None
    start: int = Field(description="character offset in article.text")
    end: int
    confidence: float = Field(ge=0.0, le=1.0)
    decided_by: str = Field(description="the cue that decided the type, e.g. 'province-word'")


class Geotagged(Payload):
    """A unique article with its places. Key: `article.article_id`."""

    ce_type: ClassVar[str] = "news.geotagged.v1"

    article: Article
    story_id: str
    places: list[Place]
    focus_countries: list[str] = Field(description="ISO alpha-2, most mentioned first")


# --- news.alerts -----------------------------------------------------------


AlertKind = Literal["threatened", "entered", "captured"]


class Capital(Payload):
    """The provincial capital an alert is about."""

    ce_type: ClassVar[str] = "news.capital.v1"

    place_id: str
    name: str
    province: str
    country: str = Field(description="ISO 3166-1 alpha-2")
    lat: float
    lon: float
    geonames_id: int | None = None


class Evidence(Payload):
    """One sentence of one article that supports an alert."""

    ce_type: ClassVar[str] = "news.evidence.v1"

    article_id: str
    url: str
    source: str
    title: str | None = None
    sentence: str
    published: AwareDatetime


class Alert(Payload):
    """A development in a provincial capital's control. Key: `capital.place_id`.

    Published as `news.alert.v1` when the development is new, and again as
    `news.alert.updated.v1` (same `alert_id`) each time another report
    corroborates it; an update carries all the evidence so far.
    """

    ce_type: ClassVar[str] = "news.alert.v1"
    updated_ce_type: ClassVar[str] = "news.alert.updated.v1"

    alert_id: str = Field(description="deterministic: the same development always has this id")
    kind: Literal["threatened", "entered", "captured", "retaken"] = Field(
        description="'retaken': the government regained control of the capital"
    )
    actor: str
    capital: Capital
    confidence: float = Field(ge=0.0, le=1.0)
    reported_at: AwareDatetime = Field(description="publication time of the first report")
    detected_at: AwareDatetime
    evidence: list[Evidence]
    sources: int = Field(
        default=1,
        ge=1,
        description="independent sources: copies sharing a story or an outlet count once",
    )
    outlets: list[str] = Field(default_factory=list, description="outlets that reported it")
    story_ids: list[str] = Field(default_factory=list, description="distinct stories reporting it")
    first_reported_at: AwareDatetime | None = Field(
        default=None, description="publication time of the earliest report seen so far"
    )
    latest_reported_at: AwareDatetime | None = Field(
        default=None, description="publication time of the latest report seen so far"
    )


PAYLOADS: tuple[type[Payload], ...] = (Item, RawPage, Article, Deduped, Geotagged, Alert)
"""Every top-level payload that travels on a topic."""


def utc_now() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


# --- news.subscriptions / news.deliveries (issue 7) -------------------------


SubscriptionChannel = Literal["webhook", "chat", "email"]
DeliveryKind = Literal["alert", "update", "digest"]
DeliveryStatus = Literal["pending", "delivered", "failed", "dead", "retry_requested"]


class QuietHours(Payload):
    """Local hours in which nothing is sent; what matched is sent as a digest at `end`."""

    ce_type: ClassVar[str] = "news.quiet-hours.v1"

    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM, local time")
    end: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM, local time")
    timezone: str = Field(default="UTC", description="IANA zone name, e.g. 'Asia/Kabul'")


class SubscriptionFilter(Payload):
    """What a subscription wants; an empty list means 'any'."""

    ce_type: ClassVar[str] = "news.subscription-filter.v1"

    countries: list[str] = Field(default_factory=list, description="ISO 3166-1 alpha-2")
    provinces: list[str] = Field(default_factory=list, description="province names")
    capitals: list[str] = Field(default_factory=list, description="capital names or place ids")
    kinds: list[AlertKind] = Field(default_factory=list, description="a set of kinds")
    min_kind: AlertKind | None = Field(
        default=None, description="minimum severity: threatened < entered < captured"
    )
    actors: list[str] = Field(default_factory=list)
    min_confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    min_sources: int = Field(
        default=1, ge=1, le=100, description="independent sources needed before delivery"
    )


class Subscription(Payload):
    """One subscriber's wishes and destination. Key: `subscription_id`; a tombstone removes it.

    `secret` signs webhooks (Standard Webhooks `whsec_...`) and is never returned
    by the API after creation nor logged; anyone who can read the
    `news.subscriptions` topic can read it, so restrict that topic's ACLs.
    """

    ce_type: ClassVar[str] = "news.subscription.v1"

    subscription_id: str
    name: str
    channel: SubscriptionChannel
    target: str = Field(description="webhook or chat URL, or e-mail address")
    secret: str | None = Field(default=None, description="webhook signing secret")
    filters: SubscriptionFilter = Field(default_factory=SubscriptionFilter)
    quiet_hours: QuietHours | None = None
    digest_period_s: int | None = Field(
        default=None, ge=60, description="digest mode: one message per period of this length"
    )
    paused: bool = False
    created_at: AwareDatetime
    updated_at: AwareDatetime


class DeliveryRecord(Payload):
    """The latest state of one delivery. Key: `delivery_id` (the idempotency key)."""

    ce_type: ClassVar[str] = "news.delivery.v1"

    delivery_id: str = Field(description="hash of (alert or update or digest, subscription)")
    subscription_id: str
    channel: SubscriptionChannel
    kind: DeliveryKind
    alert_ids: list[str]
    status: DeliveryStatus
    attempts: int = Field(ge=0)
    last_error: str | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime


PAYLOADS = (*PAYLOADS, Subscription, DeliveryRecord)
