"""The cleaner stage through Kafka: per-page time limit, dead letters, order, cache resets."""

from __future__ import annotations

import threading
from pathlib import Path

from kafka.partitioner.default import murmur2
from trafilatura.utils import trim

from ingest.cleaner.stage import CleanerStage
from ingest.cleaner.worker import TALLY, clean_in_worker
from ingest.core.embedded_broker import EmbeddedBroker
from ingest.core.envelope import decode, encode, event_id
from ingest.core.kafka_clients import ensure_topics, make_producer
from ingest.core.models import Article, RawPage
from ingest.core.runtime import StreamRunner
from ingest.core.topics import ARTICLES, RAW
from tests.conftest import make_settings
from tests.kafka_helpers import read_topic
from tests.test_extract import PARAGRAPHS, make_raw, news_page

PARTITIONS = 4


def ids_on_one_partition(count: int) -> list[str]:
    """Item ids whose keys the default partitioner sends to one partition of every topic.

    news.articles is keyed by article id, so only articles sharing a partition
    have an order that a reader can check.
    """
    found: list[str] = []
    candidate = 0
    while len(found) < count:
        item_id = f"{candidate:032x}"
        if (murmur2(item_id.encode()) & 0x7FFFFFFF) % PARTITIONS == 0:
            found.append(item_id)
        candidate += 1
    return found


def page_for(item_id: str, html: str) -> RawPage:
    raw = make_raw(html)
    item = raw.item.model_copy(update={"item_id": item_id})
    return raw.model_copy(update={"item": item, "final_url": f"https://ledger.example/{item_id}"})


def pathological_html() -> str:
    """About 1.9 MB of flat divs: trafilatura needs seconds for it, far over a 1 s limit."""
    div = "<div><p>Paragraph {0} of a very long page that keeps going and going. </p></div>"
    return "<html><body>" + "".join(div.format(i) for i in range(20_000)) + "</body></html>"


def test_page_over_the_time_limit_is_dead_lettered_and_the_next_pages_flow_in_order(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    settings = make_settings(
        broker, tmp_path / "data", kafka={"partitions": PARTITIONS}, cleaner={"page_timeout": "1s"}
    )
    ensure_topics(settings.kafka)
    first, slow, third, fourth = ids_on_one_partition(4)
    pages = [
        page_for(first, news_page("")),
        page_for(slow, pathological_html()),
        page_for(third, news_page("")),
        page_for(fourth, news_page("")),
    ]
    producer = make_producer(settings.kafka, "test")
    for raw in pages:
        headers, value = encode(raw, source="/tests", id=event_id(raw.ce_type, raw.item.item_id))
        producer.send(
            RAW.name, key=raw.item.item_id.encode(), value=value, headers=headers, partition=0
        )
    producer.flush()
    producer.close()

    runner = StreamRunner(settings, CleanerStage(settings), install_signals=False)
    thread = threading.Thread(target=runner.run)
    thread.start()
    try:
        articles = read_topic(settings, ARTICLES.name, expect=3, timeout=60)
        dead = read_topic(settings, RAW.dlq, expect=1, timeout=30)
    finally:
        runner.stop()
        thread.join(timeout=30)

    cleaned = [decode(r.value, r.headers).payload for r in articles]
    assert [type(a) for a in cleaned] == [Article] * 3
    assert [a.article_id for a in cleaned if isinstance(a, Article)] == [first, third, fourth]
    assert all(r.partition == 0 for r in articles)
    assert all(PARAGRAPHS[0] in a.text for a in cleaned if isinstance(a, Article))
    assert [r.key for r in dead] == [slow.encode()]
    reason = dict(dead[0].headers)["dlq_reason"].decode()
    assert reason == (
        f"extraction of https://ledger.example/{slow} took over the 1 s per-page limit; "
        "its worker was stopped"
    )
    assert not thread.is_alive()


def test_worker_resets_trafilatura_caches_every_n_pages() -> None:
    """After the Nth page of a process the caches are empty; between resets they fill."""
    raw = make_raw(news_page(""))
    before = TALLY.resets
    clean_in_worker(raw, min_text_chars=200, max_page_chars=10**6, fast=True, reset_every=10**9)
    assert trim.cache_info().currsize > 0
    assert TALLY.resets == before
    clean_in_worker(raw, min_text_chars=200, max_page_chars=10**6, fast=True, reset_every=1)
    assert TALLY.resets == before + 1
    assert trim.cache_info().currsize == 0
