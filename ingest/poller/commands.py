"""`news-ingest feeds …`: manage the feed catalog and see each feed's health.

Feeds in the config file are the baseline and cannot be removed here; the
commands `add`, `remove` and `import` write to the catalog topic
`news.feeds`, which every poller process follows. `status` reads the poller
state in the data folder (every poller process on this machine shares it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from ingest.core.kafka_clients import wait_for_broker
from ingest.core.settings import FeedConfig, Settings, parse_duration
from ingest.poller.catalog import publish, read_catalog
from ingest.poller.opml import OpmlError, read_opml, write_opml
from ingest.poller.state import STATE_FILE, FeedStateStore

SettingsOf = Callable[[Path | None], Settings]
Connect = Callable[[Settings], AbstractContextManager[Settings]]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML config file (settings also come from NEWS_INGEST_*)"),
]


def build_feeds_app(
    settings_of: SettingsOf, connect: Connect, guard: Callable[..., Any]
) -> typer.Typer:
    """The `feeds` sub-app; the CLI passes how to load settings and reach the broker."""
    app = typer.Typer(help="Manage the feeds the pollers follow.", no_args_is_help=True)

    def live(config: Path | None) -> Iterator[Settings]:
        with connect(settings_of(config)) as settings:
            wait_for_broker(settings.kafka)
            yield settings

    def catalog_change(config: Path | None, changes: dict[str, FeedConfig | None]) -> None:
        for settings in live(config):
            publish(settings.kafka, settings.poller.feed_partitions, changes)

    @app.command("add")
    def add(
        url: str, config: ConfigOption = None,
        name: Annotated[str | None, typer.Option(help="display name")] = None,
        interval: Annotated[str, typer.Option(help="e.g. 5m, 90s")] = "5m",
        robots: Annotated[bool | None, typer.Option("--robots/--no-robots",
                                                    help="obey robots.txt for its pages")] = None,
    ) -> None:
        """Add a feed for every poller (or update its name, interval, robots choice)."""
        try:
            feed = FeedConfig(url=url, name=name, interval=parse_duration(interval), robots=robots)
        except ValidationError as exc:  # pydantic's text ends with a help link, not the reason
            raise typer.BadParameter("; ".join(e["msg"] for e in exc.errors())) from None
        except ValueError as exc:  # an unreadable --interval
            raise typer.BadParameter(str(exc)) from None
        guard(lambda: catalog_change(config, {feed.url: feed}))
        typer.echo(f"added\t{feed.url}")

    @app.command("remove")
    def remove(url: str, config: ConfigOption = None) -> None:
        """Remove a feed added with `feeds add` or `feeds import`."""
        settings = settings_of(config)
        if any(f.url == url for f in settings.feeds):
            typer.echo(f"news-ingest: error: {url} is in the config file; remove it there",
                       err=True)
            raise typer.Exit(2)
        guard(lambda: catalog_change(config, {url: None}))
        typer.echo(f"removed\t{url}")

    @app.command("import")
    def import_opml(
        file: Path, config: ConfigOption = None,
        interval: Annotated[str, typer.Option(help="interval for the imported feeds")] = "5m",
    ) -> None:
        """Add every feed of an OPML file."""
        try:
            feeds = read_opml(file.read_bytes(), interval=parse_duration(interval))
        except (OSError, OpmlError) as exc:
            typer.echo(f"news-ingest: error: {file}: {exc}", err=True)
            raise typer.Exit(2) from None
        guard(lambda: catalog_change(config, {f.url: f for f in feeds}))
        typer.echo(f"imported {len(feeds)} feed(s) from {file}")

    def _all_feeds(config: Path | None) -> list[tuple[str, FeedConfig]]:
        settings = settings_of(config)
        rows = [("config", f) for f in settings.feeds]
        configured = {f.url for f in settings.feeds}
        for live_settings in live(config):
            added = read_catalog(live_settings.kafka)
            rows += [("catalog", f) for u, f in sorted(added.items()) if u not in configured]
        return rows

    _view_commands(app, settings_of, lambda c: guard(lambda: _all_feeds(c)))
    return app


def _view_commands(
    app: typer.Typer, settings_of: SettingsOf,
    all_feeds: Callable[[Path | None], list[tuple[str, FeedConfig]]],
) -> None:
    def guard(action: Callable[[], Any]) -> Any:
        return action()

    def _all_feeds(config: Path | None) -> list[tuple[str, FeedConfig]]:
        return all_feeds(config)

    @app.command("list")
    def list_feeds(config: ConfigOption = None) -> None:
        """Every feed: where it comes from (config or catalog), interval, name, URL."""
        for source, feed in guard(lambda: _all_feeds(config)):
            typer.echo(f"{source}\t{feed.interval.total_seconds():g}s\t"
                       f"{feed.name or '-'}\t{feed.url}")

    @app.command("export")
    def export_opml(
        config: ConfigOption = None,
        out: Annotated[Path | None, typer.Option(help="file to write (default: stdout)")] = None,
    ) -> None:
        """Write every feed (config and catalog) as OPML 2.0."""
        data = write_opml([f for _, f in guard(lambda: _all_feeds(config))])
        if out is None:
            typer.echo(data.decode("utf-8"), nl=False)
        else:
            out.write_bytes(data)

    @app.command("status")
    def status(config: ConfigOption = None) -> None:
        """Each polled feed: health, last success, last error, next poll, items/day."""
        settings = settings_of(config)
        if not (settings.data_dir / STATE_FILE).exists():
            typer.echo("no poller state yet in " + str(settings.data_dir))
            return
        with FeedStateStore(settings.data_dir) as store:
            states = store.load_all()
        typer.echo("health\tlast_success\tnext_poll\titems_per_day\tpolls\terrors\tfeed\t"
                   "reason")
        for url, s in sorted(states.items()):
            rate = f"{s.item_rate:.1f}" if s.item_rate is not None else "-"
            typer.echo(f"{s.health}\t{_when(s.last_success)}\t{_when(s.next_poll)}\t{rate}\t"
                       f"{s.polls}\t{s.errors}\t{url}\t{s.health_reason or s.last_error or ''}")



def _when(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return (moment.astimezone(UTC) - timedelta(microseconds=moment.microsecond)).isoformat()
