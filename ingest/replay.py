"""`news-ingest replay FILE`: backtest the detector on archived articles.

Reads JSON lines (`url`, `source`, `published`, `title`, and `text` or
`html`), sorts them by publication time, starts a fresh embedded broker with
one partition per topic (so every stage sees the articles in publication
order), produces articles with text to `news.articles` and pages with html to
`news.raw`, runs the downstream stages through the same supervisor as `run`,
waits until they have drained, then prints every message of `news.alerts` and
writes a report: `alerts.csv` (one row per alert and evidence sentence) and
`timeline.html` (one inline-SVG timeline per capital). The stages are found
by their entry points; this module never imports `workers`.
"""

from __future__ import annotations

import csv
import html
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition
from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError, model_validator

from ingest.core.embedded_broker import start_broker
from ingest.core.envelope import decode, encode, event_id
from ingest.core.kafka_clients import ensure_topics, make_producer, wait_for_broker
from ingest.core.models import Alert, Article, Extraction, Item, Payload, RawPage
from ingest.core.settings import Settings, load_settings
from ingest.core.status import drained
from ingest.core.supervisor import Supervisor
from ingest.core.topics import ALERTS, ARTICLES, RAW, Topic
from ingest.poller.urls import canonical_url, item_id


class ArchivedArticle(BaseModel):
    """One line of a replay file."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    url: str
    source: str
    published: AwareDatetime
    title: str | None = None
    text: str | None = None
    html: str | None = None

    @model_validator(mode="after")
    def _has_body(self) -> ArchivedArticle:
        if not self.text and not self.html:
            raise ValueError("needs 'text' or 'html'")
        return self


@dataclass(frozen=True)
class ReplayedAlert:
    """One message read back from `news.alerts`."""

    ce_type: str
    alert: Alert


class ReplayFileError(Exception):
    """The replay file cannot be read; the message names the line."""


def load_archive(path: Path) -> list[ArchivedArticle]:
    """The file's articles in publication order (ties keep file order)."""
    articles: list[ArchivedArticle] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            articles.append(ArchivedArticle.model_validate_json(line))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "line"
            raise ReplayFileError(f"{path}:{number}: {where}: {first['msg']}") from None
    return sorted(articles, key=lambda a: a.published)


def to_message(archived: ArchivedArticle, feed_url: str) -> tuple[Topic, str, Payload]:
    """The message that injects one archived article: an Article, or a RawPage to clean."""
    canonical = canonical_url(archived.url)
    key = item_id(canonical)
    if archived.text:
        article = Article(
            article_id=key,
            url=archived.url,
            canonical_url=canonical,
            feed_url=feed_url,
            source=archived.source,
            title=archived.title,
            text=archived.text,
            published=archived.published,
            published_source="page",
            fetched_at=archived.published,
            extraction=Extraction(status="ok", extractor="archive"),
        )
        return ARTICLES, key, article
    item = Item(
        item_id=key,
        url=canonical,
        feed_url=feed_url,
        feed_name=archived.source,
        title=archived.title,
        published=archived.published,
        discovered_at=archived.published,
    )
    page = RawPage(
        item=item,
        final_url=archived.url,
        status=200,
        content_type="text/html",
        encoding="utf-8",
        html=archived.html or "",
        fetched_at=archived.published,
        elapsed_ms=0.0,
    )
    return RAW, key, page


def _config(folder: Path, bootstrap: str) -> Path:
    path = folder / "replay.toml"
    path.write_text(
        f'data_dir = "{folder / "data"}"\n'
        # One partition: every stage then reads the articles in publication order.
        f'[kafka]\nbootstrap_servers = "{bootstrap}"\npartitions = 1\n'
        '[notify]\nstdout = false\n[log]\nlevel = "warning"\n'
    )
    return path


def _produce(settings: Settings, messages: Sequence[tuple[Topic, str, Payload]]) -> None:
    producer = make_producer(settings.kafka, "replay")
    try:
        for topic, key, payload in messages:
            headers, value = encode(
                payload, source="/news-ingest/replay", id=event_id(payload.ce_type, key)
            )
            producer.send(topic.name, key=key.encode(), value=value, headers=headers)
        producer.flush()
    finally:
        producer.close()


