"""Operations routes: liveness, readiness, Prometheus metrics, the playground page, and offline API docs."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text as sql_text
from sqlalchemy.exc import SQLAlchemyError

from hybrid_ner.datamodel import link_stages
from hybrid_ner.service.models import ErrorResponse
from hybrid_ner.service.state import Service, service

router = APIRouter(tags=["ops"])
STATIC = Path(__file__).resolve().parent / "static"
DOCS_ASSETS = "/docs-assets"
DOCS_PACKAGE = "fastapi_offline"  # Swagger UI 5 and ReDoc bundles inside a PyPI wheel (MIT)
# The docs pages may load only what this service serves: ReDoc's sidebar would otherwise fetch a logo from a CDN.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'"
)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"model": ErrorResponse}})
def readyz(request: Request) -> JSONResponse:
    """Readiness: the local model is loaded and the database answers. ``linking`` says which linking stages run
    now and how far the dense index is: the service is ready while it builds, and links by name meanwhile."""
    svc = service(request)
    problems = []
    if svc.batcher is None:
        problems.append(f"model not loaded ({svc.model_error or 'loading'})")
    try:
        with svc.components.sessions() as session:
            session.execute(sql_text("SELECT 1"))
    except SQLAlchemyError as exc:
        problems.append(f"database unreachable ({type(exc).__name__})")
    if problems:
        return JSONResponse({"detail": "; ".join(problems)}, status_code=503)
    body = {"status": "ready", "model": svc.model_version, "worker": os.getpid(), "linking": _linking(svc)}
    return JSONResponse(body)


def _linking(svc: Service) -> dict[str, object]:
    """The linker's stages and index progress: ``no_kb`` until anything was written to the KB, ``cold`` until
    the first request that links (without ``HNER_INDEX_BACKGROUND``)."""
    resolver = svc.components.built("resolver")
    if resolver is None:
        empty = svc.components.state().kb_version == 0
        stages = link_stages(alias=not empty, dense=False)
        return {"stages": stages, "index": {"state": "no_kb" if empty else "cold"}}
    status: dict[str, object] = resolver.status()
    return status


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> Response:
    """Prometheus metrics."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    svc = service(request)
    svc.rollout.drift(svc.settings.schema_name)  # sets the drift gauges from the current window
    return Response(generate_latest(svc.metrics.exposed()), media_type=CONTENT_TYPE_LATEST)


@router.get("/", include_in_schema=False)
def playground() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html")


def mount_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) and ``/redoc`` from assets installed with the project: no CDN, works offline."""
    spec = importlib.util.find_spec(DOCS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the API docs need the '{DOCS_PACKAGE}' package: pip install fastapi-offline")
    assets = Path(next(iter(spec.submodule_search_locations))) / "static"
    app.mount(DOCS_ASSETS, StaticFiles(directory=assets), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return _offline(
            get_swagger_ui_html(
                openapi_url=openapi_url,
                title=f"{app.title} - API docs",
                swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
            )
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return _offline(
            get_redoc_html(
                openapi_url=openapi_url,
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
                redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png",
                with_google_fonts=False,
            )
        )


def _offline(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = DOCS_CSP
    return page
