"""What `airflow-ml run` and `airflow-ml demo` print about a run: task states, validation,
metrics, the gate's rules and decision, the model's aliases."""

from __future__ import annotations


def print_validation(validation: dict) -> None:
    """Guards, expectations, schema and drift of one run, a line each."""
    from airflow_ml_provider.ml.data.expectations import describe_failure

    if validation["success"] is None:
        return
    print(f"validation: {'passed' if validation['success'] else 'FAILED'}")
    problems = [f"{g['check']}: {g['message']}" for g in validation.get("guards", [])]
    problems += [describe_failure(entry) for entry in validation["failed_expectations"]]
    problems += [
        f"schema {f['check']}: {f['message']}" for f in validation.get("schema_findings", [])
    ]
    for line in problems if not validation["success"] else validation.get("warnings", []):
        print(f"  - {line}")
    drift = validation.get("drift")
    if drift:
        from airflow_ml_provider.ml.drift.detection import drift_summary_line

        print(f"  drift vs champion's data: {drift_summary_line(drift)}")
    if validation.get("data_docs_uri"):
        print(f"  Data Docs: {validation['data_docs_uri']}")


def print_summary(result: dict) -> None:
    print(f"pipeline {result['dag_id']}: run {result['run_id']} {result['state'].upper()}")
    error = result.get("error")
    if error:
        print(f"  failed: {error['task']}: {error['message']}")
    for task, state in result["tasks"].items():
        print(f"  {task:<16} {state}")
    print_validation(result["validation"])
    for line in result.get("training_warnings") or []:
        print(f"training warning: {line}")
    if result.get("unchanged"):
        print(f"decision: NOTHING NEW — {result['changes']['reason']}")
    challenger = result["metrics"]["challenger"] or {}
    champion = result["metrics"]["champion"] or {}
    if challenger:
        print(f"  {'metric':<12} {'challenger':>10} {'champion':>10}")
        for name, value in challenger.items():
            old = champion.get(name)
            print(f"  {name:<12} {value:>10.4f} {'-' if old is None else f'{old:.4f}':>10}")
    if result.get("decision"):
        rules = result["decision"].get("rules") or []
        if rules:
            print(f"  {'gate rule':<30} {'metric':<16} {'value':>9} {'bound':>9}")
        for rule in rules:
            print(
                f"  {rule['rule']:<30} {rule['metric']:<16} {rule['value']:>9.4f} "
                f"{rule['bound']:>9.4f}  {'pass' if rule['passed'] else 'FAIL'}"
            )
        verdict = "PROMOTED" if result["promoted"] else "NOT promoted"
        reason = (result.get("summary") or {}).get("reason") or result["decision"]["reason"]
        print(f"decision: {verdict} — {reason}")
    model = result["model"]
    if model.get("aliases"):
        aliases = ", ".join(f"{a}=v{v}" for a, v in model["aliases"].items())
        print(f"model {model['name']}: this run's version {model['version']}; aliases {aliases}")
    if result.get("log_file"):
        print(f"task logs: {result['log_file']}")
