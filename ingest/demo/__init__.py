"""Bundled demo content: two made-up outlets, four pages, two feeds, and what they must raise.

The pages live in `ingest/demo/pages/*.html` (package data) and are served with
their RSS feeds by `ingest.demo.server.DemoServer` on loopback. They are written
for this project in news style around the June 2021 northern Afghanistan
offensive:

- `kunduz-maimana`: the main story (Kabul Ledger). The Taliban enter Kunduz and
  Maimana and fight near the entrance of Taloqan; it also names Kabul, Bagram
  Airfield, Faryab and Takhar without any incursion, recalls the historical
  captures of Kunduz (2015, 2016) and quotes a conditional ("the Taliban cannot
  enter the city").
- `kunduz-maimana-syndicated`: the same story republished a few hours later by
  Frontier Courier under another headline, with a wire tag in front, the last
  paragraph cut and a "Read more:" line added. It must be recognised as a
  duplicate and must not raise alerts of its own.
- `kunduz-anniversary`: a long read about the fall of Kunduz in 2015 and its
  second capture in 2016; historical only, so no alert.
- `kabul-economy`: currency markets in Kabul and trade through Herat; no alert.

The whole demo must therefore raise exactly `EXPECTED_ALERTS`.
"""

from __future__ import annotations

from typing import Final

MAIN_STORY: Final = "kunduz-maimana"
SYNDICATED_COPY: Final = "kunduz-maimana-syndicated"
ANNIVERSARY: Final = "kunduz-anniversary"
ECONOMY: Final = "kabul-economy"

PAGE_NAMES: Final[tuple[str, ...]] = (MAIN_STORY, SYNDICATED_COPY, ANNIVERSARY, ECONOMY)
"""Every bundled page, by file stem; served at `/articles/<name>`."""

DEMO_FEEDS: Final[dict[str, tuple[str, ...]]] = {
    "ledger": (MAIN_STORY, ANNIVERSARY, ECONOMY),
    "courier": (SYNDICATED_COPY,),
}
"""Feed name (served at `/feeds/<name>.xml`) → the pages it lists, in feed order."""

EXPECTED_ALERTS: Final[frozenset[tuple[str, str]]] = frozenset(
    {("Kunduz", "entered"), ("Maimana", "entered"), ("Taloqan", "threatened")}
)
"""(capital name, alert kind) pairs the full pipeline must raise from the demo feeds.

No others: not Kabul, Herat or any province, not Kunduz again for the
anniversary piece, and nothing more for the syndicated copy.
"""

EXPECTED_ACTOR: Final = "Taliban"
"""The actor every expected alert names."""

EXPECTED_DUPLICATES: Final[dict[str, str]] = {SYNDICATED_COPY: MAIN_STORY}
"""Page → the earlier page it copies; dedupe must send it to `news.duplicates`."""
