"""The Kubernetes stand-in (kube_standin.StandIn) plus KServe: the InferenceService custom
resource (serving.kserve.io/v1beta1), its controller in Serverless mode, and its data plane.

What is real: the deployer's kubernetes client talks to this server over HTTP with a real
kubeconfig; every predictor is a real MLServer (KServe's server for MLflow models, with its
MLflow runtime) serving the files at the revision's ``storageUri``, downloaded by a stand-in
storage initializer from the real GCS emulator (tests/helpers/gcs_emulator.py), as KServe's
downloads them into /mnt/models; inference requests are real Open Inference Protocol (V2)
HTTP calls answered by MLServer.

What is stood in for:

* the API server's custom-objects endpoints for ``inferenceservices`` (create, get, replace,
  delete; ``metadata.generation`` rises on a spec change) — no admission webhooks, RBAC,
  resourceVersion conflicts or watches;
* KServe's controller and Knative: a predictor spec that differs from the newest revision's
  (other than ``canaryTrafficPercent``) makes a new revision ``<name>-predictor-0000N``; a
  revision is Ready when its MLServer answers ``/v2/models/<name>/ready``, Failed when the
  storage initializer finds no files or MLServer exits. Traffic follows KServe's rules: a
  ready newest revision takes ``canaryTrafficPercent`` (all of it when unset, and then it
  becomes ``latestRolledoutRevision``), the last rolled-out revision the rest; a revision
  that is not ready gets none. Status: observedGeneration, conditions PredictorReady and
  Ready (RevisionFailed with the reason), components.predictor (latestCreatedRevision,
  latestReadyRevision, latestRolledoutRevision, previousRolledoutRevision, traffic with
  ``latest``/``prev`` tags and URLs), address.url. A revision left without traffic is
  stopped (Knative scales it to zero);
* the cluster network: ``status.address.url`` and the tag URLs point at a second local HTTP
  server (not the API server) that routes to the revisions by the traffic split, as the
  cluster-local URLs route for a worker in the cluster.

Usage: ``with KServeStandIn() as cluster``; ``cluster.services`` holds the objects,
``cluster.revisions`` the revisions, ``cluster.api_calls`` every API call.
"""

from __future__ import annotations

import copy
import itertools
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from helpers import mlserver
from helpers.kube_standin import StandIn, _status, forward

PATH = "/apis/serving.kserve.io/v1beta1/namespaces/{ns}/inferenceservices"


@dataclass
class Revision:
    name: str
    storage_uri: str
    state: str = "Creating"  # Creating, Ready, Failed
    message: str = ""
    port: int = 0
    process: Any = None
    stopped: bool = False
    log: Path | None = None
    served: list[str] = field(default_factory=list)

    def stop(self) -> None:
        self.stopped = True
        if self.process is not None:
            mlserver.stop(self.process)


def _predictor_without_traffic(service: dict[str, Any]) -> dict[str, Any]:
    predictor = copy.deepcopy(service["spec"]["predictor"])
    predictor.pop("canaryTrafficPercent", None)
    return predictor


