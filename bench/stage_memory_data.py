"""Synthetic inputs for `bench/stage_memory.py`: one payload generator per stage.

Every text here is made up for the benchmark: random words, and a dozen
sentence patterns over real provincial capitals so that the geotagger finds
places and the alert stage finds an incursion in about one article in twenty.
Each generated message has its own id, URL and publication and fetch time
(by default one article every five minutes, so the alert stage's event time
moves forward the way a real stream's does; dedupe's window, 7 days of fetch
time, then holds the last 2,016 articles; `step` changes the spacing).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ingest.core.models import (
    Alert,
    Article,
    Capital,
    Deduped,
    Evidence,
    Extraction,
    Geotagged,
    Item,
    Payload,
    RawPage,
    Subscription,
    SubscriptionFilter,
)

START = datetime(2025, 1, 1, tzinfo=UTC)
STEP = timedelta(minutes=5)

_WORD_TEXT = (
    "the council water road market school report week season family village people price "
    "harvest rain bridge power office clinic teacher farmer trader budget plan meeting vote "
    "river district north south east west morning evening during after before while under "
    "over through about against between among without within said told added noted warned "
    "agreed opened closed started finished asked answered moved carried built repaired new "
    "old large small local national regional public private several many few most some "
    "every other second third last next early late heavy light strong weak quiet busy"
)
WORDS = _WORD_TEXT.split()

# (capital, province, country, actor): capitals the packaged gazetteer knows.
CAPITALS = (
    ("Kunduz", "Kunduz", "AF", "Taliban"), ("Maimana", "Faryab", "AF", "Taliban"),
    ("Taloqan", "Takhar", "AF", "Taliban"), ("Sheberghan", "Jowzjan", "AF", "Taliban"),
    ("Ghazni", "Ghazni", "AF", "Taliban"), ("Lashkar Gah", "Helmand", "AF", "Taliban"),
    ("Baidoa", "Bay", "SO", "al-Shabaab"), ("Jowhar", "Middle Shabelle", "SO", "al-Shabaab"),
    ("Gao", "Gao", "ML", "JNIM"), ("Mopti", "Mopti", "ML", "JNIM"),
    ("Maiduguri", "Borno", "NG", "Boko Haram"), ("Damaturu", "Yobe", "NG", "Boko Haram"),
    ("Marib", "Marib", "YE", "Houthis"), ("Goma", "North Kivu", "CD", "M23"),
    ("Bukavu", "South Kivu", "CD", "M23"), ("El Fasher", "North Darfur", "SD", "RSF"),
)

PLAIN = (
    "Officials in {city} said the main market reopened on {day} after rain closed roads.",
    "Aid workers in {city} counted more families arriving from outlying districts this week.",
    "The governor of {prov} province met elders in {city} to discuss the coming harvest.",
    "Teachers in {city} asked the ministry for the salaries owed since the spring.",
    "Traders travelling between {city} and the border said fuel prices rose again.",
)
INCURSION = (
    "{actor} fighters entered {city}, the capital of {prov} province, on {day}, residents said.",
    "{actor} militants captured {city} on {day} after government forces withdrew.",
    "{actor} fighters massed on the outskirts of {city} and threatened to storm the city.",
)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def item_id(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:32]


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def paragraph(rng: random.Random, sentences: int = 4, length: int = 14) -> str:
    return " ".join(words(rng, length).capitalize() + "." for _ in range(sentences))


def page_html(n: int, title: str, body: list[str]) -> str:
    """A small news page (about 3 KB): head, navigation, the article, a footer."""
    paras = "".join(f"<p>{p}</p>" for p in body)
    sections = ("world", "region", "economy")
    nav = "".join(f'<li><a href="/section/{s}">{s}</a></li>' for s in sections)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta name="author" content="Desk {n % 7}">'
        f'<meta property="article:published_time" content="{(START + n * STEP).isoformat()}">'
        f"</head><body><header><ul>{nav}</ul></header><main><article><h1>{title}</h1>"
        f"{paras}</article></main><footer><p>Copyright bench press</p></footer></body></html>"
    )


def page_for(n: int) -> str:
    """Page `n` as the loopback page server serves it (deterministic in `n`)."""
    rng = random.Random(n)
    return page_html(n, f"Report {n}: " + words(rng, 5), [paragraph(rng) for _ in range(5)])


def make_item(n: int, base: str, feed: str = "bench") -> Item:
    url = f"{base}/p/{n}"
    when = START + n * STEP
    return Item(item_id=item_id(url), url=url, guid=str(n), feed_url=f"{base}/f/{feed}.xml",
                feed_name=feed, title=f"Report {n}", published=when, discovered_at=when)


def make_raw(n: int) -> RawPage:
    item = make_item(n, "http://bench.invalid")
    return RawPage(item=item, final_url=item.url, status=200, content_type="text/html",
                   encoding="utf-8", html=page_for(n), fetched_at=item.discovered_at,
                   elapsed_ms=3.0)


def make_article(n: int, text: str, title: str | None = None, step: timedelta = STEP) -> Article:
    url = f"http://bench.invalid/p/{n}"
    when = START + n * step
    return Article(
        article_id=item_id(url), url=url, canonical_url=url, feed_url="http://bench.invalid/f",
        source=f"Outlet {n % 23}", title=title or f"Report {n}", text=text, language="en",
        language_source="page", published=when, published_source="page", fetched_at=when,
        extraction=Extraction(status="ok"),
    )


def random_text(rng: random.Random, n_words: int = 120) -> str:
    """Unrelated texts for dedupe: invented words, one in twenty capitalised like a name."""
    out = []
    for _ in range(n_words):
        word = "".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(3))
        out.append(word.capitalize() if rng.random() < 0.05 else word)
    return " ".join(out)


def news_head(rng: random.Random) -> str:
    """Two or three sentences about capitals; one in twenty reports an incursion."""
    sentences = []
    for _ in range(rng.randint(2, 3)):
        city, prov, _, actor = rng.choice(CAPITALS)
        pattern = rng.choice(PLAIN)
        sentences.append(pattern.format(city=city, prov=prov, actor=actor, day=rng.choice(DAYS)))
    if rng.random() < 0.05:
        city, prov, _, actor = rng.choice(CAPITALS)
        pattern = rng.choice(INCURSION)
        sentences.insert(0, pattern.format(city=city, prov=prov, actor=actor,
                                           day=rng.choice(DAYS)))
    return " ".join(sentences)


@dataclass(frozen=True)
class TaggedHead:
    text: str
    geotagged: Geotagged  # places with offsets into `text`, which starts every article


def tagged_heads(rng: random.Random, count: int) -> list[TaggedHead]:
    """`count` distinct news heads, each tagged once by the real geotagger."""
    from workers.geotag.gazetteer import Gazetteer  # noqa: PLC0415 - only for geotag/alert
    from workers.geotag.tagger import tag_places  # noqa: PLC0415

    gazetteer = Gazetteer.load()
    heads = []
    for _ in range(count):
        text = news_head(rng)
        tagged = tag_places(text, gazetteer)
        heads.append(TaggedHead(text, Geotagged(
            article=make_article(0, text), story_id="s", places=tagged.places,
            focus_countries=tagged.focus_countries)))
    return heads


def make_subscriptions(hook: str) -> list[Subscription]:
    """Three webhook subscriptions: everything, Afghanistan only, Somalia captures."""
    from workers.notify.signing import new_secret  # noqa: PLC0415 - only for notify

    filters = (SubscriptionFilter(), SubscriptionFilter(countries=["AF"]),
               SubscriptionFilter(countries=["SO"], kinds=["captured"]))
    return [Subscription(subscription_id=f"bench-{i}", name=f"bench {i}", channel="webhook",
                         target=hook, secret=new_secret(), filters=f, created_at=START,
                         updated_at=START) for i, f in enumerate(filters)]


def make_alert(n: int, rng: random.Random) -> tuple[Alert, bool]:
    """Alert `n`; one in five is an update of an earlier alert (the bool says so)."""
    update = n >= 10 and rng.random() < 0.2
    number = rng.randrange(n) if update else n
    city, prov, country, actor = CAPITALS[number % len(CAPITALS)]
    when = START + n * STEP
    evidence = [Evidence(article_id=item_id(f"a{n}-{s}"), url=f"http://bench.invalid/a/{n}/{s}",
                         source=f"Outlet {s}", sentence=f"{actor} fighters entered {city}.",
                         published=when) for s in range(1 + update)]
    alert = Alert(
        alert_id=f"bench-{number}", kind=("threatened", "entered", "captured")[number % 3],
        actor=actor, capital=Capital(place_id=f"bench:{city}", name=city, province=prov,
                                     country=country, lat=0.0, lon=0.0),
        confidence=0.8, reported_at=when, detected_at=when, evidence=evidence,
        sources=len(evidence))
    return alert, update


Message = tuple[str, Payload, str | None]
"""(key, payload, ce_type override)"""


def messages(
    stage: str, count: int, *, base: str, seed: int = 7, step: timedelta = STEP
) -> Iterator[Message]:
    """`count` messages for the input topic of `stage`, articles `step` apart in time."""
    rng = random.Random(seed)
    if stage == "fetcher":
        for n in range(count):
            item = make_item(n, base)
            yield item.item_id, item, None
    elif stage == "cleaner":
        for n in range(count):
            raw = make_raw(n)
            yield raw.item.item_id, raw, None
    elif stage == "dedupe":
        for n in range(count):
            article = make_article(n, random_text(rng), step=step)
            yield article.article_id, article, None
    elif stage in ("geotag", "alert"):
        heads = tagged_heads(rng, 2000)
        for n in range(count):
            head = rng.choice(heads)
            # A unique tail keeps every text distinct; the places' offsets stay valid.
            article = make_article(n, head.text + "\n\n" + paragraph(rng, 6), step=step)
            if stage == "geotag":
                yield article.article_id, Deduped(article=article, text_hash=item_id(article.text),
                                                  story_id=article.article_id), None
            else:
                yield article.article_id, head.geotagged.model_copy(
                    update={"article": article, "story_id": article.article_id}), None
    elif stage == "notify":
        for n in range(count):
            alert, update = make_alert(n, rng)
            yield alert.capital.place_id, alert, Alert.updated_ce_type if update else None
    else:
        raise ValueError(f"no generator for stage {stage!r}")
