"""The `news-ingest` command line.

Every command builds the settings once (TOML file + environment), configures
logging once, and turns the errors an operator can fix (bad config, no broker)
into one clear line on stderr and a non-zero exit code instead of a traceback.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from kafka import TopicPartition

from ingest.core.embedded_broker import (
    BrokerError,
    EmbeddedBroker,
    ensure_embedded_broker,
    forget_embedded_broker,
)
from ingest.core.envelope import DecodeError, decode
from ingest.core.kafka_clients import (
    BrokerUnavailable,
    ensure_topics,
    list_topics,
    make_consumer,
    wait_for_broker,
)
from ingest.core.logs import configure_logging
from ingest.core.settings import ConfigError, Settings, load_settings
from ingest.core.stages import run_worker, stage_names
from ingest.core.supervisor import Supervisor

app = typer.Typer(
    help="Streaming news ingest that alerts on armed-group incursions into provincial capitals.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
topics_app = typer.Typer(help="Create or list the service's Kafka topics.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML config file (settings also come from NEWS_INGEST_*)"),
]
T = TypeVar("T")


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"news-ingest: error: {message}", err=True)
    raise typer.Exit(code)


def _settings(config: Path | None, process: str | None = None) -> Settings:
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        _fail(str(exc))
        raise  # unreachable: _fail exits
    configure_logging(settings.log.level, settings.log.format, process=process)
    return settings


def _guard(action: Callable[[], T]) -> T:
    try:
        return action()
    except (ConfigError, BrokerError) as exc:
        _fail(str(exc))
    except BrokerUnavailable as exc:
        _fail(str(exc), code=3)
    raise AssertionError("unreachable")


@contextmanager
def _broker(settings: Settings) -> Iterator[tuple[Settings, EmbeddedBroker | None]]:
    """The configured broker, or the embedded one (reused from the data folder if alive)."""
    if settings.kafka.bootstrap_servers:
        yield settings, None
        return
    broker = ensure_embedded_broker(settings.data_dir, settings.kafka.embedded_port)
    kafka = settings.kafka.model_copy(update={"bootstrap_servers": broker.bootstrap_servers})
    yield settings.model_copy(update={"kafka": kafka}), broker


@app.command()
def run(
    config: ConfigOption = None,
    stages: Annotated[
        str | None, typer.Option(help="comma-separated subset of stages (default: all)")
    ] = None,
) -> None:
    """Run every stage, one supervised process each (embedded broker if none configured)."""
    settings = _settings(config, process="run")
    names = stage_names() if not stages else [s.strip() for s in stages.split(",")]
    unknown = set(names) - set(stage_names())
    if unknown:
        _fail(f"unknown stage(s): {', '.join(sorted(unknown))}; known: {', '.join(stage_names())}")

    def go() -> None:
        with _broker(settings) as (live, embedded):
            wait_for_broker(live.kafka)
            ensure_topics(live.kafka)
            supervisor = Supervisor(
                names,
                config,
                env={
                    "NEWS_INGEST_KAFKA__BOOTSTRAP_SERVERS": str(live.kafka.bootstrap_servers),
                    "NEWS_INGEST_DATA_DIR": str(live.data_dir.resolve()),
                },
            )
            supervisor.run()
            if embedded is not None:
                forget_embedded_broker(live.data_dir, embedded)

    _guard(go)


@app.command()
def worker(
    name: Annotated[str, typer.Argument(help="stage to run: " + ", ".join(stage_names()))],
    config: ConfigOption = None,
) -> None:
    """Run one stage in this process (scale out by running more copies)."""
    if name not in stage_names():
        _fail(f"unknown stage {name!r}; known: {', '.join(stage_names())}")
    settings = _settings(config, process=name)

    def go() -> None:
        with _broker(settings) as (live, _):
            wait_for_broker(live.kafka)
            ensure_topics(live.kafka)
            run_worker(live, name)

    _guard(go)


@app.command()
def demo(
    timeout: Annotated[float, typer.Option(help="seconds to wait for the alerts")] = 180.0,
) -> None:
    """Serve bundled feeds on loopback, run the whole pipeline on the embedded broker,
    print the alerts it raised and exit (0 when they are the expected ones)."""
    from ingest.demo.run import run_demo  # noqa: PLC0415 - demo pages load only when asked for

    configure_logging("warning")
    code = _guard(lambda: run_demo(timeout=timeout, echo=typer.echo))
    raise typer.Exit(code)


@app.command()
def tail(
    topic: Annotated[str, typer.Argument(help="topic to read, e.g. news.alerts")],
    config: ConfigOption = None,
    from_beginning: Annotated[bool, typer.Option("--from-beginning")] = False,
    max_messages: Annotated[int | None, typer.Option("--max", help="stop after N")] = None,
    idle_timeout: Annotated[
        float | None, typer.Option("--idle-timeout", help="stop after N s without messages")
    ] = None,
) -> None:
    """Print a topic's messages as JSON lines (payload plus CloudEvents attributes)."""
    settings = _settings(config, process="tail")

    def go() -> None:
        with _broker(settings) as (live, _):
            wait_for_broker(live.kafka)
            _tail(live, topic, from_beginning, max_messages, idle_timeout)

    _guard(go)


def _tail(
    settings: Settings, topic: str, from_beginning: bool, limit: int | None, idle: float | None
) -> None:
    consumer = make_consumer(settings.kafka, group_id=None)  # type: ignore[arg-type]
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        consumer.close()
        _fail(f"topic {topic!r} does not exist (see `news-ingest topics list`)")
    tps = [TopicPartition(topic, p) for p in sorted(partitions or ())]
    consumer.assign(tps)
    if from_beginning:
        consumer.seek_to_beginning(*tps)
    else:
        consumer.seek_to_end(*tps)
    seen, last = 0, time.monotonic()
    try:
        while (limit is None or seen < limit) and (idle is None or time.monotonic() - last < idle):
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    typer.echo(json.dumps(_describe(record), ensure_ascii=False))
                    seen, last = seen + 1, time.monotonic()
                    if limit is not None and seen >= limit:
                        return
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()


def _describe(record: Any) -> dict[str, Any]:
    line: dict[str, Any] = {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "key": record.key.decode("utf-8", "replace") if record.key else None,
    }
    headers = record.headers or []
    try:
        event = decode(record.value, headers)
    except DecodeError as exc:
        line["headers"] = {k: v.decode("utf-8", "replace") for k, v in headers}
        line["undecodable"] = str(exc)
        line["value"] = (record.value or b"")[:2000].decode("utf-8", "replace")
        return line
    line.update(ce_type=event.type, ce_id=event.id, ce_source=event.source)
    line["ce_time"] = event.time.isoformat() if event.time else None
    line["payload"] = event.payload.model_dump(mode="json")
    return line


@topics_app.command("create")
def topics_create(config: ConfigOption = None) -> None:
    """Create every topic in the registry (and its .dlq) that does not exist yet."""
    settings = _settings(config, process="topics")

    def go() -> None:
        with _broker(settings) as (live, _):
            wait_for_broker(live.kafka)
            created = ensure_topics(live.kafka)
            typer.echo(f"created {len(created)} topic(s): {', '.join(created) or '-'}")

    _guard(go)


@topics_app.command("list")
def topics_list(config: ConfigOption = None) -> None:
    """List the broker's topics with their partition counts."""
    settings = _settings(config, process="topics")

    def go() -> None:
        with _broker(settings) as (live, _):
            wait_for_broker(live.kafka)
            for name, count in list_topics(live.kafka).items():
                typer.echo(f"{name}\t{count}")

    _guard(go)
