"""The FastAPI app the plugin mounts on Airflow's api-server at /ml-pipelines.

Every route needs a logged-in Airflow user (Airflow's own JWT: the ``_token`` cookie the UI
sets, or an ``Authorization: Bearer`` header); the list shows only the DAGs the user may
read, and a pipeline page — or its Data Docs, served from a local artifact store — asks the
auth manager for read access to that DAG.
"""

# No ``from __future__ import annotations``: FastAPI reads the dependency annotations.
from typing import Annotated, Any

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from airflow_ml_provider.settings import SERVED_SNAPSHOTS, served_data_docs
from airflow_ml_provider.ui import URL_PREFIX
from airflow_ml_provider.ui.clients import MlflowClients
from airflow_ml_provider.ui.data_docs_assets import (
    ASSETS_ROUTE,
    DATA_DOCS_CSP,
    asset_file,
    offline_page,
)


def create_app() -> FastAPI:
    """Build the app (routes, auth dependencies); Airflow's api-server mounts it."""
    from airflow_ml_provider.ui import render, views

    app = FastAPI(title="ML pipelines", docs_url=None, redoc_url=None, openapi_url=None)
    clients = MlflowClients()
    dag_reader = [Depends(requires_access_dag("GET"))]

    def readable(user, session) -> set[str]:
        return get_auth_manager().get_authorized_dag_ids(user=user, method="GET", session=session)

    def partition_query(
        table: str | None = None,
        sort: str | None = None,
        desc: str | None = None,
        q: str | None = None,
        status: str | None = None,
    ) -> dict[str, Any]:
        return {
            "table": table,
            "sort": sort,
            "desc": desc in ("1", "true"),
            "q": q,
            "status": status,
        }

    partition_dep = Annotated[dict[str, Any], Depends(partition_query)]

    def bases(request: Request) -> dict[str, str]:
        base = request.scope.get("root_path", "").rstrip("/") or URL_PREFIX
        return {"base": base, "airflow": base.removesuffix(URL_PREFIX)}

    @app.get("/", response_class=HTMLResponse)
    def pipelines_page(request: Request, session: SessionDep, user: GetUserDep) -> str:
        rows = views.pipelines_view(session, clients, readable(user, session))
        return render.pipelines_html(rows, **bases(request))

    @app.get("/api/pipelines")
    def pipelines_data(session: SessionDep, user: GetUserDep) -> list[dict[str, Any]]:
        return views.pipelines_view(session, clients, readable(user, session))

    @app.get("/pipelines/{dag_id}", response_class=HTMLResponse, dependencies=dag_reader)
    def pipeline_page(
        request: Request, dag_id: str, session: SessionDep, partitions: partition_dep
    ) -> HTMLResponse:
        try:
            view = views.pipeline_view(session, clients, dag_id, partitions)
        except views.PipelineNotFound:
            page = render.missing_html(dag_id, base=bases(request)["base"])
            return HTMLResponse(page, status_code=404)
        return HTMLResponse(render.pipeline_html(view, **bases(request)))

    @app.get("/api/pipelines/{dag_id}", dependencies=dag_reader)
    def pipeline_data(dag_id: str, session: SessionDep, partitions: partition_dep) -> dict:
        try:
            return views.pipeline_view(session, clients, dag_id, partitions)
        except views.PipelineNotFound:
            raise HTTPException(404, f"{dag_id!r} is not a YAML pipeline") from None

    @app.get("/pipelines/{dag_id}/plots/{name}", dependencies=dag_reader)
    def gate_plot(dag_id: str, name: str, session: SessionDep) -> Response:
        """One evaluation picture of the pipeline's latest gate decision (PNG)."""
        found = views.gate_plot(session, clients, dag_id, name)
        if found is None:
            raise HTTPException(404, f"no plot {name!r} in the latest gate decision")
        return Response(found, media_type="image/png")

    @app.get(SERVED_SNAPSHOTS + "/{dag_id}/{path:path}", dependencies=dag_reader)
    def data_docs(dag_id: str, path: str, request: Request) -> Response:
        """A pipeline's Data Docs from the local artifact store (data_docs_url); a page
        loads its scripts and styles from this server only (data_docs_assets)."""
        file = served_data_docs(dag_id, path)
        if file is None:
            raise HTTPException(404, "no such Data Docs file")
        if file.suffix != ".html":
            return FileResponse(file)
        assets = bases(request)["base"] + ASSETS_ROUTE
        page = offline_page(file.read_text(encoding="utf-8"), assets)
        return HTMLResponse(page, headers={"Content-Security-Policy": DATA_DOCS_CSP})

    @app.get(ASSETS_ROUTE + "/{name:path}")
    def data_docs_asset(name: str, user: GetUserDep) -> FileResponse:
        """A script, style or font Data Docs pages use (static/datadocs)."""
        file = asset_file(name)
        if file is None:
            raise HTTPException(404, "no such asset")
        return FileResponse(file, headers={"Cache-Control": "max-age=86400"})

    return app
