"""Per-capital control state in event time: which development a report belongs to.

A capital's history is a set of *developments* (the Taliban entered Kunduz;
the army retook it), each backed by one or more *reports* (one article's
incursions of one kind). Time is the reports' publication time, never the
arrival order, so the same reports give the same answer in any order:

- an *episode* is a run of reports with no gap as long as the quiet period;
  a later report starts a new episode, and its incursion is new again;
- inside an episode, resets (`repelled`, `retaken`) split it into *phases*;
  the state rises quiet → threatened → entered → captured within a phase and
  a reset returns it to quiet;
- an upward report is new when its phase has no development of the same or a
  higher kind (so a late "entered" after "captured" is no news); otherwise it
  corroborates the development of its kind (else the nearest higher one);
- a reset report corroborates a reset of the same kind when no new upward
  development lies between them; `repelled` after a capture is `retaken`.

Everything here is pure: the `AlertBook` loads a capital's history, asks
`place_report`, and stores the answer.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from workers.alert.vocabulary import RESETS, EventKind

LEVEL: dict[EventKind, int] = {
    "threatened": 1, "entered": 2, "captured": 3, "repelled": 0, "retaken": 0,
}  # fmt: skip
"""The control level each kind leaves the capital at (0: quiet)."""


@dataclass(frozen=True, slots=True)
class Development:
    """One development of a capital's history: its id, kind and first report time (µs)."""

    dev_id: str
    kind: EventKind
    first_us: int


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a report goes: `kind` (possibly promoted) and the development it
    corroborates, or None when it is a new development."""

    kind: EventKind
    dev_id: str | None


def episode_bounds(times: Iterable[int], at_us: int, quiet_us: int) -> tuple[int, int]:
    """The first and last report time of the episode containing `at_us`."""
    return episode_around(sorted(set(times)), at_us, quiet_us)


def episode_around(ordered: Sequence[int], at_us: int, quiet_us: int) -> tuple[int, int]:
    """`episode_bounds` for distinct times already in order (`at_us` among them or not)."""
    i = bisect_left(ordered, at_us)
    lo = at_us
    j = i - 1
    while j >= 0 and lo - ordered[j] < quiet_us:
        lo = ordered[j]
        j -= 1
    hi = at_us
    k = i + 1 if i < len(ordered) and ordered[i] == at_us else i
    while k < len(ordered) and ordered[k] - hi < quiet_us:
        hi = ordered[k]
        k += 1
    return lo, hi


def place_report(
    kind: EventKind,
    at_us: int,
    reports: Sequence[tuple[int, str]],
    developments: Sequence[Development],
    quiet_us: int,
) -> Placement:
    """Decide whether a report of `kind` at `at_us` is new or corroborates a development.

    `reports` are the capital's earlier reports as (time, development id);
    `developments` the capital's developments. Pure and order-independent.
    """
    lo, hi = episode_bounds((t for t, _ in reports), at_us, quiet_us)
    in_episode = {dev for t, dev in reports if lo <= t <= hi}
    episode = [d for d in developments if d.dev_id in in_episode]
    upward = [d for d in episode if d.kind not in RESETS]
    if kind in RESETS:
        return _place_reset(kind, at_us, episode, upward)
    resets = [d.first_us for d in episode if d.kind in RESETS]
    phase_lo = max((r for r in resets if r < at_us), default=None)
    phase_hi = min((r for r in resets if r >= at_us), default=None)
    phase = [
        d
        for d in upward
        if (phase_lo is None or d.first_us > phase_lo)
        and (phase_hi is None or d.first_us <= phase_hi)
    ]
    level = LEVEL[kind]
    covering = [d for d in phase if LEVEL[d.kind] >= level]
    if not covering:
        return Placement(kind, None)
    best = min(covering, key=lambda d: (LEVEL[d.kind] - level, d.first_us))
    return Placement(kind, best.dev_id)


def _place_reset(
    kind: EventKind, at_us: int, episode: list[Development], upward: list[Development]
) -> Placement:
    before = [d for d in episode if d.first_us <= at_us]
    last_reset = max((d.first_us for d in before if d.kind in RESETS), default=None)
    since = -1 if last_reset is None else last_reset
    held = [d for d in upward if since < d.first_us <= at_us]
    if kind == "repelled" and any(d.kind == "captured" for d in held):
        kind = "retaken"  # pushing a group out of a city it held is retaking it
    same = [d for d in episode if d.kind == kind]
    for candidate in sorted(same, key=lambda d: abs(d.first_us - at_us)):
        a, b = sorted((candidate.first_us, at_us))
        if not any(a < d.first_us < b for d in upward):
            return Placement(kind, candidate.dev_id)
    return Placement(kind, None)


def independent_sources(reports: Iterable[tuple[str, str]]) -> int:
    """How many independent sources (story id, outlet) pairs make: reports that
    share a story (syndicated copies) or an outlet count once."""
    parent: dict[str, str] = {}

    def root(node: str) -> str:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for story, outlet in reports:
        a, b = root("story:" + story), root("outlet:" + outlet.casefold())
        if a != b:
            parent[a] = b
    return len({root(node) for node in list(parent)})
