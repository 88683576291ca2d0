"""Corroboration: a development's alert with one more article's evidence merged in.

Pure functions over an alert and the development's reports: the evidence
sentences (each article's once, oldest first), the independent-source count
(`control.independent_sources`), outlets, stories, first and latest report;
and the test that makes a lightly edited republication count as a copy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from ingest.core.models import Alert, Article, Capital, Evidence
from workers.alert.control import independent_sources
from workers.alert.history_store import moment
from workers.alert.incursion import Incursion
from workers.alert.vocabulary import EventKind


def copied_articles(previous: Alert | None, group: Sequence[Incursion]) -> list[str]:
    """The articles of the development's evidence that have one of `group`'s
    sentences word for word, in evidence order (with repeats).

    Dedupe gives word-for-word copies one story id, but a republished copy
    with a new intro or a cut paragraph can reach this stage as a story of
    its own; sharing an evidence sentence word for word makes it a copy.
    """
    if previous is None:
        return []
    sentences = {inc.sentence for inc in group}
    return [e.article_id for e in previous.evidence if e.sentence in sentences]


def capital_of(incursion: Incursion, lookup: Callable[[str], Capital | None]) -> Capital | None:
    """The gazetteer's record of the incursion's capital, else one built from the
    geotagger's place when that has coordinates."""
    place = incursion.capital
    capital = lookup(place.place_id)
    if capital is not None:
        return capital
    if place.lat is None or place.lon is None:
        return None
    return Capital(
        place_id=place.place_id,
        name=place.name,
        province=place.province or place.name,
        country=place.country,
        lat=place.lat,
        lon=place.lon,
        geonames_id=place.geonames_id,
    )


def merged_alert(
    previous: Alert | None,
    *,
    article: Article,
    dev_id: str,
    kind: EventKind,
    group: Sequence[Incursion],
    strongest: Incursion,
    capital: Capital,
    reports: Sequence[tuple[str, str, int]],
    clock: Callable[[], datetime],
) -> Alert:
    """The development's alert with this article's evidence and corroboration added.

    `reports` are the development's (story id, outlet, time µs), oldest first,
    this article's included; `detected_at` is kept from `previous`, else `clock()`.
    """
    evidence = list(previous.evidence) if previous is not None else []
    known = {(e.article_id, e.sentence) for e in evidence}
    for sentence in dict.fromkeys(inc.sentence for inc in group):
        if (article.article_id, sentence) not in known:
            evidence.append(
                Evidence(
                    article_id=article.article_id,
                    url=article.url,
                    source=article.source,
                    title=article.title,
                    sentence=sentence,
                    published=article.published,
                )
            )
    evidence.sort(key=lambda e: e.published)
    confidence = max(strongest.confidence, previous.confidence if previous else 0.0)
    return Alert(
        alert_id=dev_id,
        kind=kind,
        actor=previous.actor if previous is not None else strongest.actor,
        capital=capital,
        confidence=confidence,
        reported_at=moment(reports[0][2]),
        detected_at=previous.detected_at if previous is not None else clock(),
        evidence=evidence,
        sources=independent_sources((story, outlet) for story, outlet, _ in reports),
        outlets=sorted({outlet for _, outlet, _ in reports}),
        story_ids=sorted({story for story, _, _ in reports}),
        first_reported_at=moment(reports[0][2]),
        latest_reported_at=moment(reports[-1][2]),
    )