def read_alerts(settings: Settings, timeout: float = 10.0) -> list[ReplayedAlert]:
    """Every message on `news.alerts`, in partition order."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers)
    try:
        tps = [
            TopicPartition(ALERTS.name, p) for p in consumer.partitions_for_topic(ALERTS.name) or ()
        ]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        found: list[ReplayedAlert] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(consumer.position(tp) < ends[tp] for tp in tps):
            for records in consumer.poll(timeout_ms=300).values():
                for record in records:
                    event = decode(record.value, record.headers or [])
                    if isinstance(event.payload, Alert):
                        found.append(ReplayedAlert(event.type, event.payload))
        return found
    finally:
        consumer.close()


def describe(replayed: ReplayedAlert) -> str:
    """One line per message, e.g. 'NEW     entered    Kunduz (AF) Taliban 2021-06-20 ...'."""
    alert = replayed.alert
    label = "NEW" if replayed.ce_type == Alert.ce_type else "UPDATE"
    return (
        f"{label:<7} {alert.kind:<10} {alert.capital.name} ({alert.capital.country}) "
        f"{alert.actor}  reported {alert.reported_at:%Y-%m-%d %H:%M}Z  "
        f"sources={alert.sources} evidence={len(alert.evidence)}  id={alert.alert_id[:12]}"
    )


def run_replay(
    file: Path, out_dir: Path, *, timeout: float, echo: Callable[[str], None]
) -> list[ReplayedAlert]:
    """Replay `file` through the pipeline; returns the messages seen on `news.alerts`."""
    archive = load_archive(file)
    messages = [to_message(a, f"replay:{file.name}") for a in archive]
    stages = (["cleaner"] if any(t is RAW for t, _, _ in messages) else []) + [
        "dedupe", "geotag", "alert",
    ]  # fmt: skip
    broker = start_broker()
    try:
        with tempfile.TemporaryDirectory(prefix="news-ingest-replay-") as tmp:
            settings = load_settings(_config(Path(tmp), broker.bootstrap_servers))
            wait_for_broker(settings.kafka, timeout=15)
            ensure_topics(settings.kafka)
            _produce(settings, messages)
            echo(
                f"replay: {len(archive)} articles from {file}, "
                f"{archive[0].published:%Y-%m-%d} to {archive[-1].published:%Y-%m-%d}"
                if archive
                else f"replay: {file} holds no articles"
            )
            deadline = time.monotonic() + timeout
            supervisor = Supervisor(stages, settings_file(tmp), env={}, grace_seconds=10)
            supervisor.run(
                done=lambda: (
                    drained(settings, len(archive), stages) or time.monotonic() > deadline
                ),
                check_every=1.0,
            )
            if not drained(settings, len(archive), stages):
                echo("replay: WARNING the pipeline did not drain before the timeout")
            replayed = read_alerts(settings)
    finally:
        broker.stop()
    for item in replayed:
        echo(describe(item))
    csv_path, html_path = write_report(
        replayed, out_dir, title=f"Replay of {file.name}", generated=datetime.now().astimezone()
    )
    echo(
        f"replay: {sum(r.ce_type == Alert.ce_type for r in replayed)} alert(s), "
        f"{sum(r.ce_type != Alert.ce_type for r in replayed)} update(s); "
        f"report: {csv_path} {html_path}"
    )
    return replayed


def settings_file(folder: str) -> Path:
    return Path(folder) / "replay.toml"


def dumps(replayed: Sequence[ReplayedAlert]) -> str:
    """The messages as JSON lines (ce_type plus payload), for machines."""
    return "".join(
        json.dumps({"ce_type": r.ce_type, **r.alert.model_dump(mode="json")}) + "\n"
        for r in replayed
    )


_COLOURS = {"threatened": "#e69f00", "entered": "#d55e00", "captured": "#8b0000",
            "retaken": "#009e73"}  # fmt: skip


def write_report(
    replayed: Sequence[ReplayedAlert], out_dir: Path, *, title: str, generated: datetime
) -> tuple[Path, Path]:
    """Write `alerts.csv` and `timeline.html` under `out_dir`; returns their paths.

    The CSV has one row per alert (its latest version) and evidence sentence.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    latest: dict[str, Alert] = {}
    for item in replayed:
        latest[item.alert.alert_id] = item.alert
    csv_path = out_dir / "alerts.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["alert_id", "kind", "capital", "country", "actor", "reported_at",
                         "latest_reported_at", "sources", "outlets", "confidence",
                         "evidence_published", "evidence_source", "evidence_url",
                         "evidence_sentence"])  # fmt: skip
        for alert in sorted(latest.values(), key=lambda a: a.reported_at):
            for evidence in alert.evidence:
                writer.writerow([
                    alert.alert_id, alert.kind, alert.capital.name, alert.capital.country,
                    alert.actor, alert.reported_at.isoformat(),
                    (alert.latest_reported_at or alert.reported_at).isoformat(), alert.sources,
                    "; ".join(alert.outlets), alert.confidence, evidence.published.isoformat(),
                    evidence.source, evidence.url, evidence.sentence,
                ])  # fmt: skip
    html_path = out_dir / "timeline.html"
    html_path.write_text(_timeline(replayed, latest, title, generated), encoding="utf-8")
    return csv_path, html_path


