"""alert: news.geotagged → news.alerts, developments in provincial capitals' control.

consume:   `news.geotagged` (Geotagged)
transform: `detect_incursions` finds (actor, kind, capital, sentence) events in
           the text; the durable `AlertBook` keeps each capital's control
           state in event time and decides which reports are new developments
           and which corroborate one. A polled batch is decided in one durable
           write (SQLite, synchronous=FULL), before the runner produces and
           commits its offsets. Replaying an article returns the same messages
           (same ids), so a crash between produce and commit repeats nothing
           downstream.
produce:   `news.alerts`, keyed by the capital's place id: `news.alert.v1` for a
           new development, `news.alert.updated.v1` (same `alert_id`) for a
           corroborating report
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from ingest.core.models import Geotagged, Place
from ingest.core.runtime import BadInput, Inbound, Output, Result
from ingest.core.settings import ActorConfig, Settings
from ingest.core.topics import ALERTS, GEOTAGGED
from workers.alert.book import AlertBook, Decision
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


class AlertStage:
    name = "alert"
    input = GEOTAGGED

    def __init__(self, book: AlertBook, gazetteer: Gazetteer, actors: Sequence[ActorConfig]):
        self.book = book
        self.gazetteer = gazetteer
        self.actors = list(actors)

    def handle_batch(self, batch: Sequence[Inbound]) -> list[Result]:
        """Each article's incursions, then the book's decisions for the whole
        batch in one durable write: the runner commits the batch's offsets only
        after this returns, so a crash replays every article not yet written."""
        results: list[Result] = []
        decisions: list[tuple[int, Inbound, Decision]] = []
        for inbound in batch:
            try:
                tagged = inbound.payload_as(Geotagged)
            except BadInput as exc:
                results.append(exc)
                continue
            article = tagged.article
            places = seats_for_capital_phrases(tagged.places, self.gazetteer)
            incursions = detect_incursions(article, places, self.actors)
            decisions.append((len(results), inbound, (article, incursions, tagged.story_id)))
            results.append([])
        # Every article moves the watermark, so decide even without incursions.
        decided = self.book.decide_many([decision for _, _, decision in decisions])
        for (n, inbound, (article, found, _)), published in zip(decisions, decided, strict=True):
            log.info(
                "article_checked",
                article_id=article.article_id,
                incursions=len(found),
                published=[f"{p.alert.capital.name}:{p.alert.kind}:{p.ce_type}" for p in published],
                topic=inbound.topic,
                partition=inbound.partition,
                offset=inbound.offset,
            )
            results[n] = [
                Output(ALERTS, p.alert.capital.place_id, p.alert, id=p.event_id, ce_type=p.ce_type)
                for p in published
            ]
        return results

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
