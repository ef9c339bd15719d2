"""A warm training process: a server, one per worker, that has imported pandas,
scikit-learn and MLflow once and forks each training job from itself, so a job starts in
milliseconds instead of paying those imports (~3.5 s) in a fresh interpreter.

Each job is isolated the way a subprocess is: it is forked by a supervisor of its own, runs
with the environment and working folder the task sent, and its output (stdout and stderr)
goes back over the task's connection. A job that crashes takes only itself down; when the
task goes away (its process killed, timed out, the worker gone), the supervisor sees the
connection close and kills the job. The server serves jobs of the training module only,
to its own user (the socket's folder is private), and exits after ``IDLE_SECONDS`` without
a job.

Protocol, over a Unix socket: the task sends one JSON line ``{"module", "argv", "env",
"cwd"}``; it receives the job's output, then one line ``EXIT_MARK <exit code>``.
No Airflow imports: ``[ml_provider] local_training = warm`` selects it in the operator.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

TRAIN_MODULE = "airflow_ml_provider.ml.train"
SERVED_MODULES = (TRAIN_MODULE,)
PRELOADED = ("pandas", "pyarrow.parquet", "sklearn.pipeline", "mlflow", TRAIN_MODULE)
TRACKING_STORES = ("mlflow.store.tracking.sqlalchemy_store", "mlflow.store.tracking.rest_store")
"""MLflow imports a tracking store's module when a process first talks to it: ~1.2 s for a
database store (SQLAlchemy's models and dialects), which every job would pay; loaded when
installed (mlflow-skinny has no database store)."""
EXIT_MARK = "\x00airflow-ml-exit"
IDLE_SECONDS = 1800
START_SECONDS = 60.0
"""How long a task waits for a server it started to listen (the imports take ~5-10 s)."""


def socket_path() -> str:
    """This worker's server socket: one per user, Python and installed package, so a server
    started by another interpreter or an older install of this package is never used."""
    import airflow_ml_provider

    origin = f"{sys.executable}|{airflow_ml_provider.__file__}|{_package_stamp()}"
    digest = hashlib.sha256(origin.encode()).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / f"airflow-ml-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)
    return str(folder / f"warm-{digest}.sock")


def _package_stamp() -> str:
    """When the installed training code last changed (a new install restarts the server)."""
    package = Path(__file__).resolve().parents[2]
    return str(max(p.stat().st_mtime_ns for p in package.rglob("*.py")))


# -- the task's side ------------------------------------------------------------------


class WarmJob:
    """A training job run by the warm server, read like a ``subprocess.Popen`` with its
    output piped: ``stdout`` yields its lines, ``wait`` gives its exit code, ``kill`` ends
    it (closing the connection, on which the supervisor kills the job)."""

    def __init__(self, connection: socket.socket) -> None:
        self._connection = connection
        self._reader = connection.makefile("r", encoding="utf-8", errors="replace", newline="")
        self.returncode: int | None = None
        self.stdout: Iterator[str] = self._lines()

    def _lines(self) -> Iterator[str]:
        for line in self._reader:
            before, mark, code = line.partition(EXIT_MARK)
            if mark:
                if before:  # the job's last line had no newline
                    yield before + "\n"
                self.returncode = int(code)
                return
            yield line
        if self.returncode is None:  # the connection closed without an exit line
            self.returncode = -1
            yield "error: the warm training process ended the connection without an exit code\n"

    def wait(self) -> int:
        for _ in self.stdout:
            pass
        self.kill()
        assert self.returncode is not None
        return self.returncode

    def poll(self) -> int | None:
        return self.returncode

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self._reader.close()
            self._connection.close()


def start_warm_job(argv: list[str], env: dict[str, str], cwd: str | None = None) -> WarmJob:
    """Run ``python -m TRAIN_MODULE *argv`` in the warm server (started when none listens)."""
    import fcntl

    path = socket_path()
    with open(f"{path}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one task starts the server; the others wait for it
        connection = _connect(path)
        if connection is None:
            if not _starting(path):  # else an earlier step started it: its imports run
                _start_server(path)
            connection = _wait_for_server(path)
    request = {"module": TRAIN_MODULE, "argv": argv, "env": env, "cwd": cwd or os.getcwd()}
    connection.sendall(json.dumps(request).encode() + b"\n")
    return WarmJob(connection)


def prestart() -> None:
    """Start this worker's warm server when none runs or is starting, without waiting for
    it: a pipeline's first step calls it, so that training finds the imports done."""
    import fcntl

    path = socket_path()
    with open(f"{path}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (_alive(f"{path}.pid") or _starting(path)):
            _start_server(path)


def _starting(path: str) -> bool:
    """Whether a server started in the last ``START_SECONDS`` is still importing."""
    marker = Path(f"{path}.starting")
    try:
        recent = time.time() - marker.stat().st_mtime < START_SECONDS
    except OSError:
        return False
    return recent and _alive(str(marker))


def _alive(pid_file: str) -> bool:
    """Whether the process whose id ``pid_file`` holds runs (a zombie does not)."""
    try:
        pid = int(Path(pid_file).read_text())
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _connect(path: str) -> socket.socket | None:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(path)
    except OSError:
        connection.close()
        return None
    return connection


SERVER_ENVIRONMENT = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV")
"""What the server keeps of the starting task's environment: no task's settings or secrets
(each job gets its own task's whole environment)."""


def _start_server(path: str) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", __name__, "--socket", path],
        env={name: os.environ[name] for name in SERVER_ENVIRONMENT if name in os.environ},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # not in the task's process group: it outlives the task
        close_fds=True,
    )
    Path(f"{path}.starting").write_text(str(server.pid))  # until it listens (serve)


def _wait_for_server(path: str) -> socket.socket:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        connection = _connect(path)
        if connection is not None:
            return connection
        if not _starting(path):
            raise RuntimeError(f"the warm training process exited before it listened on {path}")
        time.sleep(0.1)
    raise RuntimeError(f"the warm training process did not listen on {path} within 60 s")


# -- the server's side ----------------------------------------------------------------


def serve(path: str) -> None:
    """Import the training stack, listen on ``path``, fork a supervisor per connection."""
    import importlib

    for module in PRELOADED:
        importlib.import_module(module)
    for module in TRACKING_STORES:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    from airflow_ml_provider.ml.training.model_logging import read_once_per_process

    read_once_per_process()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # a server that died left its socket behind (nothing answered on it)
    listener.bind(path)
    os.chmod(path, 0o600)
    Path(f"{path}.pid").write_text(str(os.getpid()))  # to stop it: SIGTERM this process
    with contextlib.suppress(FileNotFoundError):
        os.unlink(f"{path}.starting")
    listener.listen(16)
    listener.settimeout(IDLE_SECONDS)
    signal.signal(signal.SIGTERM, _stop)  # leave no socket behind
    supervisors: set[int] = set()
    try:
        while True:
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                if not _reap(supervisors):
                    return
                continue
            pid = os.fork()
            if pid == 0:  # never returns: an error must not run the server's cleanup below
                try:
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)
                    listener.close()
                    _supervise(connection)
                finally:
                    os._exit(0)
            connection.close()
            supervisors.add(pid)
            _reap(supervisors)
    finally:
        for leftover in (path, f"{path}.pid"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _reap(supervisors: set[int]) -> set[int]:
    """Collect finished supervisors; the ones still running."""
    for pid in list(supervisors):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            supervisors.discard(pid)
    return supervisors


def _supervise(connection: socket.socket) -> None:
    """Run one job and report its exit code; kill it when the task's side goes away."""
    with connection.makefile("rb") as reader:
        line = reader.readline()
    try:
        request = json.loads(line)
    except ValueError:  # not a task of ours (or one gone before it asked): nothing to run
        return
    module = request.get("module") if isinstance(request, dict) else None
    if module not in SERVED_MODULES:
        connection.sendall(f"error: not a training module: {module!r}\n".encode())
        connection.sendall(f"{EXIT_MARK} 2\n".encode())
        return
    job = os.fork()
    if job == 0:
        _run_job(connection, request)  # never returns
    with contextlib.suppress(OSError):  # also set by the job itself: whichever runs first
        os.setpgid(job, job)
    code = _watch(job, connection)
    with contextlib.suppress(OSError):
        connection.sendall(f"{EXIT_MARK} {code}\n".encode())


def _watch(job: int, connection: socket.socket) -> int:
    poller = select.poll()
    poller.register(connection, select.POLLIN | select.POLLHUP)
    while True:
        done, status = os.waitpid(job, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if poller.poll(200) and _hung_up(connection):
            os.killpg(job, signal.SIGKILL)
            os.waitpid(job, 0)
            return -signal.SIGKILL


def _hung_up(connection: socket.socket) -> bool:
    try:
        return connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def _run_job(connection: socket.socket, request: dict) -> None:
    """In the forked job: the task's environment, folder, arguments and output; then exit
    with what the module's ``main(argv)`` returned, as ``python -m module`` would."""
    import importlib
    import traceback

    with contextlib.suppress(OSError):
        os.setpgid(0, 0)  # its own group: killing the job kills what it started
    for stream in (1, 2):
        os.dup2(connection.fileno(), stream)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 (the job's stdout)
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    os.environ.clear()
    os.environ.update(request["env"])
    tempfile.tempdir = None  # found again from the job's own TMPDIR
    os.chdir(request["cwd"])
    sys.argv = [request["module"], *request["argv"]]
    code = 0
    try:
        code = importlib.import_module(request["module"]).main(request["argv"]) or 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        if not isinstance(exit_.code, int | None):
            print(exit_.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main() -> None:
    parser = argparse.ArgumentParser(description="airflow-ml's warm training process")
    parser.add_argument("--socket", required=True)
    serve(parser.parse_args().socket)


if __name__ == "__main__":
    main()