def _timeline(
    replayed: Sequence[ReplayedAlert], latest: dict[str, Alert], title: str, generated: datetime
) -> str:
    """One row per capital: a bar per alert from its first report to the next alert
    of that capital, a dot per report of it (from its evidence)."""
    width, left, row = 900, 170, 34
    by_capital: dict[str, list[Alert]] = {}
    for alert in sorted(latest.values(), key=lambda a: a.reported_at):
        by_capital.setdefault(alert.capital.name, []).append(alert)
    times = [e.published for a in latest.values() for e in a.evidence] or [generated]
    start, end = min(times), max(times)
    span = max((end - start).total_seconds(), 3600.0)

    def x(moment: datetime) -> float:
        return left + (width - left - 20) * (moment - start).total_seconds() / span

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{row * (len(by_capital) + 1) + 10}" font-family="sans-serif" '
             'font-size="12">']  # fmt: skip
    for n, (capital, alerts) in enumerate(sorted(by_capital.items())):
        y = 10 + n * row
        parts.append(f'<text x="4" y="{y + 16}">{html.escape(capital)}</text>')
        for i, alert in enumerate(alerts):
            until = alerts[i + 1].reported_at if i + 1 < len(alerts) else end
            x0, x1 = x(alert.reported_at), max(x(until), x(alert.reported_at) + 4)
            colour = _COLOURS[alert.kind]
            parts.append(
                f'<rect x="{x0:.1f}" y="{y + 4}" width="{x1 - x0:.1f}" height="16" '
                f'fill="{colour}" fill-opacity="0.35"><title>{alert.kind} '
                f"{alert.reported_at:%Y-%m-%d %H:%M}Z, {alert.sources} source(s)</title></rect>"
            )
            for evidence in alert.evidence:
                parts.append(
                    f'<circle cx="{x(evidence.published):.1f}" cy="{y + 12}" r="4" '
                    f'fill="{colour}"><title>{html.escape(evidence.source)}: '
                    f"{html.escape(evidence.sentence)}</title></circle>"
                )
    axis = 10 + len(by_capital) * row
    parts.append(f'<text x="{left}" y="{axis + 14}">{start:%Y-%m-%d %H:%M}Z</text>')
    parts.append(f'<text x="{width - 150}" y="{axis + 14}">{end:%Y-%m-%d %H:%M}Z</text>')
    parts.append("</svg>")
    legend = " ".join(f'<span style="color:{c}">&#9632; {k}</span>' for k, c in _COLOURS.items())
    rows = "".join(
        f"<tr><td>{'new' if r.ce_type == Alert.ce_type else 'update'}</td>"
        f"<td>{r.alert.reported_at:%Y-%m-%d %H:%M}Z</td><td>{html.escape(r.alert.capital.name)}"
        f"</td><td>{r.alert.kind}</td><td>{html.escape(r.alert.actor)}</td>"
        f"<td>{r.alert.sources}</td></tr>"
        for r in replayed
    )
    return (
        f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<h1>{html.escape(title)}</h1><p>Generated {generated:%Y-%m-%d %H:%M %Z}. {legend}</p>"
        + "".join(parts)
        + "<table border=1 cellpadding=3><tr><th>message</th><th>first report</th>"
        "<th>capital</th><th>kind</th><th>actor</th><th>sources</th></tr>" + rows + "</table>"
    )