class KServeStandIn(StandIn):
    """StandIn plus InferenceServices; predictors run as local MLServer processes."""

    def __init__(self) -> None:
        super().__init__()
        self.services: dict[tuple[str, str], dict[str, Any]] = {}
        self.revisions: dict[tuple[str, str], list[Revision]] = {}
        self.rolled_out: dict[tuple[str, str], list[str]] = {}  # revision names, oldest first
        self._state = threading.RLock()
        self._round_robin = itertools.count()
        self._ingress: web.AppRunner | None = None
        self.ingress_port = 0

    def __enter__(self) -> KServeStandIn:
        super().__enter__()
        ingress = web.Application()
        ingress.router.add_route("*", "/{ns}/{name}/{tag}/{path:.*}", self._route)

        async def start() -> None:
            self._ingress = web.AppRunner(ingress)
            await self._ingress.setup()
            site = web.TCPSite(self._ingress, "127.0.0.1", 0)
            await site.start()
            self.ingress_port = site._server.sockets[0].getsockname()[1]

        import asyncio

        asyncio.run_coroutine_threadsafe(start(), self._loop).result(10)
        return self

    def __exit__(self, *exc) -> None:
        for revisions in self.revisions.values():
            for revision in revisions:
                revision.stop()
        if self._ingress is not None:
            import asyncio

            asyncio.run_coroutine_threadsafe(self._ingress.cleanup(), self._loop).result(10)
        super().__exit__(*exc)

    def _routes(self, app: web.Application) -> None:
        super()._routes(app)
        app.router.add_post(PATH, self._create_service)
        app.router.add_get(PATH + "/{name}", self._get_service)
        app.router.add_put(PATH + "/{name}", self._replace_service)
        app.router.add_delete(PATH + "/{name}", self._delete_service)

    # -- the custom objects -------------------------------------------------------------------

    async def _create_service(self, request: web.Request) -> web.Response:
        body = await request.json()
        ns, name = request.match_info["ns"], body["metadata"]["name"]
        self.requests.append(f"POST {request.path}")
        with self._state:
            if (ns, name) in self.services:
                return _status(409, "AlreadyExists", f'inferenceservices "{name}" already exists')
            body["metadata"].update(namespace=ns, generation=1, resourceVersion="1",
                                    uid=f"uid-isvc-{name}")  # fmt: skip
            self.services[(ns, name)] = body
            self.revisions[(ns, name)] = []
            self.rolled_out[(ns, name)] = []
            self._reconcile(ns, name)
            return web.json_response(self._with_status(ns, name), status=201)

    async def _get_service(self, request: web.Request) -> web.Response:
        ns, name = request.match_info["ns"], request.match_info["name"]
        self.requests.append(f"GET {request.path}")
        with self._state:
            if (ns, name) not in self.services:
                return _status(404, "NotFound", f'inferenceservices "{name}" not found')
            return web.json_response(self._with_status(ns, name))

    async def _replace_service(self, request: web.Request) -> web.Response:
        ns, name = request.match_info["ns"], request.match_info["name"]
        self.requests.append(f"PUT {request.path}")
        body = await request.json()
        with self._state:
            old = self.services.get((ns, name))
            if old is None:
                return _status(404, "NotFound", f'inferenceservices "{name}" not found')
            meta = body["metadata"]
            for kept in ("uid", "namespace", "generation"):
                meta[kept] = old["metadata"][kept]
            if body["spec"] != old["spec"]:
                meta["generation"] = old["metadata"]["generation"] + 1
            meta["resourceVersion"] = str(int(old["metadata"]["resourceVersion"]) + 1)
            body.pop("status", None)
            self.services[(ns, name)] = body
            self._reconcile(ns, name)
            return web.json_response(self._with_status(ns, name))

    async def _delete_service(self, request: web.Request) -> web.Response:
        ns, name = request.match_info["ns"], request.match_info["name"]
        self.requests.append(f"DELETE {request.path}")
        with self._state:
            if self.services.pop((ns, name), None) is None:
                return _status(404, "NotFound", f'inferenceservices "{name}" not found')
            for revision in self.revisions.pop((ns, name), []):
                revision.stop()
            self.rolled_out.pop((ns, name), None)
        return web.json_response({"kind": "Status", "status": "Success"})

    # -- the controller -----------------------------------------------------------------------

    def _reconcile(self, ns: str, name: str) -> None:
        service = self.services[(ns, name)]
        revisions = self.revisions[(ns, name)]
        predictor = _predictor_without_traffic(service)
        if not revisions or revisions[-1].served != [repr(predictor)]:
            revision = Revision(
                name=f"{name}-predictor-{len(revisions) + 1:05d}",
                storage_uri=predictor["model"]["storageUri"],
                served=[repr(predictor)],
            )
            revisions.append(revision)
            threading.Thread(target=self._run, args=(ns, name, revision), daemon=True).start()
        self._route_traffic(ns, name)

    def _traffic(self, ns: str, name: str) -> list[tuple[Revision, int, bool]]:
        """(revision, percent, is latest) as KServe splits it now."""
        service = self.services[(ns, name)]
        revisions = {r.name: r for r in self.revisions[(ns, name)]}
        latest = self.revisions[(ns, name)][-1]
        rolled = self.rolled_out[(ns, name)]
        stable = revisions[rolled[-1]] if rolled else None
        percent = service["spec"]["predictor"].get("canaryTrafficPercent")
        if latest.state == "Ready" and (stable is None or stable is latest):
            return [(latest, 100, True)]  # the first revision takes everything
        if latest.state != "Ready":
            return [(stable, 100, False)] if stable else []
        if percent is None or percent >= 100:
            return [(latest, 100, True)]
        return [(latest, percent, True), (stable, 100 - percent, False)]

    def _route_traffic(self, ns: str, name: str) -> None:
        """Promote a fully routed newest revision; stop revisions left without traffic."""
        with self._state:
            if (ns, name) not in self.services:
                return
            traffic = self._traffic(ns, name)
            rolled = self.rolled_out[(ns, name)]
            for revision, percent, latest in traffic:
                if latest and percent == 100 and (not rolled or rolled[-1] != revision.name):
                    rolled.append(revision.name)
            keep = {r.name for r, p, _ in self._traffic(ns, name) if p > 0}
            newest = self.revisions[(ns, name)][-1]
            for revision in self.revisions[(ns, name)]:
                if revision is not newest and revision.name not in keep:
                    revision.stop()

    def _run(self, ns: str, name: str, revision: Revision) -> None:
        """The storage initializer, then MLServer until it answers ready (or exits)."""
        folder = self._root / ns / revision.name
        models = folder / "mnt-models"
        try:
            count = self._download(revision.storage_uri, models)
        except Exception as error:  # noqa: BLE001 — what the init container would print
            count, revision.message = 0, f"storage-initializer: {error}"
        if count == 0:
            revision.message = revision.message or (
                f"storage-initializer: no files at {revision.storage_uri}"
            )
            revision.state = "Failed"
            self._route_traffic(ns, name)
            return
        if revision.stopped:
            return
        revision.process, revision.port, revision.log = mlserver.start(
            models, name, folder / "server"
        )
        while not revision.stopped:
            if revision.process.poll() is not None:
                tail = revision.log.read_text().strip().splitlines()[-1:] or ["(no output)"]
                revision.state = "Failed"
                revision.message = f"Container failed with: {tail[0][:300]}"
                break
            if mlserver.is_ready(revision.port, name):
                revision.state = "Ready"
                break
            time.sleep(0.3)
        self._route_traffic(ns, name)

    @staticmethod
    def _download(uri: str, into: Path) -> int:
        """Copy every object under a gs:// prefix from the GCS emulator; how many."""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        if not uri.startswith("gs://"):
            raise ValueError(f"cannot download {uri}: the stand-in reads gs:// only")
        bucket, _, prefix = uri.removeprefix("gs://").partition("/")
        client = storage.Client(
            project="standin",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": os.environ["STORAGE_EMULATOR_HOST"]},
        )
        count = 0
        for blob in client.list_blobs(bucket, prefix=prefix.rstrip("/") + "/"):
            target = into / blob.name[len(prefix.rstrip("/")) + 1 :]
            target.parent.mkdir(parents=True, exist_ok=True)
            blob.download_to_filename(str(target))
            count += 1
        return count

    def _with_status(self, ns: str, name: str) -> dict[str, Any]:
        service = copy.deepcopy(self.services[(ns, name)])
        revisions = self.revisions[(ns, name)]
        latest = revisions[-1]
        ready = [r for r in revisions if r.state == "Ready"]
        rolled = self.rolled_out[(ns, name)]
        base = f"http://127.0.0.1:{self.ingress_port}/{ns}/{name}"
        traffic = [
            {
                "revisionName": revision.name,
                "percent": percent,
                "latestRevision": is_latest,
                "tag": "latest" if is_latest else "prev",
                "url": f"{base}/{'latest' if is_latest else 'prev'}",
            }
            for revision, percent, is_latest in self._traffic(ns, name)
        ]
        if latest.state == "Failed":
            predictor_ready = {
                "type": "PredictorReady",
                "status": "False",
                "reason": "RevisionFailed",
                "message": f'Revision "{latest.name}" failed with message: {latest.message}.',
            }
        elif latest.state == "Ready":
            predictor_ready = {"type": "PredictorReady", "status": "True"}
        else:
            predictor_ready = {"type": "PredictorReady", "status": "Unknown",
                               "reason": "RevisionMissing",
                               "message": f'Configuration "{name}-predictor" is waiting for '
                                          "a Revision to become ready."}  # fmt: skip
        ready_condition = {**predictor_ready, "type": "Ready"}
        service["status"] = {
            "observedGeneration": service["metadata"]["generation"],
            "url": f"{base}/all",
            "address": {"url": f"{base}/all"},
            "conditions": [predictor_ready, ready_condition],
            "components": {
                "predictor": {
                    "latestCreatedRevision": latest.name,
                    "latestReadyRevision": ready[-1].name if ready else None,
                    "latestRolledoutRevision": rolled[-1] if rolled else None,
                    "previousRolledoutRevision": rolled[-2] if len(rolled) > 1 else None,
                    "traffic": traffic,
                }
            },
        }
        return service

    # -- the data plane ----------------------------------------------------------------------

    async def _route(self, request: web.Request) -> web.Response:
        ns, name, tag = (request.match_info[k] for k in ("ns", "name", "tag"))
        with self._state:
            if (ns, name) not in self.services:
                return web.Response(status=404, text="no such InferenceService")
            traffic = [(r, p) for r, p, latest in self._traffic(ns, name)
                       if (tag == "all" and p > 0) or (tag == "latest") == latest]  # fmt: skip
        if tag != "all":
            traffic = [(r, 1) for r, _ in traffic[:1]]
        choices = [r for r, p in traffic for _ in range(p) if r.state == "Ready" and not r.stopped]
        if not choices:
            return web.Response(status=503, text="no ready revision")
        revision = choices[next(self._round_robin) % len(choices)]
        return await forward(request, revision.port, request.match_info["path"])
