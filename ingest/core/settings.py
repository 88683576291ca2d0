"""Settings: one frozen object built at the entry point and passed down.

Sources, highest priority first: environment variables (`NEWS_INGEST_`
prefix, `__` between levels: `NEWS_INGEST_KAFKA__BOOTSTRAP_SERVERS`), then the
TOML file given with `--config`, then the defaults below. Nothing in the
project reads the environment anywhere else.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> Any:
    """Accept "90s", "5m", "1h30m", "7d", "250ms" or a number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if not isinstance(value, str):
        return value
    text = value.strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return timedelta(seconds=float(text))
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {value!r} (use e.g. '90s', '5m', '1h30m', '7d')")
    return timedelta(seconds=sum(float(n) * _UNIT_SECONDS[u] for n, u in parts))


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaSettings(Section):
    bootstrap_servers: str | None = Field(
        default=None, description="host:port[,host:port]; omitted → start the embedded broker"
    )
    partitions: int = Field(default=4, ge=1, le=1024)
    replication_factor: int = Field(default=1, ge=1, le=16)
    client_id: str = "news-ingest"
    # Tansu joins a group in ~3 s with these, ~23 s with kafka-python's defaults.
    session_timeout_ms: int = Field(default=6000, ge=1000)
    heartbeat_interval_ms: int = Field(default=1000, ge=100)
    max_poll_interval_ms: int = Field(default=300_000, ge=10_000)
    max_poll_records: int = Field(default=200, ge=1, le=10_000)
    request_timeout_ms: int = Field(default=30_000, ge=1000)
    # lz4 costs about 1.5 ms of CPU per 145 KB page where kafka-python's gzip
    # (level 9) costs about 6; consumers of the topics need lz4 support (Java,
    # librdkafka and kafka-python with the `lz4` package all have it).
    compression: Literal["lz4", "gzip", "none"] = "lz4"
    max_message_bytes: int = Field(
        default=8_000_000, ge=10_000, description="uncompressed; batches are compressed on the wire"
    )
    # A stage that is busy (fetcher, cleaner) sends what it produced at most this
    # late, so several records share one request; a stage that has caught up
    # flushes when it commits and does not wait. Per request, kafka-python costs
    # ~1.5 ms of CPU and the broker ~0.5 ms: at 10 ms and Kafka's 16 KB batches
    # every 145 KB page was its own request (BENCHMARKS.md, end-to-end).
    linger_ms: int = Field(default=100, ge=0, le=5000, description="producer linger.ms")
    batch_bytes: int = Field(
        default=1_048_576, ge=1024, description="producer batch.size, per partition, uncompressed"
    )
    max_consecutive_dead_letters: int = Field(
        default=1000, ge=1, description="stop the stage: likely a bad deploy, not bad input"
    )
    embedded_port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port")
    startup_timeout: Duration = Field(
        default=timedelta(seconds=60), description="how long to wait for the broker at start"
    )

    @model_validator(mode="after")
    def _batch_fits_a_request(self) -> KafkaSettings:
        if self.batch_bytes > self.max_message_bytes:
            raise ValueError(
                f"batch_bytes ({self.batch_bytes}) must not exceed max_message_bytes "
                f"({self.max_message_bytes}): a full batch would not fit in one request"
            )
        return self


class HttpSettings(Section):
    allow_private_networks: bool = False
    user_agent: str = "news-ingest/0.1 (+https://github.com/news-ingest/news-ingest)"
    connect_timeout: Duration = timedelta(seconds=10)
    read_timeout: Duration = timedelta(seconds=20)
    total_timeout: Duration = timedelta(seconds=60)
    max_page_bytes: int = Field(
        default=2_000_000, ge=10_000, description="must stay below kafka.max_message_bytes"
    )
    max_feed_bytes: int = Field(default=10_000_000, ge=10_000)
    max_redirects: int = Field(default=5, ge=0, le=20)
    per_host_concurrency: int = Field(default=2, ge=1)
    global_concurrency: int = Field(default=32, ge=1)
    per_host_min_interval: Duration = Field(
        default=timedelta(0),
        description="article pages: least time between two requests to one host (e.g. 1s)",
    )
    robots_txt: bool = Field(default=True, description="obey robots.txt for article pages")
    robots_cache: Duration = Field(default=timedelta(hours=6), description="per host")
    fetcher_metrics_port: int = Field(
        default=0, ge=0, le=65535, description="fetcher /metrics and /healthz; 0 = off"
    )


