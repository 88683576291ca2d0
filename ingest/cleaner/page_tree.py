"""The parsed page, as the cleaner's modules read it.

`parse_page` parses with trafilatura's `load_html`, which gives an lxml
element (the page's root), untyped. `PageTree` names what the cleaner reads of
it and of its elements, once, so that metadata, page kind and byline code all
take the same type.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Protocol

from lxml import etree  # type: ignore[import-untyped]
from lxml.html import (  # type: ignore[import-untyped]
    HtmlComment,
    HtmlElement,
    HtmlEntity,
    HtmlProcessingInstruction,
)
from trafilatura.utils import HTML_PARSER, load_html


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


def parse_page(html: str) -> PageTree | None:
    """The page's root element, or None when `html` is not an HTML page."""
    _use_plain_element_classes()
    tree: PageTree | None = load_html(html)
    return tree


@cache
def _use_plain_element_classes() -> None:
    # lxml.html's parser chooses each element's Python class (FormElement,
    # InputElement...) by calling back into Python for every element object
    # it creates: about 3,000 a page in trafilatura's passes, 1-2 ms of a
    # 24 ms extraction. Neither trafilatura nor the cleaner uses those
    # subclasses, so a lookup done in C that makes every element a plain
    # HtmlElement gives the same trees and the same articles, faster.
    # The parser is trafilatura's own, set once per process.
    HTML_PARSER.set_element_class_lookup(
        etree.ElementDefaultClassLookup(
            element=HtmlElement,
            comment=HtmlComment,
            pi=HtmlProcessingInstruction,
            entity=HtmlEntity,
        )
    )
