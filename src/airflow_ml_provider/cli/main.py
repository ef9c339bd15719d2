"""``airflow-ml``: check | schema | schema-diff | run | demo | reproduce | history | rollback | up.

Shell completion: ``eval "$(register-python-argcomplete airflow-ml)"`` (argcomplete ships
with Airflow)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from airflow_ml_provider.cli.check import cmd_check
from airflow_ml_provider.cli.registry import cmd_history, cmd_rollback, store_uri
from airflow_ml_provider.cli.run_report import print_summary
from airflow_ml_provider.core.connections import KUBERNETES_CONN_ID
from airflow_ml_provider.core.errors import AirflowMlError
from airflow_ml_provider.pipeline_spec.errors import SpecError

if TYPE_CHECKING:
    from airflow_ml_provider.pipeline_spec.loader import LoadedPipeline


def cmd_schema(args: argparse.Namespace) -> int:
    """Print the JSON Schema of pipeline files (or, with --job, of a training job)."""
    if args.job:
        from airflow_ml_provider.core.training_job import job_schema

        print(json.dumps(job_schema(), indent=2))
        return 0
    from airflow_ml_provider.pipeline_spec.json_schema import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


def cmd_schema_diff(args: argparse.Namespace) -> int:
    """What changed between two snapshots or schema files; exit 1 when anything did."""
    from airflow_ml_provider.core.locations import resolve_path
    from airflow_ml_provider.ml.data.schema import diff_schemas
    from airflow_ml_provider.storage.schemas import schema_of

    try:
        old, new = (schema_of(resolve_path(p, Path.cwd())) for p in (args.old, args.new))
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        if args.json:
            print(json.dumps({"error": str(exc)}))
        return 2
    findings = diff_schemas(old, new, args.max_null_rate_increase)
    if args.json:
        print(json.dumps(findings, default=str))
    for item in findings if not args.json else []:
        print(f"{item['check']:<15} {item['column'] or '-':<24} {item['message']}")
    print(
        f"{len(findings)} difference(s) between {args.old} and {args.new}"
        if findings
        else f"no schema differences between {args.old} and {args.new}",
        file=sys.stderr,
    )
    return 1 if findings else 0


def cmd_up(args: argparse.Namespace) -> int:
    """Run a local Airflow (standalone) until Ctrl-C or SIGTERM stops it and all it started."""
    from airflow_ml_provider.cli.local_airflow import up

    return up(args.host, args.port)


def run_log_path(home: Path, pipeline_file: Path) -> Path:
    """A log file of one local run's own: logs/runs/<file>-<UTC time>-<pid>.log."""
    import datetime as dt

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return home / "logs" / "runs" / f"{pipeline_file.stem}-{stamp}-{os.getpid()}.log"


def _run_one(
    path: Path,
    verbose: bool,
    answer: str | None = None,
    retrain: bool = False,
    checked: LoadedPipeline | None = None,
) -> dict:
    """Run one pipeline; ``answer`` ("Approve"/"Reject") answers its approval request;
    ``retrain`` trains even when nothing changed since the champion; ``checked`` is the
    pipeline already loaded and checked."""
    import getpass

    from airflow_ml_provider.cli.local_run import (
        answer_approval,
        prepare_environment,
        run_pipeline_file,
    )
    from airflow_ml_provider.cli.redirect import redirect_output

    home = prepare_environment(path.resolve().parent)
    log_path = run_log_path(home, path)
    if answer is not None:
        from airflow_ml_provider.pipeline_spec.loader import load_pipeline

        answer_approval(load_pipeline(path).dag_id, answer, f"cli:{getpass.getuser()}")
    if verbose:
        result = run_pipeline_file(path, retrain=retrain, checked=checked)
    else:
        with redirect_output(log_path) as terminal:
            result = run_pipeline_file(
                path, lambda line: print(line, file=terminal, flush=True), retrain, checked
            )
    result["log_file"] = None if verbose else str(log_path)
    if result.get("error"):
        result["error"]["log"] = result["log_file"]
    return result


def _load_checked(path: Path) -> LoadedPipeline:
    """Every check of one file (cheap and heavy) before any Airflow state is created; a
    missing data file first, before the heavy checks' imports."""
    from airflow_ml_provider.checks.data_checks import missing_data
    from airflow_ml_provider.cli.local_run import check_deep
    from airflow_ml_provider.pipeline_spec.loader import load_pipeline

    loaded = load_pipeline(path)
    missing = missing_data(loaded)
    if missing:
        raise SpecError(missing)
    check_deep(loaded)
    return loaded


