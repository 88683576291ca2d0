"""kafka-python clients built from settings, and the topic set-up.

Every producer in the service is idempotent with `acks=all`; every consumer
has auto-commit off (the runtime commits after outputs are acknowledged).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import structlog
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from ingest.core.settings import KafkaSettings
from ingest.core.topics import BY_NAME, all_topic_names

log = structlog.get_logger()


class BrokerUnavailable(Exception):
    """No broker answered at the configured address; the message names it."""


def _servers(kafka: KafkaSettings) -> list[str]:
    if not kafka.bootstrap_servers:
        raise BrokerUnavailable("no bootstrap servers: start the embedded broker first")
    return [s.strip() for s in kafka.bootstrap_servers.split(",") if s.strip()]


def make_producer(kafka: KafkaSettings, client_id: str, **overrides: Any) -> KafkaProducer:
    options: dict[str, Any] = {
        "linger_ms": kafka.linger_ms,
        "batch_size": kafka.batch_bytes,
        **overrides,
    }
    return KafkaProducer(
        bootstrap_servers=_servers(kafka),
        client_id=f"{kafka.client_id}-{client_id}",
        acks="all",
        enable_idempotence=True,
        compression_type=None if kafka.compression == "none" else kafka.compression,
        max_request_size=kafka.max_message_bytes,
        request_timeout_ms=kafka.request_timeout_ms,
        retries=2_147_483_647,
        # The service's metrics are its own (Prometheus); kafka-python's sensors,
        # recorded on every request and read by nobody, only cost CPU.
        metrics_enabled=False,
        **options,
    )


def make_consumer(
    kafka: KafkaSettings, group_id: str, topics: Iterable[str] = (), **overrides: Any
) -> KafkaConsumer:
    consumer = KafkaConsumer(
        bootstrap_servers=_servers(kafka),
        client_id=f"{kafka.client_id}-{group_id}",
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=kafka.session_timeout_ms,
        heartbeat_interval_ms=kafka.heartbeat_interval_ms,
        max_poll_interval_ms=kafka.max_poll_interval_ms,
        max_poll_records=kafka.max_poll_records,
        request_timeout_ms=max(kafka.request_timeout_ms, kafka.session_timeout_ms + 5000),
        metrics_enabled=False,  # as for the producer
        **overrides,
    )
    names = list(topics)
    if names:
        consumer.subscribe(names)
    return consumer


def wait_for_broker(kafka: KafkaSettings, timeout: float | None = None) -> str:
    """Block until the broker answers; return its cluster id.

    Logs one clear line per failed attempt naming the address, and raises
    `BrokerUnavailable` after `timeout` seconds.
    """
    if timeout is None:
        timeout = kafka.startup_timeout.total_seconds()
    deadline = time.monotonic() + timeout
    delay = 0.5
    while True:
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=_servers(kafka), client_id=f"{kafka.client_id}-admin"
            )
        except (KafkaError, OSError) as exc:
            if time.monotonic() >= deadline:
                raise BrokerUnavailable(
                    f"no Kafka broker reachable at {kafka.bootstrap_servers} "
                    f"after {timeout:.0f} s ({type(exc).__name__})"
                ) from None
            log.warning(
                "broker_unreachable", bootstrap=kafka.bootstrap_servers, retry_in_s=delay
            )
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
            continue
        try:
            cluster = admin.describe_cluster()
            return str(cluster.get("cluster_id") or "")
        finally:
            admin.close()


def ensure_topics(kafka: KafkaSettings, names: Iterable[str] | None = None) -> list[str]:
    """Create the registry's topics that do not exist yet; return the ones created."""
    wanted = list(names) if names is not None else all_topic_names()
    admin = KafkaAdminClient(
        bootstrap_servers=_servers(kafka), client_id=f"{kafka.client_id}-admin"
    )
    try:
        existing = set(admin.list_topics())
        missing = [n for n in wanted if n not in existing]
        created: list[str] = []
        for name in missing:
            try:
                topic = BY_NAME.get(name)
                configs = {"cleanup.policy": "compact"} if topic and topic.compacted else {}
                new = NewTopic(
                    name, kafka.partitions, kafka.replication_factor, topic_configs=configs
                )
                admin.create_topics([new])
                created.append(name)
            except TopicAlreadyExistsError:
                pass  # another process created it between list and create
        if created:
            log.info("topics_created", topics=created, partitions=kafka.partitions)
        return created
    finally:
        admin.close()


def list_topics(kafka: KafkaSettings) -> dict[str, int]:
    """Topic name → partition count, as the broker reports them."""
    consumer = KafkaConsumer(bootstrap_servers=_servers(kafka), client_id=f"{kafka.client_id}-ls")
    try:
        return {t: len(consumer.partitions_for_topic(t) or ()) for t in sorted(consumer.topics())}
    finally:
        consumer.close()
