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
from ingest.core.stages import SINGLE_PROCESS_STAGES, run_worker, stage_names
from ingest.core.status import pipeline_status
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
    known = stage_names()  # one scan of the entry points
    names = known if not stages else [s.strip() for s in stages.split(",")]
    unknown = set(names) - set(known)
    if unknown:
        _fail(f"unknown stage(s): {', '.join(sorted(unknown))}; known: {', '.join(known)}")
    for name, count in settings.supervisor.processes.items():
        if name not in known:
            _fail(f"[supervisor] processes names an unknown stage {name!r}; "
                  f"known: {', '.join(known)}")
        if count > 1 and name in SINGLE_PROCESS_STAGES:
            _fail(f"[supervisor] processes: {name} keeps state over all partitions and runs "
                  f"as one process; remove {name} = {count}")

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
                metrics_port=live.observability.metrics_port,
                processes=live.supervisor.processes,
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
def replay(
    file: Annotated[Path, typer.Argument(help="JSON lines: url, source, published, text|html")],
    out: Annotated[Path, typer.Option(help="folder for alerts.csv and timeline.html")] = Path(
        "replay-report"
    ),
    timeout: Annotated[float, typer.Option(help="seconds to wait for the pipeline")] = 600.0,
) -> None:
    """Backtest: feed archived articles through the pipeline in publication order on a
    fresh embedded broker, print the alerts and write a timeline and CSV report."""
    from ingest.replay import ReplayFileError, run_replay  # noqa: PLC0415 - only when asked for

    configure_logging("warning")
    if not file.is_file():
        _fail(f"replay file not found: {file}")
    try:
        _guard(lambda: run_replay(file, out, timeout=timeout, echo=typer.echo))
    except ReplayFileError as exc:
        _fail(str(exc))


@app.command()
def status(config: ConfigOption = None) -> None:
    """Each stage's lag on its input topic and its health (/readyz when metrics are on)."""
    settings = _settings(config, process="status")

    def go() -> None:
        with _broker(settings) as (live, _):
            wait_for_broker(live.kafka)
            typer.echo(f"{'stage':<9} {'input':<16} {'lag':>7}  health")
            for row in pipeline_status(live):
                lag = "-" if row.lag is None else str(row.lag)
                typer.echo(f"{row.stage:<9} {row.input or '(feeds)':<16} {lag:>7}  {row.health}")

    _guard(go)


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


# --- subscriptions and deliveries (issue 7): a client of the notify API ------------------
# The API server lives in `workers` and is found through the `news_ingest.services`
# entry point; the other commands talk to it over HTTP with a bearer token.

subscriptions_app = typer.Typer(help="Manage alert subscriptions (via the API).",
                                no_args_is_help=True)
deliveries_app = typer.Typer(help="Inspect and re-send deliveries (via the API).",
                             no_args_is_help=True)
app.add_typer(subscriptions_app, name="subscriptions")
app.add_typer(deliveries_app, name="deliveries")
TokenOption = Annotated[
    str | None, typer.Option("--token", envvar="NEWS_INGEST_API_TOKEN", help="API token")
]
ApiOption = Annotated[str | None, typer.Option("--api", help="API base URL (notify.api_url)")]


