"""Airflow 3 plugin: the data-quality page, the dbt docs site and the run-report note.

* ``/nova/quality/`` (FastAPI app mounted in the API server) with an external view "Data quality"
  in the UI's Browse menu, shown inside the UI; logged-in users only. The page is built by
  ``nova_corrente.operations.quality_page``.
* ``/nova/dbt_docs/`` (same app): the dbt docs site the DAG's ``refresh_dbt_docs`` task keeps in
  ``$NOVA_HOME/dbt_docs`` (``index.html``, ``manifest.json``, ``catalog.json``, nothing else), as
  "dbt Docs" in the Browse menu (a tab of its own); logged-in users only.
* A listener attaching each ``nova_corrente_daily`` run's report (the ``run_report`` task's return
  value) to the run as its note when the run finishes; a note a person wrote is left alone.

The FastAPI app is built only where Airflow asks for it (the API server): task processes load
plugins too (listeners, macros), and must not pay for importing the web stack.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any
from urllib.parse import urlsplit

from airflow.configuration import conf
from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)

URL_PREFIX = "/nova"
REPORT_TASK_ID = "run_report"
_BASE_PATH = urlsplit(conf.get("api", "base_url", fallback="")).path.rstrip("/")


def create_app() -> Any:
    """The FastAPI app serving the page (the API server mounts it under ``/nova``)."""
    from airflow.api_fastapi.core_api.security import requires_authenticated
    from fastapi import Depends, FastAPI, HTTPException, Query
    from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

    app = FastAPI(title="Nova Corrente operations", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/quality/", response_class=HTMLResponse, dependencies=[Depends(requires_authenticated())])
    def quality_page(status: str | None = Query(None), limit: int = Query(200, ge=1, le=5000)) -> Any:
        from nova_corrente.operations import quality_page as page
        from nova_corrente.settings import postgres_settings

        try:
            data = page.collect(postgres_settings(), status=status or None, limit=limit)
        except ValueError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        return HTMLResponse(page.render(data), headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"})

    @app.get("/dbt_docs/", include_in_schema=False)
    def dbt_docs_home() -> Any:
        return RedirectResponse("index.html")

    @app.get("/dbt_docs/{name}", dependencies=[Depends(requires_authenticated())])
    def dbt_docs_file(name: str) -> Any:
        from nova_corrente.operations.dbt_docs import site_file

        try:
            path = site_file(name)
        except KeyError as exc:
            raise HTTPException(status_code=404, detail=f"not part of the dbt docs site: {name}") from exc
        except FileNotFoundError as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from exc
        # the page runs its own scripts and styles (dbt's single-file app); it may only be framed by the UI
        return FileResponse(path, headers={"Content-Security-Policy": "frame-ancestors 'self'",
                                           "Cache-Control": "no-cache"})

    return app


class RunReportNote:
    """Listener: on a finished DAG run, its ``run_report`` return value's ``note`` becomes the run's note."""

    @hookimpl
    def on_dag_run_success(self, dag_run: Any, msg: str) -> None:
        attach_report_note(dag_run)

    @hookimpl
    def on_dag_run_failed(self, dag_run: Any, msg: str) -> None:
        attach_report_note(dag_run)


def attach_report_note(dag_run: Any) -> None:
    """Set the note in the session that holds the run (the scheduler commits it with the run's state).

    A run not bound to a session (``airflow dags test`` hands over a detached one) gets its note in
    a session of its own, which gives up after a few seconds rather than wait on a locked run.
    """
    from sqlalchemy.orm import object_session

    try:
        session = object_session(dag_run)
        if session is not None:
            _set_note(session, dag_run)
            return
        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session
        from sqlalchemy import text

        with create_session() as own:
            if own.bind.dialect.name == "postgresql":
                own.execute(text("set local lock_timeout = '5s'"))
            run = own.get(DagRun, dag_run.id)
            if run is not None:
                _set_note(own, run)
    except Exception:  # a listener must never break the scheduler
        log.exception("could not attach the run report to %s", getattr(dag_run, "run_id", dag_run))


def _set_note(session: Any, dag_run: Any) -> None:
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    from nova_corrente.operations.run_report import NOTE_PREFIX

    value = session.scalar(
        select(XComModel.value).where(
            XComModel.dag_id == dag_run.dag_id, XComModel.run_id == dag_run.run_id,
            XComModel.task_id == REPORT_TASK_ID, XComModel.key == "return_value",
        ).limit(1)
    )
    if isinstance(value, str):
        value = json.loads(value)
    note = value.get("note") if isinstance(value, dict) else None
    if not note:
        return
    current = dag_run.note
    if current and not current.startswith(NOTE_PREFIX):
        log.info("run %s already has a note written by someone; the report stays in %s", dag_run.run_id,
                 value.get("path"))
        return
    dag_run.note = note


class NovaOperationsPlugin(AirflowPlugin):
    name = "nova_operations"
    external_views = [
        {
            "name": "Data quality",
            "href": f"{_BASE_PATH}{URL_PREFIX}/quality/",
            "url_route": "data-quality",
            "category": "Browse",
            "destination": "nav",
        },
        {  # no url_route: a tab of its own (the docs app is a full page with its own navigation)
            "name": "dbt Docs",
            "href": f"{_BASE_PATH}{URL_PREFIX}/dbt_docs/index.html",
            "category": "Browse",
        },
    ]
    listeners = [RunReportNote()]

    @functools.cached_property
    def fastapi_apps(self) -> list[dict[str, Any]]:  # type: ignore[override]
        """Built on first use, i.e. by the API server only (see the module docstring)."""
        return [{"name": "nova_operations", "app": create_app(), "url_prefix": URL_PREFIX}]
