"""alert: news.geotagged → news.alerts, developments in provincial capitals' control.

consume:   `news.geotagged` (Geotagged)
transform: `detect_incursions` finds (actor, kind, capital, sentence) events in
           the text; the durable `AlertBook` keeps each capital's control
           state in event time and decides which reports are new developments
           and which corroborate one. Replaying an article returns the same
           messages (same ids), so a crash between produce and commit repeats
           nothing downstream.
produce:   `news.alerts`, keyed by the capital's place id: `news.alert.v1` for a
           new development, `news.alert.updated.v1` (same `alert_id`) for a
           corroborating report
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from ingest.core.models import Geotagged, Place
from ingest.core.runtime import Inbound, OneByOne, Output
from ingest.core.settings import ActorConfig, Settings
from ingest.core.topics import ALERTS, GEOTAGGED
from workers.alert.book import AlertBook
from workers.alert.detect import detect_incursions
from workers.geotag.gazetteer import Gazetteer

log = structlog.get_logger()


def seats_for_capital_phrases(places: Sequence[Place], gazetteer: Gazetteer) -> list[Place]:
    """Turn "the capital of Takhar" (a province mention) into a mention of Taloqan.

    The geotagger types the province in that phrase as a province, which is
    right for geography; for incursions the phrase names the seat.
    """
    result: list[Place] = []
    for place in places:
        seat = gazetteer.seat_of(place.place_id) if place.decided_by == "capital-of" else None
        if place.type == "province" and seat is not None:
            result.append(
                place.model_copy(
                    update={
                        "place_id": seat.place_id,
                        "name": seat.name,
                        "type": "capital",
                        "geonames_id": seat.geonames_id,
                        "lat": seat.lat,
                        "lon": seat.lon,
                    }
                )
            )
        else:
            result.append(place)
    return result


class AlertStage(OneByOne):
    name = "alert"
    input = GEOTAGGED

    def __init__(self, book: AlertBook, gazetteer: Gazetteer, actors: Sequence[ActorConfig]):
        self.book = book
        self.gazetteer = gazetteer
        self.actors = list(actors)

    def handle(self, inbound: Inbound) -> Sequence[Output]:
        tagged = inbound.payload_as(Geotagged)
        article = tagged.article
        places = seats_for_capital_phrases(tagged.places, self.gazetteer)
        incursions = detect_incursions(article, places, self.actors)
        # Every article moves the watermark, so decide even without incursions.
        published = self.book.decide(article, incursions, tagged.story_id)
        log.info(
            "article_checked",
            article_id=article.article_id,
            incursions=len(incursions),
            published=[f"{p.alert.capital.name}:{p.alert.kind}:{p.ce_type}" for p in published],
        )
        return [
            Output(ALERTS, p.alert.capital.place_id, p.alert, id=p.event_id, ce_type=p.ce_type)
            for p in published
        ]

    def close(self) -> None:
        self.book.close()


def build(settings: Settings) -> AlertStage:
    gazetteer = Gazetteer.load()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    book = AlertBook(
        settings.data_dir / "alerts.sqlite3",
        gazetteer.capital,
        quiet_period=settings.alert.quiet_period,
        horizon=settings.alert.horizon,
    )
    return AlertStage(book, gazetteer, settings.alert.actors)
