"""``airflow-ml up``: Airflow's ``standalone`` on this machine that leaves nothing behind.

``airflow standalone`` starts the scheduler, DAG processor, triggerer and API server, and they
start executors and task supervisors of their own. Stopped with SIGTERM (``kill``, a service
manager, the parent ``make`` going away) it left them running. Here standalone runs as a child
in its own session and, on SIGINT, SIGTERM, SIGHUP or this process's parent dying, every process
it started is stopped: first as standalone itself stops them (SIGINT), then SIGTERM, then
SIGKILL for what still runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import psutil

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
GRACE_SECONDS = 30.0
"""How long standalone gets to stop its components itself before they are terminated."""


def standalone_environment(host: str, port: int) -> dict[str, str]:
    """The environment of ``airflow standalone``: the API server on ``host:port`` (this
    machine only unless told otherwise) and links built for that address."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return {
        **os.environ,
        "AIRFLOW__API__HOST": host,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": os.environ.get(
            "AIRFLOW__API__BASE_URL", f"http://{shown}:{port}"
        ),
    }


def _die_with_parent() -> None:
    """Ask Linux for SIGTERM when the process that started us dies (``make`` killed)."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _tree(process: subprocess.Popen) -> list[psutil.Process]:
    """``process`` and every process it started that still runs."""
    with contextlib.suppress(psutil.NoSuchProcess):
        root = psutil.Process(process.pid)
        return [root, *root.children(recursive=True)]
    return []


def _signal_all(processes: list[psutil.Process], signum: int) -> None:
    for each in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            each.send_signal(signum)


def stop_tree(process: subprocess.Popen, grace: float = GRACE_SECONDS) -> list[int]:
    """Stop ``process`` and everything it started; return the ids of what had to be killed.

    The tree is listed before anything is signalled: a component whose parent exits first
    is re-parented to init and would no longer show as a descendant."""
    processes = _tree(process)
    seen = {each.pid: each for each in processes}
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGINT)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
        seen.update((each.pid, each) for each in _tree(process))
    alive = [each for each in seen.values() if each.is_running()]
    _signal_all(alive, signal.SIGTERM)
    _, alive = psutil.wait_procs(alive, timeout=10)
    _signal_all(alive, signal.SIGKILL)
    psutil.wait_procs(alive, timeout=5)
    process.poll()
    return [each.pid for each in alive]


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into KeyboardInterrupt (as SIGINT already is) while inside."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {signum: signal.signal(signum, interrupt) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def up(host: str, port: int) -> int:
    """Run ``airflow standalone`` until it exits or this process is told to stop."""
    _die_with_parent()
    command = [sys.executable, "-m", "airflow", "standalone"]
    print(f"Airflow on http://{host}:{port} (Ctrl-C stops it and all it started)", flush=True)
    with _stop_on_signals():
        process = subprocess.Popen(
            command, env=standalone_environment(host, port), start_new_session=True
        )
        try:
            return process.wait()
        except KeyboardInterrupt:
            print("stopping Airflow and every process it started...", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                killed = stop_tree(process)
                if killed:
                    print(f"killed {len(killed)} process(es) that did not stop", flush=True)
            return 0
        finally:
            if process.poll() is None:
                stop_tree(process, grace=5)
