"""A Kubernetes API server stand-in on 127.0.0.1 with a test "kubelet" that runs pods locally.

What is real: HTTP. KubernetesPodOperator (sync and deferrable), its PodManager, the
kubernetes client, kubernetes_asyncio in the trigger and the websocket exec client all talk
to this server over a real socket, using a real kubeconfig; nothing in them is patched.

What is stood in for:

* the API server: only the core/v1 calls KPO makes, for Pods (create, list with label
  selectors ``k=v``, ``k!=v``, ``!k``; get; patch of labels; delete), Pod logs (follow,
  timestamps, tailLines, sinceSeconds), Events (always an empty list; a watch ends after a
  second) and Pod exec over the ``v4.channel.k8s.io`` websocket protocol — no admission, no
  RBAC, no resourceVersions, no scheduler;
* the kubelet: when a pod is created, its first container's command and args run as a LOCAL
  subprocess with the pod's env (``PATH`` gets this interpreter's folder first, so
  ``python`` is the test venv's python; images are not pulled, the security context is not
  enforced). Volume mounts become per-pod folders: an env value equal to a mount path, or a
  mount path that does not exist on this machine followed by ``/`` inside env values and
  args, is rewritten to that folder (so ``HOME=/tmp`` and ``/airflow/xcom/return.json`` land
  in the pod's folders, while data under the real /tmp stays where it is);
* the XCom sidecar (when the pod has one: without do_xcom_push the pod ends with its base
  container): never runs; an exec of KPO's ``cat /airflow/xcom/return.json`` command
  in ``airflow-xcom-sidecar`` answers with the pod's xcom folder's ``return.json`` (or
  KPO's empty marker), and the kill command (stdin ``kill -2 ...``) marks the sidecar
  terminated, which ends the pod (Succeeded when the base container exited 0);
* failures: a pod whose image is listed in ``StandIn.behaviours`` does not run but reports
  ``oom`` (OOMKilled, exit 137), ``evicted`` (phase Failed, reason Evicted),
  ``image_pull`` (waiting ImagePullBackOff) or ``unschedulable`` (PodScheduled False,
  reason Unschedulable, with a scheduler-like message); ``oom_once`` is OOMKilled the
  first time that image runs and runs normally after (a retry that succeeds); ``hang``
  keeps running until the pod is deleted.

Usage: ``with StandIn() as cluster: cluster.kubeconfig`` (a file path); ``cluster.pods``
holds the live pods as JSON dicts, ``cluster.created`` every pod ever created.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web

EMPTY_XCOM = "__airflow_xcom_result_empty__"
SIDECAR = "airflow-xcom-sidecar"
EVICTED_MESSAGE = (
    "The node was low on resource: memory. Threshold quantity: 100Mi, available: 52Mi. "
    "Container base was using 7Gi, request is 4Gi, has larger consumption of memory."
)
UNSCHEDULABLE_MESSAGE = (
    "0/3 nodes are available: 3 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are "
    "available: 3 No preemption victims found for incoming pod."
)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _status(code: int, reason: str, message: str) -> web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure"}
    body.update({"message": message, "reason": reason, "code": code})
    return web.json_response(body, status=code)


async def forward(request: web.Request, port: int, path: str) -> web.Response:
    """``request`` sent on to a local server on ``port`` at ``path``; its answer."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            request.method,
            f"http://127.0.0.1:{port}/{path}",
            data=await request.read(),
            headers={"Content-Type": request.headers.get("Content-Type", "")},
        ) as answer,
    ):
        return web.Response(
            status=answer.status, body=await answer.read(), content_type=answer.content_type
        )


def _selector_matches(selector: str, labels: dict[str, str]) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if term.startswith("!"):
            if term[1:] in labels:
                return False
        elif "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.split("=", 1)
            if labels.get(key.rstrip("=")) != value:
                return False
        elif term not in labels:
            return False
    return True


