"""The "ML pipelines" pages on a real Airflow 3 api-server, in a real browser.

Pipelines run through dag.test() (real Airflow on SQLite, real MLflow store, real Great
Expectations and scikit-learn); then `airflow api-server` starts on a free localhost port
on the same metadata DB, with this repo's plugin loaded from its ``airflow.plugins`` entry
point and Airflow's SimpleAuthManager; headless Chromium (Debian's ``chromium``, driven by
Playwright) opens the pages with a token from Airflow's own ``/auth/token``. Screenshots go
to ``test-artifacts/ui/``. Nothing is stood in for.
"""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from helpers.network import free_port
from helpers.partitioned import write_partitioned
from helpers.pipelines import edit, run, write_pipeline
from helpers.processes import start_server, stop_group

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
USER, PASSWORD = "viewer", "viewer-password"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, airflow_db, airflow_home):
    """A pipeline with two versions (v2 rejected by the gate), a partitioned pipeline with
    two versions (v2 rejected: partitions regressed) and a broken YAML file, all in the
    metadata DB and the MLflow store."""
    from airflow_ml_provider.cli.airflow_compat import serialize_dag
    from airflow_ml_provider.factory.loader import load_dags

    folder = tmp_path_factory.mktemp("ui")
    churn = write_pipeline(folder, "ui_churn")
    first = run(churn)
    write_pipeline(folder, "ui_churn", params="{n_estimators: 5, max_depth: 1, random_state: 3}")
    second = run(churn)
    # Twelve stores: two training tasks, enough for a table to sort, filter and compare.
    stores_file = write_partitioned(folder, "ui_stores", stores=12)
    stores = run(stores_file)
    # Heavily regularised per-store models: v2 regresses on most stores and is rejected.
    write_partitioned(folder, "ui_stores", params="{C: 0.0005}", stores=12)
    stores_worse = run(stores_file)
    broken = tmp_path_factory.mktemp("ui_broken")
    (broken / "ui_broken.yaml").write_text("pipeline: ui_broken\ndata:\n  target: [\n")
    for dag in load_dags(broken).values():
        serialize_dag(dag)
    # In the DAGs folder (not a local run); its second run has nothing new.
    same = write_pipeline(airflow_home / "dags" / "pipelines", "ui_same")
    same_runs = (run(same), run(same))
    # No schedule, and its data file is missing: the run fails in snapshot_data.
    # A long folder name: the failure message is a long path with no space to break at.
    long_folder = "ui_failing_in_a_folder_whose_long_name_has_no_space_to_break_the_line_at"
    failing = write_pipeline(tmp_path_factory.mktemp(long_folder), "ui_failing")
    edit(failing, 'schedule: "@daily"', "schedule: null")
    (failing.parent / "data" / "breast_cancer.csv").unlink()
    failed = run(failing)
    return {
        "churn": (first, second),
        "stores": (stores, stores_worse),
        "same": same_runs,
        "failed": failed,
        "gone": _gone_pipeline(tmp_path_factory.mktemp("ui_gone")),
    }


def _gone_pipeline(folder: Path) -> str:
    """A pipeline whose DAG was written, then marked stale — what the DAG processor does
    when its YAML file leaves the DAGs folder (set here directly: no processor runs)."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    from airflow_ml_provider.cli.airflow_compat import serialize_dag
    from airflow_ml_provider.factory.builder import build_dag
    from airflow_ml_provider.pipeline_spec.loader import load_pipeline

    serialize_dag(build_dag(load_pipeline(write_pipeline(folder, "ui_gone"))))
    with create_session() as session:
        session.get(DagModel, "ui_gone").is_stale = True
    return "ui_gone"


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except urllib.error.URLError:  # not listening yet
        return 0, b""


@pytest.fixture(scope="module")
def server(seeded, airflow_home, tmp_path_factory):
    """`airflow api-server` on a free port; stopped by its process id at the end."""
    passwords = tmp_path_factory.mktemp("auth") / "passwords.json"
    passwords.write_text(json.dumps({USER: PASSWORD}))
    port = free_port()
    env = {
        **os.environ,
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API_AUTH__JWT_SECRET": "ui-test-secret-" + "x" * 32,
    }
    base = f"http://127.0.0.1:{port}"
    process = start_server(
        [sys.executable, "-m", "airflow", "api-server", "--port", str(port)],
        env,
        airflow_home / f"api-server-{port}.log",
        lambda: _get(f"{base}/api/v2/monitor/health")[0] == 200,
    )
    try:
        yield base
    finally:
        stop_group(process, grace=30)


@pytest.fixture(scope="module")
def token(server) -> str:
    request = urllib.request.Request(
        f"{server}/auth/token",
        data=json.dumps({"username": USER, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())["access_token"]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: `make test` installs it"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server, token):
    """A logged-in page: Airflow's JWT in the ``_token`` cookie, as Airflow's UI sets it."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.add_cookies([{"name": "_token", "value": token, "url": server}])
    page = context.new_page()
    yield page
    context.close()


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _mlflow():
    from airflow_ml_provider.hooks.mlflow import MlflowHook

    return MlflowHook().get_conn()


