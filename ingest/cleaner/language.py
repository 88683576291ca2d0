"""Language of an article's text when the page does not declare one (py3langid).

The model (about 0.5 s to load) is loaded once per process, on first use or
by `warm_up()`; a parent that warms up before forking its pool hands the
loaded model to every worker. Detection is deterministic for a given text.
"""

from __future__ import annotations

from functools import cache
from typing import Protocol

from py3langid.langid import MODEL_FILE, LanguageIdentifier  # type: ignore[import-untyped]

# Below this many letters a guess is mostly noise (a headline of three words).
MIN_LETTERS = 40
# A normalised probability below this is an abstention: mixed-language or
# boilerplate-heavy text is better left without a language than given a wrong one.
MIN_CONFIDENCE = 0.8
# Enough text to decide; the rest of a long article only costs time.
SAMPLE_CHARS = 3000


class _Identifier(Protocol):
    def classify(self, text: str) -> tuple[str, float]: ...


@cache
def _identifier() -> _Identifier:
    identifier: _Identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return identifier


def warm_up() -> None:
    """Load the model now (before forking workers) rather than on the first page."""
    _identifier()


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code of `text`'s language, or None when too short or uncertain."""
    sample = text[:SAMPLE_CHARS]
    if sum(ch.isalpha() for ch in sample) < MIN_LETTERS:
        return None
    code, confidence = _identifier().classify(sample)
    if confidence < MIN_CONFIDENCE:
        return None
    return str(code)
