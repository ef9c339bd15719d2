"""The warm training process (issue 35.3), for real: a server process started by the first
job, jobs forked from it running the real training module, a job killed from outside or
abandoned by its task ending alone, and only the training module served. Each test has its
own temporary folder, so its own server, stopped at the end."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import tempfile
import time
from pathlib import Path

import pytest

from airflow_ml_provider.ml.training import warm_process


@pytest.fixture
def server_folder(monkeypatch):
    """A short private temporary folder (Unix socket paths are at most 107 bytes) for this
    test's server; the server is stopped (SIGTERM, by its pid file) afterwards."""
    folder = tempfile.mkdtemp(prefix="warm-", dir="/tmp")
    monkeypatch.setattr(tempfile, "tempdir", folder)
    yield Path(folder)
    pid_file = Path(warm_process.socket_path() + ".pid")
    if pid_file.exists():
        os.kill(int(pid_file.read_text()), signal.SIGTERM)
        deadline = time.monotonic() + 10
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pid_file.exists(), "the server did not stop on SIGTERM"
    shutil.rmtree(folder, ignore_errors=True)


def blocked_job(fifo: Path) -> tuple[int, int]:
    """The pid of the job reading its job file ``fifo``, and the file's write end, held open
    (without writing) so the job stays blocked reading it."""
    deadline = time.monotonic() + 60
    while True:
        try:
            writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError:  # ENXIO: no reader yet
            assert time.monotonic() < deadline, "the job never opened its job file"
            time.sleep(0.05)
    while time.monotonic() < deadline:  # its open() returns a moment after ours
        for fd_folder in Path("/proc").glob("[0-9]*/fd"):
            if int(fd_folder.parent.name) == os.getpid():
                continue
            try:
                if any(os.readlink(fd) == str(fifo) for fd in fd_folder.iterdir()):
                    return int(fd_folder.parent.name), writer
            except OSError:
                continue
        time.sleep(0.05)
    raise AssertionError("no process holds the job file open")


def test_jobs_run_forked_from_one_warm_server(server_folder, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", "postgres://user:s3cret@db/warehouse")
    first = warm_process.start_warm_job(["--help"], dict(os.environ))
    lines = list(first.stdout)
    assert first.wait() == 0
    assert lines[0].startswith("usage: python -m airflow_ml_provider.ml.train")
    server = int(Path(warm_process.socket_path() + ".pid").read_text())
    # The server keeps none of the starting task's settings or secrets.
    assert b"s3cret" not in Path(f"/proc/{server}/environ").read_bytes()

    bad_job = server_folder / "job.json"
    bad_job.write_text(json.dumps({"version": 1}))
    started = time.monotonic()
    second = warm_process.start_warm_job(["--job", str(bad_job)], dict(os.environ))
    output = "".join(second.stdout)
    assert second.wait() == 2  # the training module's own exit code for a refused job
    assert output.startswith("error: ") and "job" in output
    assert time.monotonic() - started < 5  # no interpreter start-up, no imports
    assert int(Path(warm_process.socket_path() + ".pid").read_text()) == server


def test_a_killed_job_and_an_abandoned_one_end_alone(server_folder):
    fifo = server_folder / "job.fifo"
    os.mkfifo(fifo)
    killed = warm_process.start_warm_job(["--job", str(fifo)], dict(os.environ))
    job, writer = blocked_job(fifo)
    os.kill(job, signal.SIGKILL)  # e.g. the kernel's OOM killer
    assert killed.wait() == -signal.SIGKILL
    os.close(writer)

    abandoned = warm_process.start_warm_job(["--job", str(fifo)], dict(os.environ))
    job, writer = blocked_job(fifo)
    abandoned.kill()  # the task ended (timed out, killed): its connection closes
    deadline = time.monotonic() + 10
    while Path(f"/proc/{job}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{job}").exists(), "the abandoned job kept running"
    os.close(writer)

    after = warm_process.start_warm_job(["--help"], dict(os.environ))
    list(after.stdout)
    assert after.wait() == 0  # the server outlived both


def test_only_the_training_module_is_served(server_folder):
    warm_process.start_warm_job(["--help"], dict(os.environ)).wait()  # starts the server
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.connect(warm_process.socket_path())
    request = {"module": "os", "argv": [], "env": {}, "cwd": "/"}
    connection.sendall(json.dumps(request).encode() + b"\n")
    job = warm_process.WarmJob(connection)
    assert "".join(job.stdout) == "error: not a training module: 'os'\n"
    assert job.wait() == 2
    assert oct(Path(warm_process.socket_path()).parent.stat().st_mode & 0o777) == "0o700"


def test_a_prestarted_server_is_the_one_the_first_job_waits_for(server_folder):
    """A pipeline's first step starts the server without waiting; a job that comes while
    its imports still run waits for that server instead of starting a second one."""
    started = time.monotonic()
    warm_process.prestart()
    assert time.monotonic() - started < 2  # did not wait for the imports
    starting = int(Path(warm_process.socket_path() + ".starting").read_text())
    warm_process.prestart()  # a second step of another run: still the one server
    assert int(Path(warm_process.socket_path() + ".starting").read_text()) == starting

    job = warm_process.start_warm_job(["--help"], dict(os.environ))
    list(job.stdout)
    assert job.wait() == 0
    assert int(Path(warm_process.socket_path() + ".pid").read_text()) == starting
    assert not Path(warm_process.socket_path() + ".starting").exists()
    servers = [
        pid
        for pid in (int(p.name) for p in Path("/proc").glob("[0-9]*"))
        if _command_line(pid).endswith(f"--socket\0{warm_process.socket_path()}\0")
    ]
    assert servers == [starting]


def test_a_job_waiting_for_a_server_that_dies_while_importing_says_so(server_folder):
    """The process named in the ``.starting`` marker exits before it listens (an import
    failed, or it was killed): the waiting job fails with that, within moments, rather than
    waiting out the 60 s start allowance."""
    import subprocess
    import sys

    dying = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1)"])
    Path(warm_process.socket_path() + ".starting").write_text(str(dying.pid))
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="the warm training process exited before it listened"):
        warm_process.start_warm_job(["--help"], dict(os.environ))
    assert time.monotonic() - started < 10
    dying.wait()


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return ""


def test_a_connection_that_says_nothing_leaves_the_server_serving(server_folder):
    warm_process.start_warm_job(["--help"], dict(os.environ)).wait()  # starts the server
    server = int(Path(warm_process.socket_path() + ".pid").read_text())
    for garbage in (b"", b"not json\n", b"[1, 2]\n"):
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect(warm_process.socket_path())
        connection.sendall(garbage)
        connection.shutdown(socket.SHUT_WR)
        connection.recv(1024)  # the supervisor ends the connection
        connection.close()
    after = warm_process.start_warm_job(["--help"], dict(os.environ))
    list(after.stdout)
    assert after.wait() == 0
    assert Path(warm_process.socket_path()).exists()
    assert int(Path(warm_process.socket_path() + ".pid").read_text()) == server


def test_an_unknown_training_mode_is_refused_by_name(monkeypatch):
    from airflow_ml_provider import settings

    monkeypatch.setenv(settings.LOCAL_TRAINING_ENV, "wram")
    with pytest.raises(ValueError, match=r"local_training is 'wram'; expected one of subprocess"):
        settings.local_training()
    monkeypatch.setenv(settings.LOCAL_TRAINING_ENV, "warm")
    assert settings.local_training() == settings.LOCAL_TRAINING_WARM
