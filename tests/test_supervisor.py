"""The supervisor's process layout: several processes for one stage."""

from __future__ import annotations

import signal
from pathlib import Path

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
        code = supervisor.run(done=all_ready, check_every=0.1)
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    assert code == 0
    layout = sorted((c.name, c.replica, c.label) for c in supervisor.children)
    assert layout == [
        ("narrow", 1, "narrow"), ("wide", 1, "wide-1"), ("wide", 2, "wide-2"), ("wide", 3, "wide-3")
    ]
    pids = {int(path.name.rsplit("-", 1)[1]) for path in tmp_path.glob("*-*")}
    assert pids == {c.process.pid for c in supervisor.children if c.process}
    # Each exited 0: it got SIGTERM and left through its handler, none was killed.
    assert [c.process.poll() for c in supervisor.children if c.process] == [0] * 4