def cmd_run(args: argparse.Namespace) -> int:
    """Run one pipeline end to end on the embedded default; exit 0 iff the run succeeded."""
    path = Path(args.file)
    try:
        loaded = _load_checked(path)
        answer = "Approve" if args.approve else "Reject" if args.reject else None
        if answer is None and (
            loaded.spec.deployment.approval == "manual"
            or loaded.spec.evaluation.first_run == "require_approval"
        ):
            print(
                "note: this pipeline asks a person before promoting; answer in the Airflow UI "
                "(Required Actions, `make up`) or run again with --approve or --reject",
                file=sys.stderr,
            )
        result = _run_one(path, args.verbose, answer, args.retrain, loaded)
    except SpecError as exc:
        print(str(exc), file=sys.stderr)
        if args.json:  # a script reading stdout gets the reason too
            error = {"task": None, "type": "SpecError", "message": str(exc), "log": None}
            print(json.dumps({"file": str(path), "state": "not started", "error": error}))
        return 1
    if args.json:
        print(json.dumps(result, default=str))
    else:
        print_summary(result)
    return 0 if result["state"] == "success" else 1


def cmd_demo(args: argparse.Namespace) -> int:
    """Write a real dataset and the example YAML, run the pipeline twice, say where to look."""
    from airflow_ml_provider.cli.demo import write_demo

    yaml_path = write_demo(Path(args.dir))
    # With --json, stdout is exactly one JSON list (the two runs); the narration goes to stderr.
    say = sys.stderr if args.json else sys.stdout
    print(f"demo pipeline written to {yaml_path}", file=say)
    code, results = 0, []
    for attempt in (1, 2):
        print(f"\n=== run {attempt} of 2 ===", file=say)
        try:
            result = _run_one(yaml_path, args.verbose)
        except SpecError as exc:
            print(str(exc), file=sys.stderr)
            return 1
        results.append(result)
        if not args.json:
            print_summary(result)
        code = code or (0 if result["state"] == "success" else 1)
    if args.json:
        print(json.dumps(results, default=str))
    home = os.environ["AIRFLOW_HOME"]
    print(
        "\nNext:\n"
        f"  MLflow UI:  .venv/bin/mlflow ui --backend-store-uri sqlite:///{home}/mlflow.db "
        "--port 5000   (then open http://127.0.0.1:5000;\n"
        "              AIRFLOW__ML_PROVIDER__MLFLOW_UI_URL=http://127.0.0.1:5000 makes the\n"
        "              pipeline pages and mails link there)\n"
        "  Airflow UI: make up   (then open http://127.0.0.1:8080; Browse -> ML pipelines;\n"
        "              make up PORT=8090 for another port)\n"
        f"  Edit {yaml_path} and run: .venv/bin/airflow-ml run {yaml_path}",
        file=say,
    )
    return code


def cmd_reproduce(args: argparse.Namespace) -> int:
    """Re-train an MLflow run from its job.json; exit 0 same metrics, 1 different, 2 error."""
    from airflow_ml_provider.ml.features.estimators import EstimatorError
    from airflow_ml_provider.ml.reproduce import ReproduceError, format_report, reproduce

    try:
        report = reproduce(args.run_id, store_uri(args))
    except (ReproduceError, EstimatorError, AirflowMlError, ValueError, KeyError, OSError) as exc:
        plain = isinstance(exc, ReproduceError | AirflowMlError)
        message = str(exc) if plain else f"{type(exc).__name__}: {exc}"
        print(f"error: {message}", file=sys.stderr)
        if args.json:
            print(json.dumps({"run_id": args.run_id, "error": message}))
        return 2
    print(json.dumps(report) if args.json else format_report(report))
    return 0 if report["match"] else 1


