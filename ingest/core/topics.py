"""The topic registry: every topic's name, payload type and key, in one place.

Topics are created explicitly from this registry (`news-ingest topics create`,
and at start-up of `run`/`worker`), never by the broker's auto-create, so that
partition counts come from settings. Each input topic has a dead-letter topic
`<name>.dlq` whose messages keep the original bytes and headers.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.core.models import (
    Alert,
    Article,
    Deduped,
    DeliveryRecord,
    Geotagged,
    Item,
    Payload,
    RawPage,
    Subscription,
)


@dataclass(frozen=True)
class Topic:
    """A topic, the payload it carries and what its key means."""

    name: str
    payload: type[Payload]
    key: str
    doc: str
    compacted: bool = False  # keyed state: the broker keeps the latest value per key

    @property
    def dlq(self) -> str:
        return f"{self.name}.dlq"


ITEMS = Topic("news.items", Item, "item_id", "articles discovered in feeds")
RAW = Topic("news.raw", RawPage, "item.item_id", "downloaded pages")
ARTICLES = Topic("news.articles", Article, "article_id", "extracted article text")
UNIQUE = Topic("news.unique", Deduped, "article.article_id", "first copies")
DUPLICATES = Topic("news.duplicates", Deduped, "article.article_id", "copies of earlier articles")
GEOTAGGED = Topic("news.geotagged", Geotagged, "article.article_id", "articles with places")
ALERTS = Topic("news.alerts", Alert, "capital.place_id", "incursions into provincial capitals")

SUBSCRIPTIONS = Topic(
    "news.subscriptions", Subscription, "subscription_id", "alert subscriptions", compacted=True
)
DELIVERIES = Topic(
    "news.deliveries", DeliveryRecord, "delivery_id", "alert delivery ledger", compacted=True
)

ALL: tuple[Topic, ...] = (
    ITEMS, RAW, ARTICLES, UNIQUE, DUPLICATES, GEOTAGGED, ALERTS, SUBSCRIPTIONS, DELIVERIES
)
BY_NAME: dict[str, Topic] = {t.name: t for t in ALL}


def all_topic_names() -> list[str]:
    """Every topic the service uses, dead-letter topics included."""
    names = [t.name for t in ALL]
    return names + [t.dlq for t in ALL]
