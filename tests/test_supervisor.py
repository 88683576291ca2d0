"""The supervisor's process layout: several processes for one stage."""

from __future__ import annotations

import signal
from pathlib import Path

from structlog.testing import capture_logs

from tests.test_graceful_shutdown import StandInSupervisor

# Says it is ready (one file per process) once its SIGTERM handler is in place.
POLITE_PER_PROCESS = """
import os, pathlib, signal, sys, time
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
pathlib.Path(f"{sys.argv[1]}-{os.getpid()}").write_text("ready")
while not stop:
    time.sleep(0.05)
"""


def test_a_stage_given_three_processes_runs_three_and_each_is_stopped(tmp_path: Path) -> None:
    programs = {"wide": POLITE_PER_PROCESS, "narrow": POLITE_PER_PROCESS}
    supervisor = StandInSupervisor(programs, tmp_path, 10.0)
    supervisor.processes = {"wide": 3}

    def all_ready() -> bool:
        return len(list(tmp_path.glob("*-*"))) == 4

    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        with capture_logs() as logs:
            code = supervisor.run(done=all_ready, check_every=0.1)
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    assert code == 0
    started = [(e["stage"], e["replica"]) for e in logs if e["event"] == "stage_process_started"]
    assert sorted(started) == [("narrow", 1), ("wide", 1), ("wide", 2), ("wide", 3)]
    assert len({e["pid"] for e in logs if e["event"] == "stage_process_started"}) == 4
    stopped = sorted(e["stage"] for e in logs if e["event"] == "stage_process_stopped")
    assert stopped == ["narrow", "wide-1", "wide-2", "wide-3"]
    assert [child.process.poll() for child in supervisor.children if child.process] == [0] * 4