def build_parser() -> argparse.ArgumentParser:
    from airflow_ml_provider import __version__

    parser = argparse.ArgumentParser(prog="airflow-ml", description=__doc__)
    parser.add_argument("--version", action="version", version=f"airflow-ml {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate pipeline YAML files or folders")
    check.add_argument("paths", nargs="+")
    check.add_argument("--fast", action="store_true", help="skip checks that import sklearn")
    check.add_argument("--json", action="store_true", help="print one JSON list, a file each")
    check.set_defaults(func=cmd_check)
    schema = commands.add_parser("schema", help="print the JSON Schema of pipeline files")
    schema.add_argument(
        "--job", action="store_true", help="of a training job (job.json) instead, for trainers"
    )
    schema.set_defaults(func=cmd_schema)
    diff = commands.add_parser(
        "schema-diff",
        help="compare the schemas of two data snapshots (csv/parquet) or schema files",
    )
    diff.add_argument("old", help="older snapshot or schema file (path or URI)")
    diff.add_argument("new", help="newer snapshot or schema file (path or URI)")
    diff.add_argument(
        "--max-null-rate-increase", type=float, default=0.05, help="tolerated null-share growth"
    )
    diff.add_argument("--json", action="store_true", help="print one JSON list of findings")
    diff.set_defaults(func=cmd_schema_diff)
    run = commands.add_parser("run", help="run one pipeline once through dag.test()")
    run.add_argument("file")
    run.add_argument("--json", action="store_true", help="print one JSON object")
    run.add_argument("--verbose", action="store_true", help="show Airflow's task logs")
    run.add_argument(
        "--retrain",
        action="store_true",
        help="train even when the data and the configuration equal the champion's",
    )
    decide = run.add_mutually_exclusive_group()
    decide.add_argument(
        "--approve", action="store_true", help="approve the promotion if the run asks"
    )
    decide.add_argument("--reject", action="store_true", help="reject the promotion if asked")
    run.set_defaults(func=cmd_run)
    demo = commands.add_parser("demo", help="write and run the example pipeline twice")
    demo.add_argument("--dir", default="demo", help="where to write the demo (default ./demo)")
    demo.add_argument("--verbose", action="store_true", help="show Airflow's task logs")
    demo.add_argument("--json", action="store_true", help="print one JSON list, a run each")
    demo.set_defaults(func=cmd_demo)
    again = commands.add_parser(
        "reproduce",
        help="re-train an MLflow run from its recorded job and compare the metrics "
        "(exit 0 same, 1 different, 2 error)",
    )
    again.add_argument("run_id", metavar="RUN_ID", help="MLflow run id of a training run")
    again.add_argument("--json", action="store_true", help="print one JSON object")
    again.set_defaults(func=cmd_reproduce)
    past = commands.add_parser(
        "history", help="who held champion/challenger/previous of a model, when and why"
    )
    past.add_argument("model", metavar="MODEL", help="registered model name")
    past.add_argument("--json", action="store_true", help="print one JSON list")
    back = commands.add_parser(
        "rollback",
        help="give champion back to 'previous' (or --to VERSION) and make serving follow "
        "(exit 0 done, 1 serving could not follow: champion restored, 2 not possible)",
    )
    back.add_argument("model", metavar="MODEL", help="registered model name")
    back.add_argument("--to", metavar="VERSION", help="version to restore (default: previous)")
    back.add_argument("--reason", default="manual rollback", help="recorded in the history")
    back.add_argument("--json", action="store_true", help="print one JSON object")
    back.add_argument(
        "--pipeline",
        metavar="FILE.yaml",
        help="serve as this pipeline deploys (default: as recorded on the champion)",
    )
    back.add_argument(
        "--kubernetes-conn-id",
        default=KUBERNETES_CONN_ID,
        help="Airflow connection to the cluster, when the model is served there",
    )
    for command, func in ((past, cmd_history), (back, cmd_rollback), (again, cmd_reproduce)):
        from_file = (
            "the --pipeline file's registry.mlflow_conn_id, else " if command is back else ""
        )
        command.add_argument(
            "--mlflow-conn-id",
            help=f"the Airflow connection of the MLflow store (default: {from_file}"
            "mlflow_default; without that connection, the embedded store if it exists)",
        )
        command.add_argument(
            "--tracking-uri", help="an MLflow tracking URI instead (or $MLFLOW_TRACKING_URI)"
        )
        command.set_defaults(func=func)
    local = commands.add_parser(
        "up",
        help="run Airflow standalone here (this machine only unless --host says otherwise); "
        "Ctrl-C or SIGTERM stops it and every process it started",
    )
    local.add_argument("--host", default="127.0.0.1", help="address to listen on")
    local.add_argument("--port", type=int, default=8080, help="port of the UI and API")
    local.set_defaults(func=cmd_up)
    return parser


def main(argv: list[str] | None = None) -> int:
    import argcomplete

    parser = build_parser()
    argcomplete.autocomplete(parser)  # answers the shell's completion request, then exits
    args = parser.parse_args(argv)
    if args.command != "schema":
        from airflow_ml_provider.cli.local_run import use_scratch_home

        use_scratch_home()
        # GX logs every registered expectation at INFO while it imports: not for the terminal.
        logging.getLogger("great_expectations").setLevel(logging.WARNING)
    return args.func(args)


def console() -> int:
    """The ``airflow-ml`` command: ``main``, then a quick exit.

    After a run the heap holds Airflow, Great Expectations, MLflow and scikit-learn; the
    cyclic garbage collector's passes while the interpreter tears them down took ~6 s of
    every command. Frozen, those objects are still released (files closed, buffers flushed),
    just not scanned.
    """
    import gc

    code = main()
    gc.freeze()
    return code
