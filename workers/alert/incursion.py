"""The incursion: one sentence's evidence of an armed group at a capital, and its confidence.

Shared by the modules that build incursions (`detect`, `headlines`) and
those that consume them (`book`). Confidence starts from how the capital was
found (`BASE_CONFIDENCE`) and loses the penalties the attribution incurred.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.core.models import Place
from workers.alert.targets import Resolution
from workers.alert.vocabulary import EventKind

# Named in the sentence, referred to ("the city"), or carried over from an earlier sentence.
BASE_CONFIDENCE: dict[Resolution, float] = {"explicit": 0.9, "reference": 0.8, "previous": 0.6}


@dataclass(frozen=True, slots=True)
class Incursion:
    """One sentence's evidence that `actor` threatened, entered or captured `capital`.

    `actor` is the canonical actor name (for `repelled` and `retaken`, the
    group that was pushed back or lost the city); `capital` the geotagger's
    place (of type "capital"); `sentence` the evidence sentence as written;
    `confidence` in [0, 1], higher for an explicit verb and name in the same
    sentence.
    """

    actor: str
    kind: EventKind
    capital: Place
    sentence: str
    confidence: float


def confidence(resolution: Resolution, *penalties: float) -> float:
    """The confidence of an incursion found by `resolution`, less `penalties` (in order)."""
    value = BASE_CONFIDENCE[resolution]
    for penalty in penalties:
        value -= penalty
    return round(min(0.99, max(0.05, value)), 2)
