"""`news-ingest run`: one process per stage, supervised, on one broker.

Each stage runs as `python -m ingest worker NAME` (the same code path as a
stand-alone worker). A stage that exits unexpectedly is restarted with
backoff; it resumes from its last committed offsets. Children die with the
supervisor (PR_SET_PDEATHSIG), so a SIGKILLed `run` leaves no stray stage
behind, while the embedded broker, started in its own session, lives on for
the next `run` to reuse.

On SIGTERM/SIGINT every stage gets SIGTERM and the grace period
(`[supervisor] grace_period`) to finish its batch, commit and exit; a stage
still running then is killed with its whole process group (the cleaner's
extraction workers too), and one error line names it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import structlog

from ingest.core.settings import load_settings

log = structlog.get_logger()

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass  # not Linux: children may outlive a killed supervisor


@dataclass
class _Child:
    name: str  # the stage
    replica: int = 1
    label: str = ""  # the stage, or `stage-N` when the stage runs several processes
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = 0.0


@dataclass
class Supervisor:
    """Starts, watches and stops the stage processes."""

    stages: Sequence[str]
    config_file: Path | None
    env: Mapping[str, str]
    grace_seconds: float | None = None  # None: `[supervisor] grace_period` of the settings
    metrics_port: int = 0  # process i serves /metrics on metrics_port + i (0: off)
    processes: Mapping[str, int] = field(default_factory=dict)  # stage -> count (default 1)
    children: list[_Child] = field(default_factory=list)
    _stopping: bool = False

    def command(self, name: str) -> list[str]:
        cmd = [sys.executable, "-m", "ingest", "worker", name]
        if self.config_file is not None:
            cmd += ["--config", str(self.config_file)]
        return cmd

    def _start(self, child: _Child) -> None:
        env = {**os.environ, **self.env}
        if self.metrics_port:
            port = self.metrics_port + self.children.index(child)
            env["NEWS_INGEST_OBSERVABILITY__METRICS_PORT"] = str(port)
        child.process = subprocess.Popen(
            self.command(child.name),
            env=env,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, safe after fork
            # Own process group: a terminal's Ctrl-C reaches only the supervisor,
            # which then stops each child once (a second signal would force-exit it).
            process_group=0,
        )
        child.started_at = time.monotonic()
        log.info("stage_process_started", stage=child.name, replica=child.replica,
                 pid=child.process.pid)

    def run(self, done: Callable[[], bool] | None = None, check_every: float = 1.0) -> int:
        """Supervise until a signal, or until `done()` (checked every few seconds) is true."""
        if self.grace_seconds is None:
            # Read here, before any stage starts, so that an invalid value stops start-up.
            grace = load_settings(self.config_file).supervisor.grace_period
            self.grace_seconds = grace.total_seconds()
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        self.children = [
            _Child(name, replica, name if self.processes.get(name, 1) == 1 else f"{name}-{replica}")
            for name in self.stages
            for replica in range(1, self.processes.get(name, 1) + 1)
        ]
        for child in self.children:
            self._start(child)
        next_check = time.monotonic() + check_every
        while not self._stopping:
            time.sleep(0.2)
            for child in self.children:
                self._watch(child)
            if done is not None and time.monotonic() >= next_check:
                if done():
                    break
                next_check = time.monotonic() + check_every
        return self.stop()

    def _watch(self, child: _Child) -> None:
        if self._stopping:
            return
        now = time.monotonic()
        if child.process is None:
            if now >= child.next_start:
                self._start(child)
            return
        code = child.process.poll()
        if code is None:
            if now - child.started_at > 60:
                child.restarts = 0  # it ran long enough: forget earlier crashes
            return
        delay = min(2.0 ** child.restarts, 30.0)
        log.error("stage_process_exited", stage=child.name, replica=child.replica,
                  exit_code=code, restart_in_s=delay)
        child.process = None
        child.restarts += 1
        child.next_start = now + delay

    def _on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        if self._stopping:
            os._exit(130)  # second signal: stop waiting for children
        self._stopping = True

    def stop(self) -> int:
        """SIGTERM every stage, wait up to the grace period, then kill the ones still running."""
        grace = self.grace_seconds if self.grace_seconds is not None else 0.0
        running: dict[str, subprocess.Popen[bytes]] = {}
        for child in self.children:
            if child.process is not None and child.process.poll() is None:
                # Only the stage's own process: its helpers (the cleaner's pool) are its to stop.
                child.process.send_signal(signal.SIGTERM)
                running[child.label] = child.process
        log.info("stages_stopping", stages=list(running), grace_s=grace)
        asked = time.monotonic()
        codes: dict[str, int] = {}
        while True:
            for name, process in list(running.items()):
                code = process.poll()
                if code is not None:
                    codes[name] = code
                    del running[name]
                    log.info("stage_process_stopped", stage=name, exit_code=code,
                             after_s=round(time.monotonic() - asked, 2))
            if not running or time.monotonic() >= asked + grace:
                break
            time.sleep(0.05)
        for name, process in running.items():
            log.error(
                "stage_killed_after_grace_period", stage=name, pid=process.pid, grace_s=grace,
                hint="its uncommitted batch is replayed at the next start",
            )
            _kill_group(process)
            codes[name] = process.wait()
        failed = sorted(name for name, code in codes.items() if code != 0)
        log.info("stages_stopped", stages=len(codes), failed=failed, killed=list(running))
        return 0


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the stage and every process of its group (each stage leads its own group)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # exited (and its group emptied) since the last look
    except PermissionError:
        process.kill()
