"""The deployment files fit together: compose services, image, config and settings.

No container engine runs here, so these tests read the files: every stage gets a
service from the one image, the broker address points at the KRaft Kafka
service, the config path and data dir agree between compose, Dockerfile and the
settings, and the example config is valid.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingest.core.settings import load_settings
from ingest.core.stages import stage_names

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / "deploy" / "Dockerfile.dockerignore"
EXAMPLE_CONFIG = ROOT / "deploy" / "news-ingest.toml"
BOOTSTRAP_ENV = "NEWS_INGEST_KAFKA__BOOTSTRAP_SERVERS"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    joined: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    pairs = []
    for line in joined:
        instruction, _, args = line.partition(" ")
        pairs.append((instruction.upper(), args.strip()))
    return pairs


def runtime_stage() -> list[tuple[str, str]]:
    """The instructions of the final build stage (from its FROM on)."""
    instructions = dockerfile_instructions()
    last_from = max(i for i, (name, _) in enumerate(instructions) if name == "FROM")
    return instructions[last_from:]


def env_map(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def config_path_of(service: dict[str, Any]) -> str:
    command: list[str] = service["command"]
    return command[command.index("--config") + 1]


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for name, args in runtime_stage():
        if name == "ENV":
            for token in shlex.split(args):
                key, _, value = token.partition("=")
                env[key] = value
    return env


# --- compose ----------------------------------------------------------------------


def test_compose_has_kafka_topics_and_one_service_per_stage(
    services: dict[str, dict[str, Any]],
) -> None:
    assert set(services) == {"kafka", "topics", *stage_names()}


def test_every_stage_service_runs_its_own_stage_with_the_config_file(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in stage_names():
        command = services[name]["command"]
        assert command[:2] == ["worker", name]
        assert command[2] == "--config"


def test_every_news_ingest_service_uses_the_same_build_and_image(
    services: dict[str, dict[str, Any]],
) -> None:
    ours = [services[n] for n in [*stage_names(), "topics"]]
    builds = {json.dumps(s["build"], sort_keys=True) for s in ours}
    images = {s["image"] for s in ours}
    assert len(builds) == 1
    assert len(images) == 1
    build = ours[0]["build"]
    assert (ROOT / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE


def test_bootstrap_servers_env_points_at_the_kafka_service_listener(
    services: dict[str, dict[str, Any]],
) -> None:
    advertised = env_map(services["kafka"])["KAFKA_ADVERTISED_LISTENERS"].split(",")
    advertised_hosts = {listener.split("://", 1)[1] for listener in advertised}
    for name in [*stage_names(), "topics"]:
        bootstrap = env_map(services[name])[BOOTSTRAP_ENV]
        host, _, _port = bootstrap.partition(":")
        assert host in services, f"{name}: {bootstrap} is not a compose service"
        assert bootstrap in advertised_hosts, f"{name}: {bootstrap} is not advertised by Kafka"


def test_kafka_is_the_apache_image_in_kraft_mode(services: dict[str, dict[str, Any]]) -> None:
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = env_map(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    voter_id, _, voter_address = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].partition("@")
    assert voter_id == env["KAFKA_NODE_ID"]
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    listeners = dict(item.split("://", 1) for item in env["KAFKA_LISTENERS"].split(","))
    assert voter_address.endswith(listeners[controller])
    protocols = dict(
        item.split(":", 1) for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    assert set(listeners) <= set(protocols)
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert env["CLUSTER_ID"]


def test_kafka_has_a_healthcheck_and_the_stages_wait_for_it(
    services: dict[str, dict[str, Any]],
) -> None:
    assert services["kafka"]["healthcheck"]["test"]
    for name in [*stage_names(), "topics"]:
        assert services[name]["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_topics_is_a_one_shot_that_the_stages_wait_for(
    services: dict[str, dict[str, Any]],
) -> None:
    topics = services["topics"]
    assert topics["command"][:2] == ["topics", "create"]
    assert topics["restart"] == "no"
    assert "topics" not in topics["depends_on"]
    for name in stage_names():
        condition = services[name]["depends_on"]["topics"]["condition"]
        assert condition == "service_completed_successfully"


def test_stage_services_keep_their_data_dir_on_a_declared_volume(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    data_dir = dockerfile_env()["NEWS_INGEST_DATA_DIR"]
    declared = set(compose["volumes"])
    volume_sources = []
    for name in stage_names():
        mounts = [v.split(":") for v in services[name]["volumes"]]
        on_data_dir = [m[0] for m in mounts if m[1] == data_dir]
        assert len(on_data_dir) == 1, name
        assert on_data_dir[0] in declared, name
        volume_sources.append(on_data_dir[0])
    assert len(set(volume_sources)) == len(volume_sources), "stages must not share state files"


def test_config_file_is_mounted_where_the_commands_look_for_it(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in [*stage_names(), "topics"]:
        target = config_path_of(services[name])
        mounts = [v.split(":") for v in services[name]["volumes"]]
        sources = [m[0] for m in mounts if m[1] == target]
        assert sources, f"{name}: nothing mounted at {target}"
        assert (ROOT / sources[0]).resolve() == EXAMPLE_CONFIG


# --- Dockerfile -------------------------------------------------------------------


def test_dockerfile_runs_news_ingest_on_python_311_slim_as_non_root() -> None:
    final = runtime_stage()
    assert final[0][1].split()[0] == "python:3.11-slim"
    entrypoints = [json.loads(args) for name, args in final if name == "ENTRYPOINT"]
    assert entrypoints == [["news-ingest"]]
    users = [args for name, args in final if name == "USER"]
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_dockerfile_installs_the_project_from_the_build_context() -> None:
    copies = [args.split() for name, args in dockerfile_instructions() if name == "COPY"]
    from_context = [c for c in copies if not c[0].startswith("--from")]
    sources = {src for c in from_context for src in c[:-1]}
    assert {"pyproject.toml", "ingest", "workers"} <= sources
    for source in sources:
        assert (ROOT / source).exists(), source
    ignore = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    for source in sources:
        assert f"!{source}" in ignore or f"!{source}/" in ignore, f"{source} is excluded"
    runs = " ".join(args for name, args in dockerfile_instructions() if name == "RUN")
    assert "pip wheel" in runs
    assert "pip install" in runs


def test_image_config_copy_is_at_the_path_compose_uses(
    services: dict[str, dict[str, Any]],
) -> None:
    copies = [args.split() for name, args in runtime_stage() if name == "COPY"]
    targets = {c[-1] for c in copies if c[0] == "deploy/news-ingest.toml"}
    assert targets == {config_path_of(services["poller"])}


# --- example config -----------------------------------------------------------------


def test_example_config_is_valid_and_takes_the_broker_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, services: dict[str, dict[str, Any]]
) -> None:
    monkeypatch.setenv(BOOTSTRAP_ENV, env_map(services["poller"])[BOOTSTRAP_ENV])
    monkeypatch.setenv("NEWS_INGEST_DATA_DIR", dockerfile_env()["NEWS_INGEST_DATA_DIR"])
    settings = load_settings(EXAMPLE_CONFIG)
    assert settings.kafka.bootstrap_servers == "kafka:9092"
    assert str(settings.data_dir) == dockerfile_env()["NEWS_INGEST_DATA_DIR"]
    monkeypatch.delenv("NEWS_INGEST_DATA_DIR")
    assert load_settings(EXAMPLE_CONFIG).data_dir == Path(".news-ingest"), "local runs"
    assert settings.feeds
    assert not settings.http.allow_private_networks


def test_example_config_leaves_the_broker_unset_so_the_environment_decides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(BOOTSTRAP_ENV, raising=False)
    assert load_settings(EXAMPLE_CONFIG).kafka.bootstrap_servers is None
