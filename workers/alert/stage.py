"""alert: news.geotagged → news.alerts, new incursions into provincial capitals.

consume:   `news.geotagged` (Geotagged)
transform: `detect_incursions` finds (actor, kind, capital, sentence) events in
           the text; the durable `AlertBook` keeps each capital's alerts and
           decides which events are new developments. Replaying the article
           that triggered an alert returns the same alert (same `alert_id`), so
           a crash between produce and commit repeats nothing downstream.
produce:   `news.alerts` (Alert), keyed by the capital's place id
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from ingest.core.models import Alert, Geotagged, Place
from ingest.core.runtime import Inbound, OneByOne, Output
from ingest.core.settings import ActorConfig, Settings
from ingest.core.topics import ALERTS, GEOTAGGED
from workers.alert.detect import detect_incursions
from workers.alert.novelty import AlertBook
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
        alerts: list[Alert] = self.book.decide(article, incursions) if incursions else []
        log.info(
            "article_checked",
            article_id=article.article_id,
            incursions=len(incursions),
            alerts=[f"{a.capital.name}:{a.kind}" for a in alerts],
        )
        return [Output(ALERTS, a.capital.place_id, a, id=a.alert_id) for a in alerts]

    def close(self) -> None:
        self.book.close()


def build(settings: Settings) -> AlertStage:
    gazetteer = Gazetteer.load()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    book = AlertBook(
        settings.data_dir / "alerts.sqlite3", gazetteer.capital, settings.alert.novelty_window
    )
    return AlertStage(book, gazetteer, settings.alert.actors)
