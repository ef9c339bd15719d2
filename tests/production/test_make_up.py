"""`make up PORT=...`: the real Makefile target starts the real `airflow standalone` (scheduler,
dag-processor, triggerer, api-server) in a scratch AIRFLOW_HOME, serving on the chosen port,
and SIGTERM to `make` (a `kill`, a service manager) stops every process it started."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from helpers.network import free_port
from helpers.paths import REPO
from helpers.processes import stop_group


def health(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5
        ) as r:
            return json.loads(r.read())
    except OSError:
        return None


def listening_addresses(port: int) -> set[str]:
    """The IPv4 addresses a TCP socket listens on ``port`` at (the kernel's /proc table)."""
    import ipaddress

    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.add(str(ipaddress.IPv4Address(bytes.fromhex(address)[::-1])))
    return found


def test_make_up_serves_on_the_chosen_port_and_sigterm_leaves_no_process(tmp_path):
    import psutil

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env["AIRFLOW_HOME"] = str(tmp_path / "home")
    with open(tmp_path / "make-up.log", "w") as log:
        process = subprocess.Popen(
            ["make", "-s", "up", f"PORT={port}"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            deadline, answer = time.monotonic() + 240, None
            while answer is None and time.monotonic() < deadline and process.poll() is None:
                time.sleep(2)
                answer = health(port)
            assert answer is not None, (tmp_path / "make-up.log").read_text()[-3000:]
            assert answer["metadatabase"]["status"] == "healthy"
            assert (tmp_path / "home" / "airflow.db").exists()  # its own home, not the repo's
            assert listening_addresses(port) == {"127.0.0.1"}  # not every interface
            started = psutil.Process(process.pid).children(recursive=True)
            assert len(started) >= 5, started  # standalone and its components
            os.kill(process.pid, signal.SIGTERM)  # make alone, as `kill <pid>` would
            gone, alive = psutil.wait_procs(started, timeout=120)
            assert alive == [], [(p.pid, p.cmdline()[:4]) for p in alive]
        finally:
            stop_group(process)  # standalone stops its components on SIGINT
