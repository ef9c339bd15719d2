"""Is there anything new to train on? The snapshot and configuration of this run against
those the current champion was trained on (recorded on its model version by register_model,
else on its training run). No Airflow imports."""

from __future__ import annotations

from typing import Any

from airflow_ml_provider.ml.registry.aliases import CHAMPION, holder

DATA_TAG = "airflow_ml.data_sha256"
CONFIG_TAG = "airflow_ml.config_hash"


def champion_inputs(client, model_name: str) -> dict[str, Any] | None:
    """``{version, data_sha256, config_hash}`` of the champion, or None without one."""
    number = holder(client, model_name, CHAMPION)
    if number is None:
        return None
    version = client.get_model_version(model_name, number)
    tags = dict(version.tags or {})
    if not (tags.get(DATA_TAG) and tags.get(CONFIG_TAG)) and version.run_id:
        tags = {**client.get_run(version.run_id).data.tags, **tags}
    return {
        "version": int(number),
        "data_sha256": tags.get(DATA_TAG, ""),
        "config_hash": tags.get(CONFIG_TAG, ""),
    }


def compare_with_champion(
    client, model_name: str, data_sha256: str, config_hash: str
) -> dict[str, Any]:
    """``{unchanged, champion_version, reason}``: unchanged when both hashes equal the
    champion's (a missing hash on either side is a change)."""
    champion = champion_inputs(client, model_name)
    if champion is None:
        return {"unchanged": False, "champion_version": None, "reason": "no champion yet"}
    changed = [
        what
        for what, ours, theirs in (
            ("data", data_sha256, champion["data_sha256"]),
            ("configuration", config_hash, champion["config_hash"]),
        )
        if not ours or ours != theirs
    ]
    version = champion["version"]
    if changed:
        reason = f"{' and '.join(changed)} changed since champion version {version} was trained"
    else:
        reason = (
            f"nothing new: same data (sha256 {data_sha256[:12]}) and configuration "
            f"(hash {config_hash[:12]}) as champion version {version}; training, "
            f"registration and deployment skipped"
        )
    return {"unchanged": not changed, "champion_version": version, "reason": reason}