def test_each_pipeline_row_shows_the_champion_and_metric_mlflow_holds(page, server):
    client = _mlflow()
    champion = client.get_model_version_by_alias("ui_churn_model", "champion")
    roc_auc = client.get_run(champion.run_id).data.metrics["roc_auc"]
    # register_model tagged the registered model: the list finds pipeline models by it.
    assert client.get_registered_model("ui_churn_model").tags["airflow_ml.dag_id"] == "ui_churn"

    page.goto(f"{server}/ml-pipelines/")
    _shot(page, "pipelines")
    row = page.locator('tr[data-dag-id="ui_churn"]')
    assert row.locator("td.champion").inner_text() == f"v{champion.version}"
    assert row.locator("td.metric").inner_text() == f"roc_auc {roc_auc:.4f}"
    assert row.locator("td.validation").inner_text() == "passed"
    assert row.locator("td.last-run").inner_text().startswith("success")
    stores = page.locator('tr[data-dag-id="ui_stores"]')
    assert "per store" in stores.inner_text()
    assert stores.locator("td.champion").inner_text() == "v1"
    broken = page.locator('tr[data-dag-id^="config_error__"]')
    assert "invalid YAML file" in broken.inner_text()
    assert "ui_broken.yaml:4:1: invalid YAML" in broken.inner_text()
    # No MLflow UI serves this store: nothing links to one (never to an idle port 5000).
    assert page.locator('a[href*=":5000"]').count() == 0
    page.goto(f"{server}/ml-pipelines/pipelines/ui_churn")
    assert "no MLflow UI" in page.locator("#no-mlflow-ui").inner_text()


def test_pipeline_page_shows_the_gate_decision_and_the_metric_chart(page, server, seeded):
    decision = seeded["churn"][1]["decision"]
    page.goto(f"{server}/ml-pipelines/")
    page.click('tr[data-dag-id="ui_churn"] a.pipeline')
    page.wait_for_selector("#gate")
    _shot(page, "pipeline")
    rules = page.locator("#gate tbody tr")
    assert rules.count() == len(decision["rules"])
    for i, rule in enumerate(decision["rules"]):
        cells = rules.nth(i).locator("td").all_inner_texts()
        assert cells[:2] == [rule["rule"], rule["metric"]]
        assert cells[2] == f"{rule['value']:.4f}"
        assert cells[4] == ("pass" if rule["passed"] else "FAIL")
    assert page.locator("#decision").inner_text().startswith("Not promoted")
    points = page.locator("#chart svg circle")
    assert points.count() == 2
    champion = page.locator("#chart svg circle.champion")
    assert champion.get_attribute("data-version") == "1"
    history = page.locator("#history tbody tr").all_inner_texts()
    assert any("champion" in line and "v1" in line for line in history)
    config = page.locator("#yaml").inner_text()
    # The YAML of the latest run (v2's parameters), not the first one's.
    assert "pipeline: ui_churn" in config
    assert "{n_estimators: 5, max_depth: 1, random_state: 3}" in config


def test_the_evaluation_pictures_are_on_the_page_and_in_mlflow(page, server, seeded):
    """v2 of ui_churn against champion v1: the confusion matrices, ROC, precision-recall
    and calibration of both on the same held-out rows are logged on v2's training run as
    gate/plots/*.png and shown on the pipeline page (each image loads and is drawn)."""
    from airflow_ml_provider.hooks.mlflow import MlflowHook

    decision = seeded["churn"][1]["decision"]
    assert decision["plots"] == ["confusion_matrix", "roc_curve", "precision_recall", "calibration"]
    client = MlflowHook().get_conn()
    run_id = seeded["churn"][1]["mlflow_run_id"]
    logged = {f.path for f in client.list_artifacts(run_id, "gate/plots")}
    assert logged == {f"gate/plots/{name}.png" for name in decision["plots"]}
    page.goto(f"{server}/ml-pipelines/pipelines/ui_churn")
    page.wait_for_selector("#gate-plots img")
    images = page.locator("#gate-plots img")
    assert images.count() == 4
    page.wait_for_function(
        "[...document.querySelectorAll('#gate-plots img')].every(i => i.complete)"
    )
    widths = images.evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
    assert all(width > 300 for width in widths), widths
    captions = page.locator("#gate-plots figcaption").all_inner_texts()
    assert captions[1] == "ROC curve: challenger next to the champion, same held-out rows"
    _shot(page, "gate-plots")


