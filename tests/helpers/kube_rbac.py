"""Is an API call allowed by a set of RBAC Roles? The Kubernetes API server's decision for
namespaced resource requests, applied to the calls our operators made against the stand-in,
and the Roles helm/airflow-ml renders."""

from __future__ import annotations

import re
import subprocess
from functools import cache

import yaml

from helpers.paths import REPO

HELM = REPO / ".tools" / "helm" / "helm"
_PATH = re.compile(
    r"^/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/[^/]+)"
    r"(?:/namespaces/(?P<ns>[^/]+))?(?:/(?P<resource>[^/]+)(?:/(?P<name>[^/]+)(?:/(?P<sub>[^/]+))?)?)?"
)


def attributes(method: str, path: str, query: dict[str, str]) -> tuple[str | None, str, str, str]:
    """(namespace, API group, resource[/subresource], verb) of a request, as RBAC sees it."""
    match = _PATH.match(path)
    if match is None:
        raise ValueError(f"not a resource request: {method} {path}")
    group = match["group"] or ""
    namespace, resource, name, sub = match["ns"], match["resource"], match["name"], match["sub"]
    if resource is None:  # /api/v1/namespaces/<ns> itself: a cluster-scoped Namespace
        return None, group, "namespaces", "get"
    if sub:
        resource = f"{resource}/{sub}"
    # Proxy paths carry ":port" in the name; the subresource is still "proxy".
    verb = {
        "GET": "watch" if query.get("watch") in ("true", "1") else "get" if name else "list",
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if name else "deletecollection",
    }[method]
    return namespace, group, resource, verb


def allows(roles: list[dict], namespace: str | None, group: str, resource: str, verb: str) -> bool:
    for role in roles:
        if namespace is None or role["metadata"]["namespace"] != namespace:
            continue
        for rule in role["rules"]:
            if (
                group in rule["apiGroups"]
                and resource in rule["resources"]
                and verb in rule["verbs"]
            ):
                return True
    return False


def denied(calls: list[tuple[str, str, dict[str, str]]], roles: list[dict]) -> list[str]:
    """The calls none of ``roles`` allows, as readable lines (empty: every call allowed)."""
    refused = []
    for method, path, query in calls:
        ns, group, resource, verb = attributes(method, path, query)
        if not allows(roles, ns, group, resource, verb):
            refused.append(f"{method} {path}: {verb} {group or 'core'}/{resource} in {ns}")
    return sorted(set(refused))


@cache
def chart_roles(*, kserve: bool = False) -> list[dict]:
    """The Roles helm/airflow-ml renders with its default values (and, with ``kserve``,
    ``serving.kserve.enabled=true``)."""
    assert HELM.exists(), "helm is missing: `make test` installs it into .tools/helm"
    values = ["--set", "serving.kserve.enabled=true"] if kserve else []
    done = subprocess.run(
        [
            str(HELM),
            "template",
            "airflow-ml",
            str(REPO / "helm" / "airflow-ml"),
            "-n",
            "airflow",
            *values,
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [d for d in yaml.safe_load_all(done.stdout) if d and d["kind"] == "Role"]
