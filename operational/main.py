"""The FastAPI application: routers of every domain, one error handler, JSON logs."""

import gc
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from operational.auth import cache as auth_cache
from operational.auth.router import router as auth_router
from operational.automation import flows as automation_flows
from operational.automation.router import assignment_router
from operational.automation.router import router as automation_router
from operational.bulk.router import router as bulk_router
from operational.changes.router import ci_page_router
from operational.changes.router import router as changes_router
from operational.cmdb.router import router as cmdb_router
from operational.core.config import get_settings
from operational.core.db import libpq_url, resolve_database_url
from operational.core.errors import install_error_handlers
from operational.core.health import router as health_router
from operational.core.limits import (
    BodySizeLimit,
    ConcurrencyLimit,
    refuse_unknown_query_parameters,
)
from operational.core.logging import configure_logging
from operational.core.openapi import document_problems
from operational.customfields.router import router as customfields_router
from operational.exports.router import router as exports_router
from operational.inbound.router import router as inbound_router
from operational.incidents import fastpath as incidents_fastpath
from operational.incidents.router import router as incidents_router
from operational.knowledge import service as knowledge_service
from operational.knowledge.router import router as knowledge_router
from operational.live.router import router as live_router
from operational.notifications.router import router as notifications_router
from operational.problems.router import router as problems_router
from operational.requests.router import router as requests_router
from operational.sla.router import router as sla_router
from operational.tickets import hints
from operational.ui.app import create_ui
from operational.worker import background_worker

API_PREFIX = "/api/v1"
# A served process allocates short-lived objects by the thousand per request: collecting the
# youngest generation every 20,000 allocations instead of 700 costs a fifth of the time.
SERVED_GC_THRESHOLD = (20_000, 20, 20)


@asynccontextmanager
async def lifespan(app: FastAPI):
    settings = get_settings()
    # Keeps the signed-in users' snapshots right across processes (docs/auth.md, "Speed").
    listener = None
    if settings.auth_cache_seconds > 0:
        listener = auth_cache.Listener(libpq_url(resolve_database_url(settings)))
        listener.start()
    try:
        # The SLA worker thread (docs/sla.md, "Worker"); ITSM_RUN_WORKER=false turns it off.
        with background_worker(
            enabled=settings.run_worker, interval_seconds=settings.worker_interval_seconds
        ):
            yield
    finally:
        await incidents_fastpath.close(app)
        if listener is not None:
            listener.stop()


def create_app() -> FastAPI:
    settings = get_settings()
    configure_logging(
        settings.log_level, json_lines=settings.log_json, access_log=settings.access_log
    )
    app = FastAPI(
        title="ITSM platform",
        version="0.1.0",
        summary="Incidents, changes, CMDB and SLA, recorded once and traceable.",
        docs_url="/docs",
        openapi_url="/openapi.json",
        lifespan=lifespan,
        dependencies=[Depends(refuse_unknown_query_parameters)],
    )
    # Reads of one incident answered below FastAPI's dependencies when they can be exactly
    # (operational/incidents/fastpath.py); inside the limits below, so they apply to it too.
    incidents_fastpath.install(app, enabled=settings.incident_fast_reads)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(ConcurrencyLimit, limit=settings.db_pool_size + settings.db_max_overflow)
    install_error_handlers(app)
    # What tickets show from above them: suggestions and the known error's workaround.
    hints.register(
        suggest=lambda session, viewer, text: knowledge_service.suggest(
            session=session, viewer=viewer, text=text
        ),
        workaround=hints.WorkaroundSource(
            statement=lambda viewer, problem_id: knowledge_service.workaround_statement(
                viewer=viewer, problem_id=problem_id
            ),
            hint=knowledge_service.workaround_of,
        ),
    )
    # Changes to incidents, changes, requests and problems run the automation rules
    # (operational/tickets/hooks.py).
    automation_flows.install()
    app.include_router(health_router)
    # Routes are matched in order: the busiest (incidents) first.
    for router in (
        incidents_router,
        auth_router,
        sla_router,
        cmdb_router,
        changes_router,
        requests_router,
        ci_page_router,
        problems_router,
        knowledge_router,
        exports_router,
        inbound_router,
        live_router,
        notifications_router,
        customfields_router,
        bulk_router,
        automation_router,
        assignment_router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    document_problems(app)
    # The web UI (docs/ui.md): a client of the routes above, called in process.
    app.mount("/ui", create_ui(api=app))
    return app


def create_served_app() -> FastAPI:
    """The application as ``itsm serve`` runs it: what start-up made (modules, schemas, routes)
    is kept out of the garbage collector's scans, and the youngest generation is collected less
    often. Process-wide settings, hence not in ``create_app`` (the tests make many apps)."""
    app = create_app()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVED_GC_THRESHOLD)
    return app
