"""The byline printed in the page body, found in one pass over the page.

`trafilatura.metadata.extract_author` copies the whole tree, deletes the
comment, sidebar, `<time>` and `<figure>` sections from the copy with two
XPath scans, then tries three more XPath scans for byline elements: about
9 ms a page on the benchmark pages, a third of raw `trafilatura.extract`'s
time, paid by every page whose `<meta>` tags name no author. Here the same
rules are checked in one walk over the elements (about 2.4 ms), and only
the few matching elements are copied to read their text as trafilatura
would. The answer is trafilatura's: `tests/test_cleaner_byline.py` compares
the two on pages built to hit every rule and on seeded mixes of them.

The rules, as in trafilatura 2.x (`xpaths.AUTHOR_DISCARD_XPATHS`,
`xpaths.AUTHOR_XPATHS`): a section is left out when it is (inside) a comment
list, sidebar, quote, print or share block, category or date line, `<time>`
or `<figure>`; the byline is the first element, trying the three rule sets
in turn and each in document order, whose text is 3-119 characters long.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from copy import deepcopy
from functools import lru_cache

from trafilatura.json_metadata import normalize_authors
from trafilatura.utils import trim
from trafilatura.xml import delete_element

from ingest.cleaner.page_tree import PageTree

_MAX_CHARS = 120


# What an element's attributes say about it, as bit flags; a rule also needs
# the element's tag to be one of its tags.
_CUT = 1  # a section trafilatura leaves out (comments, sidebar, quote, print...)
_SPECIFIC = 2  # first rule set: rel/id/class "author", "author name" and the like
_GENERIC = 4  # second: byline, username, "author" anywhere in class or id...
_ANY = 8  # last resort, any tag: [Aa]uthor, writer, screenname, [Bb]yline

_CUT_TAGS = frozenset(("a", "div", "section", "span"))
_ALWAYS_CUT = frozenset(("time", "figure"))
_SPECIFIC_TAGS = frozenset(("a", "address", "div", "link", "p", "span", "strong"))
_GENERIC_TAGS = frozenset(("a", "div", "h3", "h4", "p", "span"))

_CLASS_TESTS = (
    (_CUT, re.compile(r"^(?:comments|title|date)$")),
    (
        _CUT,
        re.compile(
            r"^[Cc]omments|commentlist|comments-list|sidebar|is-hidden|quote|embedly-instagram"
            r"|article-(?:share|support)|print|category|meta-date|meta-reviewer"
        ),
    ),
    (_SPECIFIC, re.compile(r"^author$|author-?name|AuthorName|authorName")),
    (_GENERIC, re.compile(r"^(?:byline|username|byl|BBL)$")),
    (
        _GENERIC,
        re.compile(
            r"author|channel-name|zuozhe|bianji|xiaobian|submitted-by|posted-by|journalist-name"
        ),
    ),
    (_ANY, re.compile(r"[Aa]uthor|screenname|writer|[Bb]yline")),
)
_ID_TESTS = (
    (_CUT, re.compile(r"^comments|comment-?list|ProductReviews")),
    (_SPECIFIC, re.compile(r"^author$")),
    (_GENERIC, re.compile(r"author|zuozhe|bianji|xiaobian")),
    (_ANY, re.compile(r"[Aa]uthor")),
)


@lru_cache(maxsize=4096)  # pages repeat the same few class names on many elements
def _class_flags(css: str) -> int:
    return _flags(css, _CLASS_TESTS)


@lru_cache(maxsize=4096)
def _id_flags(element_id: str) -> int:
    return _flags(element_id, _ID_TESTS)


def _flags(value: str, tests: tuple[tuple[int, re.Pattern[str]], ...]) -> int:
    flags = 0
    for flag, pattern in tests:
        if not flags & flag and pattern.search(value):
            flags |= flag
    return flags


_OTHER_ATTRIBUTES = frozenset(("itemprop", "data-component", "rel", "data-testid"))


def _other_flags(element: PageTree) -> int:
    get = element.get
    flags = 0
    itemprop = get("itemprop")
    if itemprop:
        flags |= _SPECIFIC if itemprop == "author name" else 0
        flags |= _GENERIC | _ANY if "author" in itemprop else 0
    component = get("data-component")
    if component:
        flags |= _CUT if "Figure" in component else 0
        flags |= _ANY if "Byline" in component else 0
    if get("rel") == "author" or get("data-testid") in ("AuthorCard", "AuthorURL"):
        flags |= _SPECIFIC
    return flags


def _has_rel_me(element: PageTree) -> bool:
    # trafilatura's XPath says `rel='me'` without the @: a <rel> child reading "me"
    return any(child.text_content() == "me" for child in element.iterchildren("rel"))


def page_byline(tree: PageTree) -> str | None:
    """The authors the page body names (trafilatura's `extract_author`), or None."""
    cut, rule_sets = _scan(tree)
    # Each element is listed under the first rule set it matches only: if its
    # text fails the length test there, it fails it under the later sets too.
    for matches in rule_sets:
        for element in matches:
            if any(ancestor in cut for ancestor in element.iterancestors()):
                continue
            text = trim(" ".join(_text_without(element, cut)))
            if text and 2 < len(text) < _MAX_CHARS:
                return normalize_authors(None, text)
    return None


def _scan(tree: PageTree) -> tuple[set[PageTree], list[list[PageTree]]]:
    """The elements left out (with their insides) and the byline candidates of each rule set."""
    cut: set[PageTree] = set()
    specific: list[PageTree] = []
    generic: list[PageTree] = []
    last_resort: list[PageTree] = []
    rel_elements = next(tree.iter("rel"), None) is not None  # never seen in real pages
    for element in tree.iter():
        tag = element.tag
        if not isinstance(tag, str):  # comments and processing instructions
            continue
        if tag in _ALWAYS_CUT:
            cut.add(element)
            continue
        if tag == "author":
            specific.append(element)
            continue
        flags = _attribute_flags(element, rel_elements)
        if not flags:
            continue
        if flags & _CUT and tag in _CUT_TAGS and element is not tree:
            cut.add(element)
        elif flags & _SPECIFIC and tag in _SPECIFIC_TAGS:
            specific.append(element)
        elif flags & _GENERIC and tag in _GENERIC_TAGS:
            generic.append(element)
        elif flags & _ANY:
            last_resort.append(element)
    return cut, [specific, generic, last_resort]


def _attribute_flags(element: PageTree, rel_elements: bool) -> int:
    names = element.keys()
    if not names and not rel_elements:  # most elements: nothing to look at
        return 0
    get = element.get
    css, element_id = get("class"), get("id")
    flags = 0 if _OTHER_ATTRIBUTES.isdisjoint(names) else _other_flags(element)
    if rel_elements and _has_rel_me(element):
        flags |= _SPECIFIC
    if css:
        flags |= _class_flags(css)
    if element_id:
        flags |= _id_flags(element_id)
    return flags


def _text_without(element: PageTree, cut: set[PageTree]) -> Iterable[str]:
    """The element's text pieces once the left-out sections inside it are deleted.

    Deleting joins a section's tail onto the text before it, which changes
    where `" ".join` puts spaces, so the deletion is done for real on a copy.
    """
    inside = [node in cut for node in element.iter()]
    if not any(inside[1:]):
        return element.itertext()
    copy = deepcopy(element)
    doomed = [node for node, cut in zip(copy.iter(), inside, strict=True) if cut]
    for node in doomed:
        delete_element(node)
    return copy.itertext()
