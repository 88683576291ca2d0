"""The parsed page, as the cleaner's modules read it.

trafilatura's `load_html` gives an lxml element (the page's root), untyped.
This protocol names what the cleaner reads of it and of its elements, once,
so that metadata, page kind and byline code all take the same type.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol


class PageTree(Protocol):
    """An lxml HTML element: the page's root or any element below it."""

    tag: object  # a str for elements; a function for comments and processing instructions
    text: str | None

    def get(self, key: str, default: str | None = None) -> str | None: ...

    def keys(self) -> list[str]: ...

    def iter(self, tag: str = ...) -> Iterator[PageTree]: ...

    def iterfind(self, path: str) -> Iterator[PageTree]: ...

    def iterancestors(self) -> Iterator[PageTree]: ...

    def iterchildren(self, tag: str) -> Iterator[PageTree]: ...

    def itertext(self) -> Iterator[str]: ...

    def text_content(self) -> str: ...
