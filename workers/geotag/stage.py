"""geotag: news.unique → news.geotagged, the places each article mentions.

consume:   `news.unique` (Deduped: first copies only)
transform: `tag_places` against the packaged gazetteer (loaded once per process)
produce:   `news.geotagged` (Geotagged: the article, its places, its countries)
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from ingest.core.models import Deduped, Geotagged
from ingest.core.runtime import Inbound, OneByOne, Output
from ingest.core.settings import Settings
from ingest.core.topics import GEOTAGGED, UNIQUE
from workers.geotag.gazetteer import Gazetteer
from workers.geotag.tagger import tag_places

log = structlog.get_logger()


class GeotagStage(OneByOne):
    name = "geotag"
    input = UNIQUE

    def __init__(self, gazetteer: Gazetteer) -> None:
        self.gazetteer = gazetteer

    def handle(self, inbound: Inbound) -> Sequence[Output]:
        deduped = inbound.payload_as(Deduped)
        article = deduped.article
        tagged = tag_places(article.text, self.gazetteer)
        log.info(
            "article_geotagged", article_id=article.article_id, places=len(tagged.places),
            capitals=sorted({p.name for p in tagged.places if p.type == "capital"}),
            focus=tagged.focus_countries[:3],
        )
        result = Geotagged(
            article=article, story_id=deduped.story_id, places=tagged.places,
            focus_countries=tagged.focus_countries,
        )
        return [Output(GEOTAGGED, article.article_id, result)]


def build(settings: Settings) -> GeotagStage:
    return GeotagStage(Gazetteer.load())