def test_partition_table_sorts_and_filters(page, server):
    import csv

    client = _mlflow()
    champion = client.get_model_version_by_alias("ui_stores_model", "champion")
    with open(client.download_artifacts(champion.run_id, "partitions/metrics.csv")) as f:
        logged = list(csv.DictReader(f))
    trained = [r for r in logged if r["status"] == "trained"]
    lowest = min(trained, key=lambda r: float(r["accuracy"]))
    highest = max(trained, key=lambda r: float(r["accuracy"]))

    page.goto(f"{server}/ml-pipelines/pipelines/ui_stores")
    assert page.locator("#partitions").get_attribute("data-table") == "metrics"
    assert page.locator("#partitions tbody tr").count() == len(logged)
    page.click('#partitions th[data-column="accuracy"] a')
    page.wait_for_selector('#partitions th[data-column="accuracy"][aria-sort="ascending"]')
    assert (
        page.locator("#partitions tbody tr").first.locator("td").first.inner_text()
        == (lowest["partition"])
    )
    page.click('#partitions th[data-column="accuracy"] a')
    page.wait_for_selector('#partitions th[data-column="accuracy"][aria-sort="descending"]')
    accuracy = [
        float(text)
        for text in page.locator("#partitions tbody tr td:nth-child(7)").all_inner_texts()
        if text
    ]
    assert accuracy == sorted(accuracy, reverse=True)
    assert float(highest["accuracy"]) == pytest.approx(accuracy[0], abs=1e-4)
    _shot(page, "partitions")

    page.select_option('select[name="status"]', "skipped")
    page.click('form.filter button[type="submit"]')
    page.wait_for_url("**status=skipped**")
    skipped = page.locator("#partitions tbody tr td:first-child").all_inner_texts()
    assert sorted(skipped) == sorted(r["partition"] for r in logged if r["status"] == "skipped")
    page.fill('input[name="q"]', "s0")
    page.select_option('select[name="status"]', "")
    page.click('form.filter button[type="submit"]')
    page.wait_for_url("**q=s0**")
    keys = page.locator("#partitions tbody tr td:first-child").all_inner_texts()
    assert keys and all("s0" in key for key in keys)
    assert len(keys) == sum("s0" in r["partition"] for r in logged)


def test_the_latest_gate_per_partition_shows_which_partitions_regressed(page, server, seeded):
    import csv

    decision = seeded["stores"][1]["decision"]
    (rule,) = [r for r in decision["rules"] if r["rule"] == "partitions_regressed"]
    assert rule["passed"] is False
    client = _mlflow()
    latest = client.get_model_version("ui_stores_model", 2)
    with open(client.download_artifacts(latest.run_id, "gate/partitions.csv")) as f:
        compared = list(csv.DictReader(f))
    regressed = sorted(r["partition"] for r in compared if r["regressed"] == "True")
    assert regressed

    page.goto(f"{server}/ml-pipelines/pipelines/ui_stores")
    page.click("#partition-tabs a:text('Latest gate, per partition')")
    page.wait_for_url("**table=gate**")
    assert page.locator("#partitions").get_attribute("data-table") == "gate"
    assert "Latest gate: v2 against champion v1" in page.locator("#partition-tabs").inner_text()
    assert page.locator("#partitions tbody tr").count() == len(compared)
    page.select_option('select[name="status"]', "regressed")
    page.click('form.filter button[type="submit"]')
    page.wait_for_url("**status=regressed**")
    shown = page.locator("#partitions tbody tr td:first-child").all_inner_texts()
    assert sorted(shown) == regressed
    page.click('#partitions th[data-column="delta"] a')
    page.wait_for_selector('#partitions th[data-column="delta"][aria-sort="ascending"]')
    deltas = [
        float(t) for t in page.locator("#partitions tbody tr td:nth-child(6)").all_inner_texts()
    ]
    assert deltas == sorted(deltas) and all(d < 0 for d in deltas)
    _shot(page, "partitions-gate")