class FeedConfig(Section):
    url: str
    name: str | None = None
    interval: Duration = timedelta(minutes=5)
    robots: bool | None = Field(
        default=None, description="obey robots.txt for this feed's pages; None = [http] robots_txt"
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"feed url must start with http:// or https://, got {url!r}")
        return url

    @property
    def display_name(self) -> str:
        return self.name or self.url


class PollerSettings(Section):
    min_interval: Duration = timedelta(seconds=30)
    max_interval: Duration = timedelta(hours=24)
    concurrency: int = Field(default=64, ge=1)
    jitter: float = Field(default=0.1, ge=0.0, le=0.5, description="polls come up to this early")
    park_interval: Duration = Field(
        default=timedelta(days=1), description="how rarely a gone feed is probed"
    )
    gone_after_404s: int = Field(default=3, ge=1, description="consecutive 404s park a feed")
    failing_after: int = Field(default=3, ge=1, description="consecutive errors → failing")
    unconditional_every: int = Field(
        default=20, ge=0, description="after this many 304s in a row, one GET without validators"
    )
    host_retry_after: Duration = Field(
        default=timedelta(minutes=1), description="a 429/503 without Retry-After pauses the host"
    )
    feed_partitions: int = Field(
        default=12, ge=1, le=1024, description="news.feeds partitions: most poller processes"
    )
    metrics_port: int = Field(default=0, ge=0, le=65535, description="/metrics, /healthz; 0=off")
    metrics_host: str = Field(default="127.0.0.1", description="address the metrics port binds")


class CleanerSettings(Section):
    min_text_chars: int = Field(default=200, ge=0, description="shorter text → 'partial'")
    page_timeout: Duration = timedelta(seconds=30)
    workers: int = Field(default=0, ge=0, description="extraction processes; 0 = one per core")
    max_page_chars: int = Field(
        default=2_000_000, ge=10_000, description="longer pages are cut before extraction"
    )
    reset_caches_every: int = Field(
        default=500, ge=1, description="pages per worker between trafilatura cache resets"
    )
    fast_extraction: bool = Field(
        default=True, description="skip trafilatura's fallback extractors (readability, jusText)"
    )


class DedupeSettings(Section):
    window: Duration = timedelta(days=7)
    min_text_chars: int = Field(
        default=100, ge=0, description="shorter normalised texts are not matched on text"
    )


class ActorConfig(Section):
    name: str
    aliases: list[str] = Field(default_factory=list)


DEFAULT_ACTORS = [
    ActorConfig(name="Taliban", aliases=["Taleban", "Talib", "Islamic Emirate"]),
    ActorConfig(name="Islamic State", aliases=["ISIS", "ISIL", "ISIS-K", "ISKP", "Daesh"]),
    ActorConfig(name="al-Shabaab", aliases=["al-Shabab", "Shabaab", "Shabab"]),
    ActorConfig(name="JNIM", aliases=["Jama'at Nasr al-Islam wal Muslimin"]),
    ActorConfig(name="Houthis", aliases=["Houthi", "Ansar Allah"]),
    ActorConfig(name="Boko Haram", aliases=["ISWAP"]),
    ActorConfig(name="M23", aliases=["March 23 Movement"]),
    ActorConfig(name="Rapid Support Forces", aliases=["RSF"]),
]


class AlertSettings(Section):
    actors: list[ActorConfig] = Field(default_factory=lambda: list(DEFAULT_ACTORS))
    horizon: Duration = Field(
        default=timedelta(days=3), description="older than this before the watermark: no alert"
    )
    quiet_period: Duration = Field(
        default=timedelta(days=14),
        description="a capital with no report for this long ends its episode",
    )


class SmtpSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = False
    username: str | None = None
    password: SecretStr | None = None
    sender: str = "news-ingest@localhost"
    timeout: Duration = timedelta(seconds=20)


class NotifySettings(Section):
    stdout: bool = True
    jsonl_file: str = Field(default="alerts.jsonl", description="relative to data_dir")
    ledger_file: str = Field(
        default="notify-ledger.sqlite3", description="delivery ledger, relative to data_dir"
    )
    api_listen: str = Field(default="127.0.0.1:8470", description="host:port of the API")
    api_url: str = Field(default="http://127.0.0.1:8470", description="where the CLI finds it")
    serve_api: bool = Field(default=False, description="the notify stage also serves the API")
    api_token_sha256: list[str] = Field(
        default_factory=list, description="sha256 (hex) of each accepted API token"
    )
    allow_private_targets: bool = Field(
        default=False, description="allow webhooks to private, loopback, link-local addresses"
    )
    request_timeout: Duration = timedelta(seconds=10)
    retry_base: Duration = timedelta(seconds=2)
    retry_max_delay: Duration = timedelta(minutes=10)
    delivery_deadline: Duration = timedelta(hours=24)
    max_in_flight: int = Field(default=256, ge=1)
    requests_per_subscription: int = Field(
        default=4, ge=1, le=64,
        description="requests in flight to one subscription at most; an alert and its updates "
        "are always sent one after another, in order",
    )
    smtp: SmtpSettings = SmtpSettings()


class ObservabilitySettings(Section):
    metrics_port: int = Field(
        default=0, ge=0, le=65535,
        description="/metrics, /healthz, /readyz; 0 = off. `run` gives stage i port + i",
    )
    metrics_host: str = "127.0.0.1"
    stall_after: Duration = Field(
        default=timedelta(minutes=2), description="/readyz fails when no batch finished this long"
    )


class SupervisorSettings(Section):
    grace_period: Duration = Field(
        default=timedelta(seconds=30),
        gt=timedelta(0),
        description="`run`, on SIGTERM/SIGINT: how long the stages get to finish their batch "
        "and commit before the ones still running are killed",
    )
    processes: dict[str, Annotated[int, Field(ge=1, le=64)]] = Field(
        default_factory=dict,
        description="`run`: processes per stage, e.g. {cleaner = 2, fetcher = 2}; a stage not "
        "named runs one. They share the stage's consumer group, so a topic's partition count "
        "bounds how many do work",
    )


class LogSettings(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


_config_file: ContextVar[Path | None] = ContextVar("news_ingest_config_file", default=None)


class Settings(BaseSettings):
    """Everything configurable, validated once at start-up."""

    model_config = SettingsConfigDict(
        env_prefix="NEWS_INGEST_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    data_dir: Path = Path("./.news-ingest")
    kafka: KafkaSettings = KafkaSettings()
    http: HttpSettings = HttpSettings()
    feeds: list[FeedConfig] = Field(default_factory=list)
    poller: PollerSettings = PollerSettings()
    cleaner: CleanerSettings = CleanerSettings()
    dedupe: DedupeSettings = DedupeSettings()
    alert: AlertSettings = AlertSettings()
    notify: NotifySettings = NotifySettings()
    supervisor: SupervisorSettings = SupervisorSettings()
    log: LogSettings = LogSettings()
    observability: ObservabilitySettings = ObservabilitySettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file.get())
        return (init_settings, env_settings, toml)

    def masked(self) -> dict[str, Any]:
        """The settings as logged at start-up: secrets never appear."""
        return self.model_dump(mode="json")


class ConfigError(Exception):
    """The configuration is invalid; the message names the file, field and problem."""


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings from defaults, the TOML file and the environment."""
    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"config file not found: {config_file}")
    token = _config_file.set(config_file)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        where = str(config_file) if config_file else "environment/defaults"
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration ({where}): {problems}") from None
    except ValueError as exc:  # e.g. a TOML syntax error
        raise ConfigError(f"invalid configuration file {config_file}: {exc}") from None
    finally:
        _config_file.reset(token)
