"""The Kubernetes stand-in (kube_standin.StandIn) plus what serving needs: Deployments,
ReplicaSets, Services and the API server's proxy to pods and Services.

What is real: HTTP end to end. The kubernetes client of the operator under test talks to
this server over a real socket with a real kubeconfig, and each serving pod is a real local
process running the container's command (``ml.serve_verified``: MLflow's scoring server on a
real MLflow store), answering real HTTP requests that the proxy routes reach.

What is stood in for:

* the API server's apps/v1 Deployments (create, get, replace, delete) and ReplicaSets (list
  with ``k=v`` label selectors), core/v1 Services (create, get, delete), and the proxy
  subresources ``pods/<name>:<port>/proxy/<path>`` and ``services/<name>:<port>/proxy/<path>``
  (a Service picks one ready pod matching its selector, round robin) — no admission, RBAC,
  resourceVersion conflicts or watches;
* the Deployment controller: a pod template it has not seen gets a new ReplicaSet (name
  ``<deployment>-<template hash>``, label ``pod-template-hash``, annotation
  ``deployment.kubernetes.io/revision``); a template it has seen reuses that ReplicaSet with
  the next revision number, as ``rollout undo`` relies on. Old ReplicaSets are scaled to zero
  only once every pod of the new one is ready (maxUnavailable 0). Status: observedGeneration,
  replicas, updatedReplicas, readyReplicas, availableReplicas, and a Progressing condition
  that turns ProgressDeadlineExceeded after progressDeadlineSeconds;
* the kubelet for serving pods: ``$(VAR)`` references in command and args are expanded from
  the container's env as Kubernetes does; ``PORT`` is given a free local port (pods on one
  machine cannot all listen on 8080) and the proxy forwards the container port to it; the
  readiness probe's httpGet path is polled to set the container ready; a process that exits
  leaves the container waiting in CrashLoopBackOff with its restartCount raised (it is not
  restarted). Images listed in ``behaviours`` as ``crash`` exit at once; ``image_pull``
  waits in ImagePullBackOff.

Usage: ``with ServingStandIn() as cluster``; ``cluster.deployments`` and
``cluster.replica_sets`` hold the objects, ``cluster.requests`` every API call.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from aiohttp import web

from helpers.kube_standin import StandIn, _now, _selector_matches, _status, forward
from helpers.network import free_port

REVISION = "deployment.kubernetes.io/revision"
TEMPLATE_HASH = "pod-template-hash"


def _expand(value: str, env: dict[str, str]) -> str:
    for key, replacement in env.items():
        value = value.replace(f"$({key})", replacement)
    return value


class _ServingPod:
    """One serving pod: its API object, its local process and its local port."""

    def __init__(self, body: dict[str, Any], port: int) -> None:
        self.body = body
        self.port = port
        self.process: subprocess.Popen | None = None
        self.lock = threading.Lock()
        self.stopped = False
        self.logs: list[str] = []

    @property
    def name(self) -> str:
        return self.body["metadata"]["name"]

    @property
    def container(self) -> dict[str, Any]:
        return self.body["spec"]["containers"][0]

    @property
    def ready(self) -> bool:
        statuses = self.body["status"].get("containerStatuses") or [{}]
        return bool(statuses[0].get("ready"))

    def set_container(self, state: dict[str, Any], ready: bool, restarts: int = 0) -> None:
        container = self.container
        status = {
            "name": container["name"],
            "image": container["image"],
            "imageID": "",
            "ready": ready,
            "started": "running" in state,
            "restartCount": restarts,
            "state": state,
            "lastState": {},
        }
        with self.lock:
            self.body["status"] = {
                "phase": "Running" if "running" in state else "Pending",
                "conditions": [
                    {"type": "PodScheduled", "status": "True"},
                    {"type": "Ready", "status": "True" if ready else "False"},
                ],
                "containerStatuses": [status],
                "startTime": _now(),
            }

    def stop(self) -> None:
        self.stopped = True
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)  # the server and its workers
            self.process.wait()


class ServingStandIn(StandIn):
    """StandIn plus Deployments, ReplicaSets, Services and proxies; serving pods run locally."""

    def __init__(self) -> None:
        super().__init__()
        self.deployments: dict[tuple[str, str], dict[str, Any]] = {}
        self.replica_sets: dict[tuple[str, str], dict[str, Any]] = {}
        self.services: dict[tuple[str, str], dict[str, Any]] = {}
        self.serving_pods: dict[tuple[str, str], _ServingPod] = {}
        self.rolled_out_at: dict[tuple[str, str], float] = {}
        self._round_robin = itertools.count()
        self._state = threading.RLock()

    def __exit__(self, *exc) -> None:
        for pod in list(self.serving_pods.values()):
            pod.stop()
        super().__exit__(*exc)

    def _routes(self, app: web.Application) -> None:
        super()._routes(app)
        apps = "/apis/apps/v1/namespaces/{ns}"
        core = "/api/v1/namespaces/{ns}"
        app.router.add_post(apps + "/deployments", self._create_deployment)
        app.router.add_get(apps + "/deployments/{name}", self._get_deployment)
        app.router.add_put(apps + "/deployments/{name}", self._replace_deployment)
        app.router.add_delete(apps + "/deployments/{name}", self._delete_deployment)
        app.router.add_get(apps + "/replicasets", self._list_replica_sets)
        app.router.add_post(core + "/services", self._create_service)
        app.router.add_get(core + "/services/{name}", self._get_service)
        app.router.add_delete(core + "/services/{name}", self._delete_service)
        app.router.add_route("*", core + "/services/{target}/proxy/{path:.*}", self._proxy)
        app.router.add_route("*", core + "/pods/{target}/proxy/{path:.*}", self._proxy)

    # -- objects -----------------------------------------------------------------------------

    def _key(self, request: web.Request) -> tuple[str, str]:
        self.requests.append(f"{request.method} {request.path}")
        return request.match_info["ns"], request.match_info["name"]

    async def _create_deployment(self, request: web.Request) -> web.Response:
        body = await request.json()
        ns = request.match_info["ns"]
        name = body["metadata"]["name"]
        self.requests.append(f"POST {request.path}")
        if (ns, name) in self.deployments:
            return _status(409, "AlreadyExists", f'deployments.apps "{name}" already exists')
        meta = body["metadata"]
        meta.update(
            namespace=ns,
            uid=f"uid-deployment-{len(self.deployments)}-{name}",
            generation=1,
            resourceVersion="1",
            creationTimestamp=_now(),
        )
        meta.setdefault("annotations", {})
        with self._state:
            self.deployments[(ns, name)] = body
            self._reconcile(ns, name)
        return web.json_response(self._with_status(ns, name), status=201)

    async def _get_deployment(self, request: web.Request) -> web.Response:
        ns, name = self._key(request)
        if (ns, name) not in self.deployments:
            return _status(404, "NotFound", f'deployments.apps "{name}" not found')
        with self._state:
            return web.json_response(self._with_status(ns, name))

    async def _replace_deployment(self, request: web.Request) -> web.Response:
        ns, name = self._key(request)
        if (ns, name) not in self.deployments:
            return _status(404, "NotFound", f'deployments.apps "{name}" not found')
        body = await request.json()
        with self._state:
            old = self.deployments[(ns, name)]
            meta = body["metadata"]
            for kept in ("uid", "creationTimestamp", "generation", "namespace"):
                meta[kept] = old["metadata"][kept]
            meta["annotations"] = {**old["metadata"].get("annotations", {})}
            if body["spec"] != old["spec"]:
                meta["generation"] = old["metadata"]["generation"] + 1
            meta["resourceVersion"] = str(int(old["metadata"]["resourceVersion"]) + 1)
            self.deployments[(ns, name)] = body
            self._reconcile(ns, name)
            return web.json_response(self._with_status(ns, name))

    async def _delete_deployment(self, request: web.Request) -> web.Response:
        ns, name = self._key(request)
        with self._state:
            body = self.deployments.pop((ns, name), None)
            if body is None:
                return _status(404, "NotFound", f'deployments.apps "{name}" not found')
            for key, rs in list(self.replica_sets.items()):
                if self._owned(rs, body):
                    self._scale(rs, 0)
                    del self.replica_sets[key]
        return web.json_response({"kind": "Status", "status": "Success"})

    async def _list_replica_sets(self, request: web.Request) -> web.Response:
        ns = request.match_info["ns"]
        self.requests.append(f"GET {request.path}?{request.query_string}")
        selector = request.query.get("labelSelector", "")
        with self._state:
            items = [
                copy.deepcopy(rs)
                for (rs_ns, _), rs in self.replica_sets.items()
                if rs_ns == ns and _selector_matches(selector, rs["metadata"]["labels"])
            ]
        return web.json_response(
            {"kind": "ReplicaSetList", "apiVersion": "apps/v1", "metadata": {}, "items": items}
        )

    async def _create_service(self, request: web.Request) -> web.Response:
        body = await request.json()
        ns = request.match_info["ns"]
        self.requests.append(f"POST {request.path}")
        body["metadata"].update(namespace=ns, uid=f"uid-service-{len(self.services)}")
        self.services[(ns, body["metadata"]["name"])] = body
        return web.json_response(body, status=201)

    async def _get_service(self, request: web.Request) -> web.Response:
        ns, name = self._key(request)
        if (ns, name) not in self.services:
            return _status(404, "NotFound", f'services "{name}" not found')
        return web.json_response(self.services[(ns, name)])

    async def _delete_service(self, request: web.Request) -> web.Response:
        ns, name = self._key(request)
        if self.services.pop((ns, name), None) is None:
            return _status(404, "NotFound", f'services "{name}" not found')
        return web.json_response({"kind": "Status", "status": "Success"})

    # -- the pods list includes serving pods ---------------------------------------------------

    async def _list(self, request: web.Request) -> web.Response:
        ns = request.match_info["ns"]
        selector = request.query.get("labelSelector", "")
        serving = [
            copy.deepcopy(p.body)
            for (pod_ns, _), p in list(self.serving_pods.items())
            if pod_ns == ns
            and not p.stopped
            and _selector_matches(selector, p.body["metadata"]["labels"])
        ]
        response = await super()._list(request)
        listing = json.loads(response.body)
        listing["items"].extend(serving)
        return web.json_response(listing)

    # -- the proxy ------------------------------------------------------------------------------

    async def _proxy(self, request: web.Request) -> web.Response:
        ns = request.match_info["ns"]
        target = request.match_info["target"].split(":")[0]
        self.requests.append(f"{request.method} {request.path}")
        kind = "services" if "/services/" in request.path else "pods"
        if kind == "pods":
            pod = self.serving_pods.get((ns, target))
            pods = [pod] if pod is not None and pod.ready else []
        else:
            service = self.services.get((ns, target))
            if service is None:
                return _status(404, "NotFound", f'services "{target}" not found')
            selector = ",".join(f"{k}={v}" for k, v in service["spec"]["selector"].items())
            pods = [
                p
                for (pod_ns, _), p in list(self.serving_pods.items())
                if pod_ns == ns
                and p.ready
                and not p.stopped
                and _selector_matches(selector, p.body["metadata"]["labels"])
            ]
        if not pods:
            return _status(503, "ServiceUnavailable", f"no endpoints available for {target}")
        pod = pods[next(self._round_robin) % len(pods)]
        return await forward(request, pod.port, request.match_info["path"])

    # -- the Deployment controller ------------------------------------------------------------

    @staticmethod
    def _owned(rs: dict[str, Any], deployment: dict[str, Any]) -> bool:
        owners = rs["metadata"].get("ownerReferences") or []
        return any(o["uid"] == deployment["metadata"]["uid"] for o in owners)

    def _reconcile(self, ns: str, name: str) -> None:
        deployment = self.deployments[(ns, name)]
        template = copy.deepcopy(deployment["spec"]["template"])
        template["metadata"].setdefault("labels", {}).pop(TEMPLATE_HASH, None)
        digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]
        owned = {key: rs for key, rs in self.replica_sets.items() if self._owned(rs, deployment)}
        revision = max(
            (int(rs["metadata"]["annotations"][REVISION]) for rs in owned.values()), default=0
        )
        current = owned.get((ns, f"{name}-{digest}"))
        if current is None:
            template["metadata"]["labels"][TEMPLATE_HASH] = digest
            current = {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": f"{name}-{digest}",
                    "namespace": ns,
                    "labels": {**template["metadata"]["labels"]},
                    "annotations": {REVISION: str(revision + 1)},
                    "ownerReferences": [
                        {
                            "apiVersion": "apps/v1",
                            "kind": "Deployment",
                            "name": name,
                            "uid": deployment["metadata"]["uid"],
                        }
                    ],
                },
                "spec": {
                    "replicas": 0,
                    "selector": {
                        "matchLabels": {
                            **deployment["spec"]["selector"]["matchLabels"],
                            TEMPLATE_HASH: digest,
                        }
                    },
                    "template": template,
                },
                "status": {"replicas": 0},
            }
            self.replica_sets[(ns, current["metadata"]["name"])] = current
            self.rolled_out_at[(ns, name)] = time.monotonic()
        elif current["metadata"]["annotations"][REVISION] != str(revision):
            current["metadata"]["annotations"][REVISION] = str(revision + 1)
            self.rolled_out_at[(ns, name)] = time.monotonic()
        deployment["metadata"]["annotations"][REVISION] = current["metadata"]["annotations"][
            REVISION
        ]
        self._scale(current, deployment["spec"]["replicas"])
        threading.Thread(target=self._retire_old, args=(ns, name), daemon=True).start()

    def _retire_old(self, ns: str, name: str) -> None:
        """Scale the old ReplicaSets to zero once the current one is fully ready."""
        while True:
            with self._state:
                deployment = self.deployments.get((ns, name))
                if deployment is None:
                    return
                revision = deployment["metadata"]["annotations"][REVISION]
                owned = [rs for rs in self.replica_sets.values() if self._owned(rs, deployment)]
                current = next(
                    rs for rs in owned if rs["metadata"]["annotations"][REVISION] == revision
                )
                pods = self._pods_of(current)
                if len(pods) == deployment["spec"]["replicas"] and all(p.ready for p in pods):
                    for rs in owned:
                        if rs is not current:
                            self._scale(rs, 0)
                    return
                if any(p.stopped for p in pods):
                    return
            time.sleep(0.2)

    def _pods_of(self, rs: dict[str, Any]) -> list[_ServingPod]:
        digest = rs["metadata"]["labels"][TEMPLATE_HASH]
        return [
            p
            for p in list(self.serving_pods.values())
            if not p.stopped and p.body["metadata"]["labels"].get(TEMPLATE_HASH) == digest
        ]

    def _scale(self, rs: dict[str, Any], replicas: int) -> None:
        rs["spec"]["replicas"] = replicas
        pods = self._pods_of(rs)
        for pod in pods[replicas:]:
            pod.stop()
            del self.serving_pods[(rs["metadata"]["namespace"], pod.name)]
        for index in range(len(pods), replicas):
            template = copy.deepcopy(rs["spec"]["template"])
            body = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    **template["metadata"],
                    "name": f"{rs['metadata']['name']}-{index}{int(time.time() * 1000) % 100000}",
                    "namespace": rs["metadata"]["namespace"],
                    "uid": f"uid-serving-{len(self.created)}",
                    "ownerReferences": [
                        {
                            "apiVersion": "apps/v1",
                            "kind": "ReplicaSet",
                            "name": rs["metadata"]["name"],
                            "uid": f"uid-rs-{rs['metadata']['name']}",
                        }
                    ],
                },
                "spec": template["spec"],
                "status": {"phase": "Pending"},
            }
            self.created.append(copy.deepcopy(body))
            pod = _ServingPod(body, free_port())
            pod.set_container({"waiting": {"reason": "ContainerCreating"}}, ready=False)
            self.serving_pods[(rs["metadata"]["namespace"], pod.name)] = pod
            threading.Thread(target=self._serving_kubelet, args=(pod,), daemon=True).start()
        rs["status"] = {"replicas": replicas}

    def _with_status(self, ns: str, name: str) -> dict[str, Any]:
        deployment = copy.deepcopy(self.deployments[(ns, name)])
        revision = deployment["metadata"]["annotations"][REVISION]
        owned = [rs for rs in self.replica_sets.values() if self._owned(rs, deployment)]
        current = next(rs for rs in owned if rs["metadata"]["annotations"][REVISION] == revision)
        new_pods = self._pods_of(current)
        all_pods = [p for rs in owned for p in self._pods_of(rs)]
        wanted = deployment["spec"]["replicas"]
        complete = len(new_pods) == wanted and all(p.ready for p in new_pods)
        deadline = deployment["spec"].get("progressDeadlineSeconds", 600)
        late = time.monotonic() - self.rolled_out_at.get((ns, name), 0) > deadline
        progressing = {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}
        if not complete:
            progressing["reason"] = "ReplicaSetUpdated"
            if late:
                progressing = {
                    "type": "Progressing",
                    "status": "False",
                    "reason": "ProgressDeadlineExceeded",
                    "message": f'ReplicaSet "{current["metadata"]["name"]}" has timed out '
                    "progressing.",
                }
        deployment["status"] = {
            "observedGeneration": deployment["metadata"]["generation"],
            "replicas": len(all_pods),
            "updatedReplicas": len(new_pods),
            "readyReplicas": sum(p.ready for p in all_pods),
            "availableReplicas": sum(p.ready for p in all_pods),
            "conditions": [progressing],
        }
        return deployment

    # -- the kubelet for serving pods -----------------------------------------------------------

    def _serving_kubelet(self, pod: _ServingPod) -> None:
        container = pod.container
        behaviour = self.behaviours.get(container["image"], "run")
        if behaviour == "image_pull":
            waiting = {
                "reason": "ImagePullBackOff",
                "message": f'Back-off pulling image "{container["image"]}"',
            }
            pod.set_container({"waiting": waiting}, ready=False)
            return
        env = {e["name"]: e.get("value") or "" for e in container.get("env") or []}
        env["PORT"] = str(pod.port)
        env["HOME"] = str(self._root)
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
        argv = [*(container.get("command") or []), *(container.get("args") or [])]
        if behaviour == "crash":
            argv = [sys.executable, "-c", "raise SystemExit('model server crashed at start')"]
        pod.process = subprocess.Popen(
            [_expand(part, env) for part in argv],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        pod.set_container({"running": {"startedAt": _now()}}, ready=False)
        threading.Thread(target=self._probe, args=(pod,), daemon=True).start()
        assert pod.process.stdout is not None
        for line in pod.process.stdout:
            pod.logs.append(line.rstrip("\n"))
        code = pod.process.wait()
        if not pod.stopped:
            waiting = {"reason": "CrashLoopBackOff", "message": f"back-off restarting: exit {code}"}
            pod.set_container({"waiting": waiting}, ready=False, restarts=1)

    def _probe(self, pod: _ServingPod) -> None:
        probe = pod.container.get("readinessProbe") or {}
        path = (probe.get("httpGet") or {}).get("path", "/")
        while not pod.stopped and pod.process is not None and pod.process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{pod.port}{path}", timeout=1):
                    pod.set_container({"running": {"startedAt": _now()}}, ready=True)
                    return
            except OSError:
                time.sleep(0.3)