def test_a_champion_moved_in_mlflow_shows_at_once(page, server):
    """No cache between MLflow and the page: moving the alias is visible on the next load."""
    from airflow_ml_provider.ml.registry.aliases import CHAMPION, holder, move_alias

    client = _mlflow()
    before = holder(client, "ui_churn_model", CHAMPION)
    move_alias(client, "ui_churn_model", CHAMPION, 2, actor="test", reason="ui freshness")
    try:
        page.goto(f"{server}/ml-pipelines/")
        assert page.locator('tr[data-dag-id="ui_churn"] td.champion').inner_text() == "v2"
    finally:
        move_alias(client, "ui_churn_model", CHAMPION, before, actor="test", reason="restore")


def test_pages_and_data_refuse_requests_without_a_valid_login(server, token):
    paths = [
        "/ml-pipelines/",
        "/ml-pipelines/api/pipelines",
        "/ml-pipelines/pipelines/ui_churn",
        "/ml-pipelines/api/pipelines/ui_churn",
    ]
    for path in paths:
        assert _get(server + path)[0] == 401, path
        assert _get(server + path, token="not-a-jwt")[0] in (401, 403), path
        assert _get(server + path, token=token)[0] == 200, path
    status, body = _get(server + "/ml-pipelines/api/pipelines", token=token)
    assert {row["dag_id"] for row in json.loads(body)} >= {"ui_churn", "ui_stores"}
    assert _get(server + "/ml-pipelines/api/pipelines/not_a_pipeline", token=token)[0] == 404
    status, body = _get(server + "/ml-pipelines/pipelines/not_a_pipeline", token=token)
    assert status == 404 and b"was not built from a pipeline YAML file" in body


def test_extra_links_resolve_to_the_mlflow_run_version_and_data_docs(server, token, seeded):
    from airflow_ml_provider.hooks.mlflow import MlflowHook

    result = seeded["churn"][1]
    run_id = result["run_id"]
    hook = MlflowHook()
    training = hook.get_conn().get_run(result["mlflow_run_id"])

    def links(task_id: str) -> dict[str, str]:
        url = f"{server}/api/v2/dags/ui_churn/dagRuns/{run_id}/taskInstances/{task_id}/links"
        status, body = _get(url, token=token)
        assert status == 200, body
        return json.loads(body)["extra_links"]

    # Nobody serves this embedded store's UI ([ml_provider] mlflow_ui_url unset): no link
    # into MLflow rather than one to a port where nothing listens.
    assert hook.ui_url is None and training.info.run_id
    assert links("train_model") == {"MLflow run": None}
    assert links("register_model") == {"Model version": None}
    # The local artifact store's Data Docs open through the plugin, behind Airflow's login
    # ([api] base_url is where people reach the api-server; this test's is on another port).
    docs = links("validate_data")["Data Docs"]
    path = urllib.parse.urlsplit(docs).path
    assert path.startswith("/ml-pipelines/artifacts/snapshots/ui_churn/")
    assert path.endswith("/index.html") and "/data_docs/" in path
    status, body = _get(server + path, token=token)
    assert status == 200 and b"Data Docs" in body
    assert _get(server + path)[0] == 401
    assert _get(server + path.replace("index.html", "../../../../ui_stores"), token=token)[0] == 404


def test_plugin_adds_the_page_to_airflow_navigation(server, token, page):
    status, body = _get(f"{server}/api/v2/plugins", token=token)
    plugin = next(p for p in json.loads(body)["plugins"] if p["name"] == "airflow_ml_pipelines")
    assert plugin["fastapi_apps"][0]["url_prefix"] == "/ml-pipelines"
    views = {view["destination"]: view for view in plugin["external_views"]}
    assert views["nav"]["href"] == "/ml-pipelines/" and views["nav"]["name"] == "ML pipelines"
    assert views["dag"]["href"] == "/ml-pipelines/pipelines/{DAG_ID}"
    # Inside Airflow's own UI the page is embedded under /plugin/<url_route>.
    page.goto(f"{server}/plugin/ml-pipelines")
    frame = page.frame_locator("iframe")
    frame.locator('tr[data-dag-id="ui_churn"]').wait_for(timeout=60_000)
    _shot(page, "airflow-nav")


