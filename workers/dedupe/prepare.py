"""What the dedupe decision needs of each article, computed for a whole batch at once.

Everything here depends on the article alone (no index state), so a batch
is prepared before its articles are decided one by one: the texts are folded
once for both the exact hash and the furniture-free comparison text, and the
MinHash sketches and band keys of the batch are computed in a few numpy
calls instead of a few dozen per article.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ingest.core.models import Article
from workers.dedupe import stories
from workers.dedupe.normalise import hash_normalised, story_texts
from workers.dedupe.sketch import U64, Sketch, band_keys_many, sketch_many

I64 = npt.NDArray[np.int64]
_NO_TERMS: I64 = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class Prepared:
    """An article's normalised-text hash and, when it is long enough, its sketch and terms."""

    article: Article
    digest: str
    long_enough: bool  # whether the whole text is long enough to be matched on text
    sketch: Sketch | None = None  # of the furniture-free text, when that is long enough
    band_keys: U64 | None = None
    # sorted unique story term ids of the furniture-free text
    terms: I64 = field(default_factory=lambda: _NO_TERMS)


def prepare(articles: Sequence[Article], min_text_chars: int) -> list[Prepared]:
    """`Prepared` for each article, in order."""
    prepared: list[Prepared] = []
    sketched: list[int] = []
    comparables: list[str] = []
    term_sets: list[I64] = []
    for article in articles:
        normalised, stripped, comparable = story_texts(article.text)
        long_enough = bool(normalised) and len(normalised) >= min_text_chars
        prepared.append(Prepared(article, hash_normalised(normalised), long_enough))
        if long_enough and len(comparable) >= min_text_chars:
            sketched.append(len(prepared) - 1)
            comparables.append(comparable)
            ids = sorted({stories.term_id(term) for term in stories.terms(stripped)})
            term_sets.append(np.asarray(ids, dtype=np.int64))
    if sketched:
        drawn = sketch_many(comparables)
        keys = band_keys_many(np.stack([d.signature for d in drawn]))
        for at, one, row, terms in zip(sketched, drawn, keys, term_sets, strict=True):
            old = prepared[at]
            prepared[at] = Prepared(old.article, old.digest, True, one, row, terms)
    return prepared