class _Pod:
    """One pod's kubelet-side state: folders, process, log lines, container states."""

    def __init__(self, body: dict[str, Any], root: Path) -> None:
        self.body = body
        self.root = root
        self.logs: list[tuple[float, str]] = []
        self.process: subprocess.Popen | None = None
        self.base_exit: int | None = None
        self.lock = threading.Lock()
        self.mounts: dict[str, Path] = {}
        base = body["spec"]["containers"][0]
        for mount in base.get("volumeMounts") or []:
            folder = root / mount["name"]
            folder.mkdir(parents=True, exist_ok=True)
            self.mounts[mount["mountPath"]] = folder

    @property
    def name(self) -> str:
        return self.body["metadata"]["name"]

    @property
    def base(self) -> dict[str, Any]:
        return self.body["spec"]["containers"][0]

    def local(self, value: str) -> str:
        """A string from the pod's view of the filesystem, as a path on this machine."""
        if value in self.mounts:
            return str(self.mounts[value])
        for mount, folder in self.mounts.items():
            if not os.path.exists(mount):
                value = value.replace(mount.rstrip("/") + "/", str(folder) + "/")
        return value

    @property
    def has_sidecar(self) -> bool:
        """KPO adds the XCom sidecar only with do_xcom_push (a team trainer image has none)."""
        return any(c["name"] == SIDECAR for c in self.body["spec"]["containers"])

    def container_status(self, name: str, state: dict[str, Any]) -> dict[str, Any]:
        image = next(c["image"] for c in self.body["spec"]["containers"] if c["name"] == name)
        return {
            "name": name,
            "image": image,
            "imageID": "",
            "ready": "running" in state,
            "started": "running" in state,
            "restartCount": 0,
            "state": state,
            "lastState": {},
        }

    def set_status(self, phase: str, containers: dict[str, dict[str, Any]] | None, **extra):
        status: dict[str, Any] = {
            "phase": phase,
            "conditions": [{"type": "PodScheduled", "status": "True"}],
            "startTime": _now(),
        }
        if containers is not None:
            status["containerStatuses"] = [
                self.container_status(name, state)
                for name, state in containers.items()
                if name != SIDECAR or self.has_sidecar
            ]
        status.update(extra)
        with self.lock:
            self.body["status"] = status

    def containers_now(self) -> dict[str, dict[str, Any]]:
        return {c["name"]: c["state"] for c in self.body["status"].get("containerStatuses", [])}

    def log(self, line: str) -> None:
        self.logs.append((time.time(), line))


