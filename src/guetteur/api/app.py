"""The FastAPI application."""

from __future__ import annotations

import psycopg
from fastapi import APIRouter, FastAPI

from guetteur import __version__
from guetteur.api.bad_values import value_refused
from guetteur.api.body_cap import BodyCap
from guetteur.api.console import mount_console
from guetteur.api.deps import AuthRuntime
from guetteur.api.docs import mount_docs
from guetteur.api.routes import (
    alerts,
    audit,
    auth,
    dashboard,
    detection,
    elastic,
    events,
    health,
    ingest,
    keys,
    notify,
    otlp,
    risk,
    rules,
    search,
    settings,
    silences,
    stats,
    users,
)
from guetteur.api.state import AppState
from guetteur.api.unavailable import DATABASE_ERRORS, database_unavailable

RULE_BODY_MAX_BYTES = 16_777_216  # an import of 50 rule files of 256 KB, JSON-escaped


def create_app(state: AppState) -> FastAPI:
    app = FastAPI(
        title="Guetteur",
        version=__version__,
        docs_url=None,  # mount_docs: Swagger UI from the package, not a CDN
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    mount_docs(app, "/api/openapi.json")
    app.state.guetteur = state
    app.state.auth = AuthRuntime(state)  # the token key now: a bad auth.jwt_secret stops the start
    for error in DATABASE_ERRORS:  # 503 + Retry-After while PostgreSQL is away
        app.add_exception_handler(error, database_unavailable)
    app.add_exception_handler(psycopg.DataError, value_refused)  # NUL, out of range...: 422, not 500
    v1 = APIRouter(prefix="/api/v1")
    v1.include_router(health.router)
    v1.include_router(ingest.router)
    v1.include_router(events.router)
    v1.include_router(detection.router)
    v1.include_router(rules.router)  # /detection/rules/...: after the list it extends
    v1.include_router(auth.router)
    v1.include_router(users.router)
    v1.include_router(keys.router)
    v1.include_router(audit.router)
    v1.include_router(search.router)
    v1.include_router(alerts.router)
    v1.include_router(silences.router)
    v1.include_router(risk.router)
    v1.include_router(dashboard.router)
    v1.include_router(stats.router)
    v1.include_router(notify.router)
    v1.include_router(settings.router)
    app.include_router(v1)
    app.include_router(elastic.router)  # /es: Elasticsearch clients and shippers
    app.include_router(otlp.router)  # /v1/logs: OTLP/HTTP's own path
    mount_console(app)  # last: the console's fallback never shadows a route
    app.add_middleware(BodyCap, prefix="/api/v1/detection/rules", max_bytes=RULE_BODY_MAX_BYTES)  # rule texts
    return app
