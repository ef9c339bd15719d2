"""Strategy ``kserve``: a KServe InferenceService that follows the champion — MLServer serves
the version's files from the artifact store; checked over the Open Inference Protocol (V2);
a canary through KServe's own ``canaryTrafficPercent``; put back to the previous version's
storage URI on failure and on rollback.

Importing this module imports the cncf.kubernetes provider's hook, so it is imported only
for pipelines (and rollbacks) that deploy with KServe.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook
from kubernetes.client.exceptions import ApiException

from airflow_ml_provider.core.defaults import CANARY_DURATION_SECONDS, CANARY_INTERVAL_SECONDS
from airflow_ml_provider.core.errors import DeploymentFailed
from airflow_ml_provider.deployers.base import ClusterDeployer
from airflow_ml_provider.hooks.mlflow import MlflowHook
from airflow_ml_provider.ml.integrity.model_files import verified_copy
from airflow_ml_provider.ml.registry.aliases import serving_input
from airflow_ml_provider.serving import inference_service as isvc
from airflow_ml_provider.serving.open_inference import column_types, post_example, v2_request


@dataclass(frozen=True)
class TrafficCanary:
    """KServe sends ``percent`` of the traffic to the new version for ``duration`` seconds,
    checked every ``interval`` seconds, before it gets all of it."""

    percent: int
    duration: float = CANARY_DURATION_SECONDS
    interval: float = CANARY_INTERVAL_SECONDS


class KServeDeployer(ClusterDeployer):
    """Serves versions of ``model_name`` with one KServe InferenceService.

    ``deploy`` points the InferenceService at the version's artifact location (after
    checking its files against the digest its training run recorded), waits until KServe
    reports it Ready and posts the model's input example as a V2 inference request to its
    cluster-local URL. With ``canary`` the new version first takes that share of traffic
    (checked on its own URL), then all of it. On failure the InferenceService goes back to
    what served before (a first deploy is deleted; a failed canary is pinned to 0 %, the
    serving revision untouched). ``rollback`` points it at an older version and checks it.

    :param settings: where and how the InferenceService runs.
    :param canary: a traffic canary first (None: straight to 100 %).

    And ClusterDeployer's parameters (``rollout_timeout``: seconds KServe may take to
    report Ready).
    """

    strategy = "kserve"
    check_name = "KServe rollout"

    settings_fields = ("name", "namespace", "mode", "min_replicas", "max_replicas",
                       "service_account", "storage_root")  # fmt: skip

    def __init__(
        self,
        model_name: str,
        *,
        settings: isvc.InferenceServiceSettings,
        canary: TrafficCanary | None = None,
        **options: Any,
    ) -> None:
        super().__init__(model_name, **options)
        self.service = settings
        self.canary = canary
        self._locations: dict[str, str] = {}
        self._examples: dict[str, dict[str, Any] | None] = {}

    # -- the Deployer interface ---------------------------------------------------------------

    def deploy(self, version: str) -> dict[str, Any]:
        self._connect()
        current = self._read()
        if current is None:
            if self.canary:
                self.log.info("no version serving yet: no canary, straight to 100 %%")
            self._apply(None, self._manifest(version, None, None))
            self._settle(version, None)
            return self._served(version, None, None, 0)
        same = isvc.labelled_version(current) == version
        return self._update(version, current, None if same else self.canary, keep_spec=False)

    def rollback(self, to_version: str) -> dict[str, Any]:
        self._connect()
        current = self._read()
        if current is None:
            raise DeploymentFailed(f"no InferenceService {self._where} serves")
        # The recorded settings say where, not how (resources, tolerations): keep its spec.
        return self._update(to_version, current, None, keep_spec=True)

    def smoke_test(self) -> dict[str, Any]:
        self._connect()
        current = self._read()
        version = isvc.labelled_version(current)
        if current is None or version is None:
            raise DeploymentFailed(f"no InferenceService {self._where} serves")
        self._check(isvc.service_url(current), version)
        return {"version": version}

    def settings(self) -> dict[str, Any]:
        service = self.service
        return {
            "name": service.name,
            "namespace": service.namespace,
            "mode": service.mode,
            "min_replicas": service.min_replicas,
            "max_replicas": service.max_replicas,
            "service_account": service.service_account,
            "storage_root": service.storage_root,
            "rollout_timeout": self.rollout_timeout,
        }

    @classmethod
    def server_settings(cls, recorded: dict[str, Any]) -> isvc.InferenceServiceSettings:
        if recorded.get("mode", "serverless") not in isvc.MODES:
            raise ValueError(f"unknown KServe mode {recorded['mode']!r}")
        return isvc.InferenceServiceSettings(**recorded)

    # -- steps --------------------------------------------------------------------------------

    @property
    def _where(self) -> str:
        return f"{self.service.namespace}/{self.service.name}"

    def _connect(self) -> None:
        self._api = KubernetesHook(conn_id=self.kubernetes_conn_id).custom_object_client
        self._client = MlflowHook(self.mlflow_conn_id).get_conn()

    def _read(self) -> dict[str, Any] | None:
        try:
            service = self._api.get_namespaced_custom_object(
                isvc.GROUP, isvc.API_VERSION, self.service.namespace, isvc.PLURAL,
                self.service.name,
            )  # fmt: skip
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        if not isvc.is_ours(service):
            raise DeploymentFailed(
                f"InferenceService {self._where} exists but is not a model server of "
                "airflow-ml (no app.kubernetes.io/managed-by: airflow-ml label): not touching it"
            )
        return service

    def _manifest(
        self, version: str, canary_percent: int | None, base: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The InferenceService serving ``version`` (once its files are checked): built from
        the settings, or ``base`` with only the version changed."""
        if version not in self._locations:
            location = self._client.get_model_version_download_uri(self.model_name, version)
            try:
                target = isvc.storage_uri(location, self.service.storage_root)
            except isvc.NotReachable as error:
                raise DeploymentFailed(str(error)) from None
            # The files KServe will download are the ones the training run recorded.
            with verified_copy(f"models:/{self.model_name}/{version}"):
                self._locations[version] = target
        if base is not None:
            return isvc.with_version(base, version, self._locations[version], canary_percent)
        return isvc.inference_service(
            self.service, version, self._locations[version], canary_percent=canary_percent
        )

    def _apply(self, current: dict[str, Any] | None, wanted: dict[str, Any]) -> None:
        namespace, name = self.service.namespace, self.service.name
        args = (isvc.GROUP, isvc.API_VERSION, namespace, isvc.PLURAL)
        if current is None:
            self._api.create_namespaced_custom_object(*args, wanted)
        else:
            self._api.replace_namespaced_custom_object(
                *args, name, isvc.with_spec_of(current, wanted)
            )

    def _wait(self) -> dict[str, Any]:
        """The InferenceService once KServe reports the latest spec Ready; raises when it
        fails or the timeout passes."""
        deadline = time.monotonic() + self.rollout_timeout
        said = None
        while True:
            service = self._read() or {}
            state, detail = isvc.rollout_state(service)
            if state == "ready":
                return service
            if state == "failed":
                raise DeploymentFailed(f"InferenceService {self._where} failed: {detail}")
            if detail != said:
                self.log.info("InferenceService %s: %s", self._where, detail)
                said = detail
            if time.monotonic() > deadline:
                raise DeploymentFailed(
                    f"InferenceService {self._where} not Ready after {self.rollout_timeout:.0f} s "
                    f"({detail})"
                )
            time.sleep(self.poll_interval)

    def _settle(self, version: str, before: dict[str, Any] | None) -> None:
        """Wait for Ready and check the service URL; on failure put ``before`` back."""
        try:
            self._check(isvc.service_url(self._wait()), version)
        except (DeploymentFailed, ApiException) as error:
            raise DeploymentFailed(f"{_plain(error)}; {self._put_back(before)}") from error

    def _update(
        self,
        version: str,
        current: dict[str, Any],
        canary: TrafficCanary | None,
        *,
        keep_spec: bool,
    ) -> dict[str, Any]:
        """Serve ``version`` instead of what ``current`` serves. Serverless: its revision
        starts with no traffic (or the canary's share) and must answer on its own URL before
        it gets all of it; until then a failure pins it to 0 %, the serving revision never
        touched. Raw mode has no traffic split: apply, check, put back on failure."""
        before = isvc.labelled_version(current)
        base = current if keep_spec else None
        if self.service.mode != "serverless":
            self._apply(current, self._manifest(version, None, base))
            self._settle(version, current)
            return self._served(version, before, None, 0)
        rounds = self._start_revision(version, current, canary, base)
        if canary is not None:
            rounds += self._observe(version, current, canary)
        return self._all_traffic(version, current, base, canary, rounds)

    def _start_revision(
        self, version: str, current: dict[str, Any], canary: TrafficCanary | None, base: Any
    ) -> int:
        """The new revision with no traffic (or the canary's share), Ready and answering on
        its own URL; on failure it is pinned to 0 % (the serving revision never touched)."""
        self._apply(current, self._manifest(version, canary.percent if canary else 0, base))
        try:
            self._check_revision(version)
        except (DeploymentFailed, ApiException) as error:
            phase = "canary" if canary else f"version {version} before any traffic"
            raise DeploymentFailed(
                f"{phase} failed: {_plain(error)}; {self._pin(current)}"
            ) from error
        if canary:
            self.log.info("canary: version %s takes %d%% of the traffic", version, canary.percent)
        return 1

    def _check_revision(self, version: str) -> None:
        self._check(isvc.canary_url(self._wait()), version)

    def _observe(self, version: str, current: dict[str, Any], canary: TrafficCanary) -> int:
        """Check the canary every ``interval`` for its ``duration`` in this process; how
        many checks passed (the canary is pinned and DeploymentFailed raised at a failure)."""
        end, rounds = time.monotonic() + canary.duration, 0
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(canary.interval, left))
            problem = self.canary_problem({"version": version})
            if problem:
                self.stop_canary({"before": current}, problem)
            rounds += 1
        return rounds

    def _all_traffic(
        self,
        version: str,
        current: dict[str, Any],
        base: Any,
        canary: TrafficCanary | None,
        rounds: int,
    ) -> dict[str, Any]:
        self._apply(self._read(), self._manifest(version, None, base))  # all traffic
        self._settle(version, current)
        return self._served(version, isvc.labelled_version(current), canary, rounds)

    # -- the phases of a deploy, for an operator that waits out the canary in the triggerer --

    def begin(self, version: str) -> dict[str, Any]:
        """Start the canary when another version serves (serverless mode): ``{"before":
        the InferenceService as it was, "version", "canary": {percent, rounds} | None}``."""
        self._connect()
        current = self._read()
        if (
            self.canary is None
            or current is None
            or isvc.labelled_version(current) == version
            or self.service.mode != "serverless"
        ):
            return {"canary": None}
        rounds = self._start_revision(version, current, self.canary, None)
        canary = {"percent": self.canary.percent, "rounds": rounds}
        return {"before": current, "version": version, "canary": canary}

    def finish(self, version: str, started: dict[str, Any]) -> dict[str, Any]:
        """All traffic to ``version`` after a healthy canary (``deploy`` when there was none)."""
        if started["canary"] is None:
            return self.deploy(version)
        self._connect()
        rounds = started["canary"]["rounds"]
        return self._all_traffic(version, started["before"], None, self.canary, rounds)

    def stop_canary(self, started: dict[str, Any], problem: str) -> None:
        if not hasattr(self, "_api"):
            self._connect()
        raise DeploymentFailed(f"canary failed: {problem}; {self._pin(started['before'])}")

    def watch(self, started: dict[str, Any]) -> dict[str, Any]:
        """What CanaryTrigger needs to check the started canary (plain data)."""
        assert self.canary is not None
        version = started["version"]
        return {
            "deployer": f"{type(self).__module__}.{type(self).__name__}",
            "started": started,
            "model_name": self.model_name,
            "settings": dataclasses.asdict(self.service),
            "kubernetes_conn_id": self.kubernetes_conn_id,
            "rollout_timeout": self.rollout_timeout,
            "poll_interval": self.poll_interval,
            "version": version,
            "example": self._v2_example(version),
            "duration": self.canary.duration,
            "interval": self.canary.interval,
        }

    @classmethod
    def watcher(cls, watch: dict[str, Any]) -> KServeDeployer:
        deployer = cls(
            watch["model_name"],
            settings=isvc.InferenceServiceSettings(**watch["settings"]),
            kubernetes_conn_id=watch["kubernetes_conn_id"],
            rollout_timeout=watch["rollout_timeout"],
            poll_interval=watch["poll_interval"],
        )
        deployer._api = KubernetesHook(conn_id=deployer.kubernetes_conn_id).custom_object_client
        deployer._examples[watch["version"]] = watch["example"]
        return deployer

    def canary_problem(self, watch: dict[str, Any]) -> str | None:
        """One check of the canary revision: Ready and answering; the failure, or None."""
        try:
            self._check_revision(watch["version"])
        except (DeploymentFailed, ApiException) as error:
            return _plain(error)
        return None

    def _pin(self, stable: dict[str, Any] | None) -> str:
        """KServe's canary rollback: canaryTrafficPercent 0, all traffic on the stable revision."""
        current = self._read()
        if current is not None:
            pinned = isvc.with_spec_of(current, current)
            pinned["spec"]["predictor"]["canaryTrafficPercent"] = 0
            pinned["metadata"]["labels"] = dict((stable or current)["metadata"]["labels"])
            self._api.replace_namespaced_custom_object(
                isvc.GROUP, isvc.API_VERSION, self.service.namespace, isvc.PLURAL,
                self.service.name, pinned,
            )  # fmt: skip
        version = isvc.labelled_version(stable)
        return f"canary pinned to 0 %, InferenceService {self._where} serves version {version}"

    def _put_back(self, before: dict[str, Any] | None) -> str:
        """Serve what served before (its storage URI); a sentence saying what serves now."""
        namespace, name = self.service.namespace, self.service.name
        if before is None:
            self._api.delete_namespaced_custom_object(
                isvc.GROUP, isvc.API_VERSION, namespace, isvc.PLURAL, name
            )
            return f"first deploy: InferenceService {self._where} deleted"
        self._apply(self._read(), before)
        try:
            self._wait()
        except DeploymentFailed as error:  # still report what was done; the task fails anyway
            self.log.error("the previous version is not Ready again either: %s", error)
        version = isvc.labelled_version(before)
        return f"InferenceService {self._where} back on version {version}"

    def _check(self, url: str | None, version: str) -> None:
        """POST the version's input example (as V2 tensors) to ``url``; raise unless it
        answers one prediction per row."""
        request = self._v2_example(version)
        if request is None:
            return
        if url is None:
            raise DeploymentFailed(f"InferenceService {self._where} reports no URL")
        post_example(url, self.service.name, request, version)

    def _v2_example(self, version: str) -> dict[str, Any] | None:
        """The version's input example as a V2 request typed by its signature (read once per
        version: a canary is checked every interval); None without an input example."""
        if version not in self._examples:
            uri = f"models:/{self.model_name}/{version}"
            example = serving_input(uri)
            if example is None:
                self.log.warning("%s has no input example: Ready is the only check", uri)
                self._examples[version] = None
            else:
                from mlflow.models import get_model_info

                signature = get_model_info(uri).signature
                types = column_types(signature.inputs.to_json() if signature else None)
                self._examples[version] = v2_request(example, types)
        return self._examples[version]

    def _served(
        self, version: str, before: str | None, canary: TrafficCanary | None, rounds: int
    ) -> dict[str, Any]:
        self.log.info(
            "InferenceService %s serves version %s (was %s)", self._where, version, before
        )
        return {
            "kserve": {
                "namespace": self.service.namespace,
                "inference_service": self.service.name,
                "previous_version": before,
                "canary": {"percent": canary.percent, "rounds": rounds} if canary else None,
            }
        }


def _plain(error: Exception) -> str:
    if isinstance(error, ApiException):
        return f"Kubernetes API error {error.status} {error.reason}"
    return str(error)