class StandIn:
    """The API server (aiohttp, its own thread and event loop) and the kubelet (threads)."""

    def __init__(self) -> None:
        self.pods: dict[tuple[str, str], _Pod] = {}
        self.created: list[dict[str, Any]] = []
        self.behaviours: dict[str, str] = {}
        self.requests: list[str] = []
        # Every API call as (method, path, query), for checking it against RBAC rules.
        self.api_calls: list[tuple[str, str, dict[str, str]]] = []
        self.user_agents: set[str] = set()
        self._root = Path(tempfile.mkdtemp(prefix="kube-standin-"))
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.kubeconfig = str(self._root / "kubeconfig.json")

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> StandIn:
        ready = threading.Event()
        threading.Thread(target=self._serve, args=(ready,), daemon=True).start()
        if not ready.wait(10):
            raise RuntimeError("the Kubernetes stand-in did not start")
        server = f"http://127.0.0.1:{self.port}"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "standin", "cluster": {"server": server}}],
            "users": [{"name": "standin", "user": {"token": "standin-token"}}],
            "contexts": [{"name": "standin", "context": {"cluster": "standin", "user": "standin"}}],
            "current-context": "standin",
        }
        Path(self.kubeconfig).write_text(json.dumps(config))
        return self

    def __exit__(self, *exc) -> None:
        for pod in list(self.pods.values()):
            self._stop(pod)
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        shutil.rmtree(self._root, ignore_errors=True)

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application(middlewares=[self._record_client])
        self._routes(app)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        ready.set()
        self._loop.run_forever()

    def _routes(self, app: web.Application) -> None:
        ns = "/api/v1/namespaces/{ns}"
        app.router.add_post(ns + "/pods", self._create)
        app.router.add_get(ns + "/pods", self._list)
        app.router.add_get(ns + "/pods/{name}", self._get)
        app.router.add_patch(ns + "/pods/{name}", self._patch)
        app.router.add_delete(ns + "/pods/{name}", self._delete)
        app.router.add_get(ns + "/pods/{name}/log", self._logs)
        app.router.add_route("*", ns + "/pods/{name}/exec", self._exec)
        app.router.add_get(ns + "/events", self._events)
        app.router.add_get(ns, self._namespace)

    # -- API server --------------------------------------------------------------------------

    @web.middleware
    async def _record_client(self, request: web.Request, handler):
        self.user_agents.add(request.headers.get("User-Agent", ""))
        self.api_calls.append((request.method, request.path, dict(request.query)))
        return await handler(request)

    def _pod(self, request: web.Request) -> _Pod | None:
        self.requests.append(f"{request.method} {request.path}")
        return self.pods.get((request.match_info["ns"], request.match_info["name"]))

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        ns = request.match_info["ns"]
        self.requests.append(f"POST {request.path}")
        meta = body.setdefault("metadata", {})
        meta.update(namespace=ns, uid=f"uid-{len(self.created)}", creationTimestamp=_now())
        meta.setdefault("labels", {})
        if (ns, meta["name"]) in self.pods:
            return _status(409, "AlreadyExists", f'pods "{meta["name"]}" already exists')
        self.created.append(copy.deepcopy(body))
        pod = _Pod(body, self._root / ns / meta["name"])
        pod.set_status("Pending", None)
        self.pods[(ns, meta["name"])] = pod
        threading.Thread(target=self._kubelet, args=(pod,), daemon=True).start()
        return web.json_response(body, status=201)

    async def _list(self, request: web.Request) -> web.Response:
        ns = request.match_info["ns"]
        self.requests.append(f"GET {request.path}?{request.query_string}")
        selector = request.query.get("labelSelector", "")
        items = [
            copy.deepcopy(p.body)
            for (pod_ns, _), p in self.pods.items()
            if pod_ns == ns and _selector_matches(selector, p.body["metadata"]["labels"])
        ]
        return web.json_response(
            {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}
        )

    async def _get(self, request: web.Request) -> web.Response:
        pod = self._pod(request)
        if pod is None:
            return _status(404, "NotFound", f'pods "{request.match_info["name"]}" not found')
        with pod.lock:
            return web.json_response(copy.deepcopy(pod.body))

    async def _patch(self, request: web.Request) -> web.Response:
        pod = self._pod(request)
        if pod is None:
            return _status(404, "NotFound", f'pods "{request.match_info["name"]}" not found')
        patch = await request.json()
        pod.body["metadata"]["labels"].update((patch.get("metadata") or {}).get("labels") or {})
        return web.json_response(copy.deepcopy(pod.body))

    async def _delete(self, request: web.Request) -> web.Response:
        pod = self._pod(request)
        if pod is None:
            return _status(404, "NotFound", f'pods "{request.match_info["name"]}" not found')
        self._stop(pod)
        del self.pods[(request.match_info["ns"], pod.name)]
        return web.json_response(copy.deepcopy(pod.body))

    async def _namespace(self, request: web.Request) -> web.Response:
        name = request.match_info["ns"]
        return web.json_response(
            {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": name, "labels": {}}}
        )

    async def _events(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("watch") in ("true", "1", "True"):
            response = web.StreamResponse()
            await response.prepare(request)
            await asyncio.sleep(1)
            await response.write_eof()
            return response
        return web.json_response(
            {"kind": "EventList", "apiVersion": "v1", "metadata": {}, "items": []}
        )

    async def _logs(self, request: web.Request) -> web.StreamResponse:
        pod = self._pod(request)
        if pod is None:
            return _status(404, "NotFound", f'pods "{request.match_info["name"]}" not found')
        container = request.query.get("container") or "base"
        state = pod.containers_now().get(container, {})
        if not state or "waiting" in state:
            return _status(
                400,
                "BadRequest",
                f'container "{container}" in pod "{pod.name}" is waiting to start',
            )
        follow = request.query.get("follow") in ("true", "True", "1")
        stamps = request.query.get("timestamps") in ("true", "True", "1")
        tail = int(request.query["tailLines"]) if "tailLines" in request.query else None
        since = float(request.query.get("sinceSeconds") or 0)
        earliest = time.time() - since if since else 0.0

        def render(entries) -> bytes:
            out = []
            for stamp, line in entries:
                if stamp < earliest:
                    continue
                prefix = ""
                if stamps:
                    when = dt.datetime.fromtimestamp(stamp, dt.UTC)
                    prefix = when.strftime("%Y-%m-%dT%H:%M:%S.%f000Z ")
                out.append(f"{prefix}{line}\n")
            return "".join(out).encode()

        if container != "base" or not follow:
            entries = pod.logs if container == "base" else []
            return web.Response(body=render(entries[-tail:] if tail else entries))
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        sent = max(len(pod.logs) - tail, 0) if tail else 0
        while True:
            done = pod.base_exit is not None or pod not in self.pods.values()
            if sent < len(pod.logs):
                batch = pod.logs[sent:]
                sent += len(batch)
                await response.write(render(batch))
            elif done:
                break
            else:
                await asyncio.sleep(0.05)
        await response.write_eof()
        return response

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        pod = self._pod(request)
        if pod is None:
            return _status(404, "NotFound", f'pods "{request.match_info["name"]}" not found')
        command = request.query.getall("command", [])
        ws = web.WebSocketResponse(protocols=("v4.channel.k8s.io",))
        await ws.prepare(request)
        success = json.dumps({"metadata": {}, "status": "Success"}).encode()
        if request.query.get("container") != SIDECAR:
            await ws.send_bytes(b"\x02only the XCom sidecar can exec in this stand-in\n")
        elif "return.json" in " ".join(command):
            result = pod.mounts.get("/airflow/xcom", pod.root / "xcom") / "return.json"
            text = result.read_text() if result.exists() and result.stat().st_size else EMPTY_XCOM
            await ws.send_bytes(b"\x01" + text.encode())
            await ws.send_bytes(b"\x03" + success)
        else:  # KPO's kill of the sidecar: the command arrives on stdin (channel 0)
            async for message in ws:
                data = message.data if message.type == WSMsgType.BINARY else None
                if message.type == WSMsgType.TEXT:
                    data = message.data.encode()
                if data is not None and b"kill" in data:
                    self._sidecar_stopped(pod)
                    break
                if message.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                    break
        await ws.close()
        return ws

    # -- kubelet -----------------------------------------------------------------------------

    def _kubelet(self, pod: _Pod) -> None:
        behaviour = self.behaviours.get(pod.base["image"], "run")
        if behaviour == "oom_once":
            self.behaviours[pod.base["image"]] = "run"
            behaviour = "oom"
        time.sleep(0.2)  # scheduling
        sidecar = {"running": {"startedAt": _now()}}
        if behaviour == "unschedulable":
            pod.set_status(
                "Pending",
                None,
                conditions=[
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": UNSCHEDULABLE_MESSAGE,
                    }
                ],
            )
            return
        if behaviour == "image_pull":
            waiting = {
                "reason": "ImagePullBackOff",
                "message": f'Back-off pulling image "{pod.base["image"]}"',
            }
            pod.set_status("Pending", {"base": {"waiting": waiting}, SIDECAR: sidecar})
            return
        pod.set_status("Running", {"base": {"running": {"startedAt": _now()}}, SIDECAR: sidecar})
        if behaviour == "hang":  # runs until the pod is deleted
            pod.log("fitting sklearn.ensemble.RandomForestClassifier ...")
            return
        if behaviour == "oom":
            pod.log("loading data: 8 partitions")
            pod.log("fitting sklearn.ensemble.RandomForestClassifier ...")
            time.sleep(0.3)
            self._base_exited(pod, 137, "OOMKilled")
            return
        if behaviour == "evicted":
            pod.log("fitting sklearn.ensemble.RandomForestClassifier ...")
            time.sleep(0.3)
            pod.base_exit = 137
            gone = {"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown"}}
            pod.set_status(
                "Failed",
                {"base": gone, SIDECAR: gone},
                reason="Evicted",
                message=EVICTED_MESSAGE,
            )
            return
        self._run(pod)

    def _run(self, pod: _Pod) -> None:
        base = pod.base
        env = {e["name"]: pod.local(e.get("value") or "") for e in base.get("env") or []}
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
        argv = [*(base.get("command") or []), *(base.get("args") or [])]
        command = [pod.local(part) for part in argv]
        pod.process = subprocess.Popen(
            command,
            env=env,
            cwd=pod.mounts.get("/tmp", pod.root),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert pod.process.stdout is not None
        for line in pod.process.stdout:
            pod.log(line.rstrip("\n"))
        code = pod.process.wait()
        self._base_exited(pod, code, "Completed" if code == 0 else "Error")

    def _base_exited(self, pod: _Pod, code: int, reason: str) -> None:
        states = pod.containers_now()
        states["base"] = {"terminated": {"exitCode": code, "reason": reason, "finishedAt": _now()}}
        pod.base_exit = code
        if pod.has_sidecar:  # ends when KPO stops the sidecar
            pod.set_status("Running", states)
        else:
            pod.set_status("Succeeded" if code == 0 else "Failed", states)

    def _sidecar_stopped(self, pod: _Pod) -> None:
        states = pod.containers_now()
        states[SIDECAR] = {"terminated": {"exitCode": 0, "reason": "Completed"}}
        phase = "Succeeded" if pod.base_exit == 0 else "Failed"
        pod.set_status(phase, states)

    def _stop(self, pod: _Pod) -> None:
        if pod.process is not None and pod.process.poll() is None:
            pod.process.kill()
            pod.process.wait()


def label_value_ok(value: str) -> bool:
    """A valid Kubernetes label value (63 characters, alphanumerics and -_. inside)."""
    return len(value) <= 63 and re.fullmatch(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?", value)


FAST = {"startup_check_interval_seconds": 1, "poll_interval": 0.5}
"""KubernetesPodOperator's polling against the stand-in: a second, not its defaults."""


def training_cluster(monkeypatch) -> Iterator[StandIn]:
    """A StandIn and the pipelines' cluster connection ``kubernetes_test`` to it (the body
    of a pytest fixture)."""
    with StandIn() as standin:
        use_as_connection(standin, monkeypatch, "kubernetes_test")
        yield standin


def job_of(pod: dict) -> dict:
    """The job (JSON in AIRFLOW_ML_JOB) a created pod's container was given."""
    env = pod["spec"]["containers"][0]["env"]
    return json.loads(next(e["value"] for e in env if e["name"] == "AIRFLOW_ML_JOB"))


def use_as_connection(standin: StandIn, monkeypatch, conn_id: str) -> None:
    """Point the Airflow connection ``conn_id`` (kubernetes type) at ``standin``."""
    extra = {"kube_config_path": standin.kubeconfig}
    connection = json.dumps({"conn_type": "kubernetes", "extra": extra})
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", connection)