def _api(method: str, path: str, body: dict[str, Any] | None = None, *,
         config: Path | None, api: str | None, token: str | None) -> Any:
    import urllib.error  # noqa: PLC0415 - only the API commands need it
    import urllib.request  # noqa: PLC0415

    settings = _settings(config, process="cli")
    base = (api or settings.notify.api_url).rstrip("/")
    if not base.startswith(("http://", "https://")):
        _fail(f"API URL must be http(s): {base}")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json",
                 **({"Authorization": f"Bearer {token}"} if token else {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")
        _fail(f"API answered {exc.code}: {detail}", code=4)
    except OSError as exc:
        _fail(f"cannot reach the API at {base} ({exc})", code=3)
    return json.loads(raw) if raw else None


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


@subscriptions_app.command("add")
def subscriptions_add(  # noqa: PLR0917 - one option per filter, as typer declares them
    name: Annotated[str, typer.Option(help="a label")],
    channel: Annotated[str, typer.Option(help="webhook | chat | email")],
    target: Annotated[str, typer.Option(help="URL or e-mail address")],
    countries: Annotated[str | None, typer.Option(help="comma-separated ISO codes")] = None,
    provinces: Annotated[str | None, typer.Option()] = None,
    capitals: Annotated[str | None, typer.Option()] = None,
    kinds: Annotated[str | None, typer.Option(help="threatened,entered,captured")] = None,
    min_kind: Annotated[str | None, typer.Option()] = None,
    actors: Annotated[str | None, typer.Option()] = None,
    min_confidence: Annotated[float, typer.Option()] = 0.0,
    min_sources: Annotated[int, typer.Option()] = 1,
    quiet_hours: Annotated[
        str | None, typer.Option(help="HH:MM-HH:MM[@Zone], e.g. 22:00-07:00@Asia/Kabul")
    ] = None,
    digest_every: Annotated[int | None, typer.Option(help="digest period in seconds")] = None,
    config: ConfigOption = None, api: ApiOption = None, token: TokenOption = None,
) -> None:
    """Create a subscription; prints it, with its signing secret (shown only this once)."""
    body: dict[str, Any] = {
        "name": name, "channel": channel, "target": target, "digest_period_s": digest_every,
        "filters": {"countries": _split(countries), "provinces": _split(provinces),
                    "capitals": _split(capitals), "kinds": _split(kinds), "min_kind": min_kind,
                    "actors": _split(actors), "min_confidence": min_confidence,
                    "min_sources": min_sources},
    }
    if quiet_hours:
        hours, _, zone = quiet_hours.partition("@")
        start, _, end = hours.partition("-")
        body["quiet_hours"] = {"start": start, "end": end, "timezone": zone or "UTC"}
    made = _api("POST", "/subscriptions", body, config=config, api=api, token=token)
    typer.echo(json.dumps(made, indent=2))


@subscriptions_app.command("list")
def subscriptions_list(
    config: ConfigOption = None, api: ApiOption = None, token: TokenOption = None
) -> None:
    """One line per subscription: id, state, channel, name, target."""
    for sub in _api("GET", "/subscriptions", config=config, api=api, token=token):
        state = "paused" if sub["paused"] else "active"
        typer.echo(f"{sub['subscription_id']}\t{state}\t{sub['channel']}\t{sub['name']}\t"
                   f"{sub['target']}")


@subscriptions_app.command("show")
def subscriptions_show(
    sid: str, config: ConfigOption = None, api: ApiOption = None, token: TokenOption = None
) -> None:
    """A subscription as JSON (never with its secret)."""
    shown = _api("GET", f"/subscriptions/{sid}", config=config, api=api, token=token)
    typer.echo(json.dumps(shown, indent=2))


@subscriptions_app.command("pause")
def subscriptions_pause(
    sid: str, config: ConfigOption = None, api: ApiOption = None, token: TokenOption = None
) -> None:
    """Stop matching new alerts for a subscription until it is resumed."""
    _api("PATCH", f"/subscriptions/{sid}", {"paused": True}, config=config, api=api, token=token)
    typer.echo(f"{sid}\tpaused")


@subscriptions_app.command("resume")
def subscriptions_resume(
    sid: str, config: ConfigOption = None, api: ApiOption = None, token: TokenOption = None
) -> None:
    _api("PATCH", f"/subscriptions/{sid}", {"paused": False}, config=config, api=api, token=token)
    typer.echo(f"{sid}\tactive")


@subscriptions_app.command("remove")
def subscriptions_remove(
    sid: str, config: ConfigOption = None, api: ApiOption = None, token: TokenOption = None
) -> None:
    _api("DELETE", f"/subscriptions/{sid}", config=config, api=api, token=token)
    typer.echo(f"{sid}\tremoved")


@subscriptions_app.command("token")
def subscriptions_token() -> None:
    """Make a new API token; put its sha256 into `notify.api_token_sha256`."""
    import hashlib  # noqa: PLC0415
    import secrets  # noqa: PLC0415

    token = secrets.token_urlsafe(32)
    typer.echo(f"token:  {token}\nsha256: {hashlib.sha256(token.encode()).hexdigest()}")


@subscriptions_app.command("serve")
def subscriptions_serve(config: ConfigOption = None) -> None:
    """Serve the subscriptions API (and the SSE alert stream) on `notify.api_listen`."""
    from importlib.metadata import entry_points  # noqa: PLC0415

    settings = _settings(config, process="api")
    found = [ep for ep in entry_points(group="news_ingest.services") if ep.name == "api"]
    if not found:
        _fail("no 'api' entry point in group news_ingest.services (is workers installed?)")

    def go() -> None:
        with _broker(settings) as (live, _):
            wait_for_broker(live.kafka)
            ensure_topics(live.kafka)
            found[0].load()(live)

    _guard(go)


@deliveries_app.command("list")
def deliveries_list(
    status: Annotated[str | None, typer.Option(help="e.g. dead")] = "dead",
    config: ConfigOption = None, api: ApiOption = None, token: TokenOption = None,
) -> None:
    """Deliveries with their state, attempts and last error (default: the dead letters)."""
    query = f"?status={status}" if status and status != "all" else ""
    for rec in _api("GET", f"/deliveries{query}", config=config, api=api, token=token):
        typer.echo(f"{rec['delivery_id']}\t{rec['status']}\t{rec['subscription_id']}\t"
                   f"{rec['kind']}\t{','.join(rec['alert_ids'])}\tattempts={rec['attempts']}\t"
                   f"{rec['last_error'] or ''}")


@deliveries_app.command("retry")
def deliveries_retry(
    delivery_id: str, config: ConfigOption = None, api: ApiOption = None,
    token: TokenOption = None,
) -> None:
    """Send a dead delivery again (a new deadline starts now)."""
    _api("POST", f"/deliveries/{delivery_id}/retry", config=config, api=api, token=token)
    typer.echo(f"{delivery_id}\tretry_requested")


# --- feeds (issue 3): the feed catalog topic and the pollers' feed health --------------


@contextmanager
def _feeds_broker(settings: Settings) -> Iterator[Settings]:
    with _broker(settings) as (live, _):
        yield live


def _feeds_app() -> typer.Typer:
    from ingest.poller.commands import build_feeds_app  # noqa: PLC0415 - keeps cli.py's imports

    return build_feeds_app(lambda config: _settings(config, process="feeds"), _feeds_broker,
                           _guard)


app.add_typer(_feeds_app(), name="feeds")