def test_a_failed_last_run_shows_the_failed_task_and_why(page, server, seeded):
    """The list and the pipeline page name the task that failed and its error's first line
    (recorded by every task's failure callback); no schedule reads "manual only"."""
    error = seeded["failed"]["error"]
    assert error["task"] == "snapshot_data" and "matches no file" in error["message"]
    page.goto(f"{server}/ml-pipelines/")
    row = page.locator('tr[data-dag-id="ui_failing"]')
    last_run = row.locator("td.last-run").inner_text()
    assert last_run.startswith("failed")
    assert f"snapshot_data: {error['message']}" in last_run
    assert "None" not in row.inner_text() and "manual only" in row.inner_text()
    page.click('tr[data-dag-id="ui_failing"] a.pipeline')
    page.wait_for_selector("#runs")
    _shot(page, "pipeline-failed")
    assert f"snapshot_data: {error['message']}" in page.locator("#summary").inner_text()
    assert f"snapshot_data — {error['message']}" in page.locator("#runs").inner_text()


def test_a_long_failure_message_wraps_and_keeps_the_key_columns_visible(page, server, seeded):
    """At 1280 px the failure message (a long path: no space to break at) wraps inside its
    cell: no horizontal scrolling, and the champion and metric columns stay on screen."""
    assert len(seeded["failed"]["error"]["message"]) > 150
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{server}/ml-pipelines/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    for dag_id in ("ui_failing", "ui_churn"):
        for cell in ("td.champion", "td.metric"):
            box = page.locator(f'tr[data-dag-id="{dag_id}"] {cell}').bounding_box()
            assert box is not None and box["x"] + box["width"] <= 1280, (dag_id, cell, box)
    page.goto(f"{server}/ml-pipelines/pipelines/ui_failing")
    page.wait_for_selector("#runs")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280


def test_a_run_with_nothing_new_is_the_latest_decision(page, server, seeded):
    """The run that finished last skipped the gate: the page says nothing new, not the
    earlier run's "Promoted"."""
    reason = seeded["same"][1]["changes"]["reason"]
    page.goto(f"{server}/ml-pipelines/pipelines/ui_same")
    page.wait_for_selector("#decision")
    _shot(page, "pipeline-nothing-new")
    decision = page.locator("#decision").inner_text()
    assert decision.startswith("Nothing new") and reason in decision
    assert page.locator("#local").count() == 0  # its file is in the DAGs folder


def test_local_runs_are_marked_and_gone_pipelines_say_so(page, server, seeded):
    page.goto(f"{server}/ml-pipelines/")
    assert "local run" in page.locator('tr[data-dag-id="ui_churn"]').inner_text()
    assert "local run" not in page.locator('tr[data-dag-id="ui_same"]').inner_text()
    assert page.locator('tr[data-dag-id="ui_gone"]').count() == 0  # not in the list
    page.goto(f"{server}/ml-pipelines/pipelines/ui_gone")
    page.wait_for_selector("#gone")
    assert "This pipeline's DAG is gone" in page.locator("#gone").inner_text()


def test_the_data_docs_link_opens_in_the_browser(page, server):
    """The list's Data Docs link is an http(s) page of the plugin, not a file:// link a
    browser refuses to open from an http page; it renders GX's Data Docs — with the network
    blocked: every script, style and font it loads comes from this server."""
    outside, failed = [], []

    def only_this_server(route):
        if route.request.url.startswith(server):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    page.on(
        "response",
        lambda response: failed.append(response.url) if response.status >= 400 else None,
    )
    page.goto(f"{server}/ml-pipelines/")
    href = page.locator('tr[data-dag-id="ui_churn"] a', has_text="Data Docs").get_attribute("href")
    assert href is not None and href.startswith("http")
    page.goto(server + urllib.parse.urlsplit(href).path)
    page.wait_for_load_state("networkidle")
    _shot(page, "data-docs")
    assert "Data Docs autogenerated using" in page.content()
    assert page.locator("a", has_text="Validation Results").count() == 1
    # Bootstrap, its table plugin and jQuery ran: the page is interactive, not just text.
    assert page.evaluate("typeof jQuery.fn.bootstrapTable + typeof jQuery.fn.modal") == (
        "functionfunction"
    )
    # The index lists its validation pages in the table's data (rows open them on click).
    (result_page,) = set(re.findall(r"validations/[^\"' ]+\.html", page.content()))
    page.goto(page.url.replace("index.html", result_page))
    page.wait_for_load_state("networkidle")
    assert "values must never be null." in page.inner_text("body")
    assert page.evaluate("typeof vegaEmbed") == "function"  # the charts' library loaded
    assert outside == [] and failed == [], (outside, failed)
