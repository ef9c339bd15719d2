"""A real GCS endpoint for tests: the gcp-storage-emulator server on 127.0.0.1.

Import the fixture into a test module (``from gcs_emulator import gcs  # noqa: F401``). It
starts the emulator as a subprocess on a free port (stopped by its pid afterwards), creates a
bucket and the Airflow connection ``gcs_emulator`` (type google_cloud_platform, anonymous
credentials, extra ``gcs.endpoint``), so ``ObjectStoragePath("gs://...", conn_id=...)`` goes
through the google provider and gcsfs to the emulator over HTTP.

gcsfs >= 2025 imports ``ExtendedGcsFileSystem`` unless GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT is
false; that class first asks the Storage Control gRPC API for the bucket type (zonal /
hierarchical), which the emulator does not speak, and every open() then retries for up to
~60 s. The fixture turns it off for this process (the plain GCSFileSystem) and for
subprocesses (the environment variable). Against real GCS nothing needs changing.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from helpers.network import free_port

CONN_ID = "gcs_emulator"
_START_TIMEOUT = 20.0


@dataclass
class GcsEmulator:
    endpoint: str
    bucket: str
    conn_id: str
    client: Any  # google.cloud.storage.Client on the emulator, anonymous credentials
    pid: int

    def upload(self, name: str, data: bytes | str) -> Any:
        """Put one object into the bucket; returns its blob (with ``updated`` loaded)."""
        blob = self.client.bucket(self.bucket).blob(name)
        blob.upload_from_string(data)
        blob.reload()
        return blob

    def uri(self, key: str = "") -> str:
        return f"gs://{self.bucket}/{key}"


def _wait_for(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gcp-storage-emulator exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"gcp-storage-emulator did not listen on 127.0.0.1:{port}")


def _forget_cached_stores() -> None:
    """Airflow caches one filesystem per (protocol, conn_id): drop ours between emulators."""
    from airflow.sdk.io import store

    for alias in [a for a in store._STORE_CACHE if a.endswith(f"-{CONN_ID}")]:
        del store._STORE_CACHE[alias]


@pytest.fixture(scope="module")
def gcs():
    """A running emulator with one fresh bucket and the ``gcs_emulator`` Airflow connection."""
    import gcsfs
    import gcsfs.core
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    bucket = f"test-{uuid.uuid4().hex[:12]}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gcp_storage_emulator",
            "start",
            "--host=127.0.0.1",
            f"--port={port}",
            "--in-memory",
            f"--default-bucket={bucket}",
            "--quiet",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    connection = {
        "conn_type": "google_cloud_platform",
        "extra": {"project": "test-project", "is_anonymous": True, "gcs.endpoint": endpoint},
    }
    with pytest.MonkeyPatch.context() as patch:
        try:
            _wait_for(port, process)
            patch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(connection))
            patch.setenv("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
            patch.setenv("STORAGE_EMULATOR_HOST", endpoint)
            patch.setattr(gcsfs, "GCSFileSystem", gcsfs.core.GCSFileSystem)
            _forget_cached_stores()
            client = storage.Client(
                project="test-project",
                credentials=AnonymousCredentials(),
                client_options={"api_endpoint": endpoint},
            )
            yield GcsEmulator(endpoint, bucket, CONN_ID, client, process.pid)
        finally:
            _forget_cached_stores()
            os.kill(process.pid, 15)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, 9)
                process.wait()
