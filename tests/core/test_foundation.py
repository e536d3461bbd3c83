import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from operational.core.db import SCHEMA
from operational.core.migrate import upgrade
from operational.events import service as events
from operational.models import Base


def test_liveness_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"


def test_unknown_route_is_problem_json(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 404 and body["title"] == "Not Found"


def test_openapi_docs_are_served(client):
    assert client.get("/docs").status_code == 200
    assert client.get("/openapi.json").json()["info"]["title"] == "ITSM platform"


def test_migrations_match_models(engine):
    """A model change without its migration (or the reverse) fails here."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "include_schemas": True,
                "include_name": lambda name, type_, parents: (
                    name == SCHEMA if type_ == "schema" else name != "alembic_version"
                ),
                "compare_type": True,
            },
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_migrate_is_idempotent(fresh_database):
    url = fresh_database("migrate")
    upgrade(url)
    upgrade(url)


def test_event_log_refuses_update_and_delete(session, factory):
    user = factory.user()
    event = events.append(
        session=session, entity_type="user", entity_id=user.id, kind="field_changed", actor=user
    )
    for statement in (
        f"update {SCHEMA}.events set kind = 'tampered' where id = :id",
        f"delete from {SCHEMA}.events where id = :id",
    ):
        savepoint = session.begin_nested()
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(statement), {"id": event.id})
        savepoint.rollback()
    savepoint = session.begin_nested()
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text(f"truncate {SCHEMA}.events"))
    savepoint.rollback()
    assert session.get(type(event), event.id).kind == "field_changed"


def test_event_sequence_numbers_are_per_record(session, factory):
    first, second = factory.user(), factory.user()
    seqs = [
        events.append(
            session=session,
            entity_type="user",
            entity_id=target.id,
            kind="field_changed",
            actor=None,
        ).seq
        for target in (first, first, second, first)
    ]
    assert seqs == [1, 2, 1, 3]


def test_database_refusals_are_problem_json_not_500(app, client):
    """Values PostgreSQL refuses become 422/409 problems, whatever route they reach."""
    from fastapi import APIRouter
    from sqlalchemy import text as sql

    from operational.core.access import public
    from operational.core.db import DbSession

    router = APIRouter(dependencies=[public])

    @router.get("/_probe/nul")
    def store_nul(session: DbSession):
        session.execute(sql("select cast(:value as text)"), {"value": "a\x00b"})

    @router.get("/_probe/duplicate")
    def duplicate(session: DbSession):
        session.execute(sql("create temporary table probe (id int primary key)"))
        session.execute(sql("insert into probe values (1), (1)"))

    app.include_router(router)
    nul = client.get("/_probe/nul")
    assert nul.status_code == 422
    assert nul.headers["content-type"] == "application/problem+json"
    duplicate_response = client.get("/_probe/duplicate")
    assert duplicate_response.status_code == 409
    assert "Traceback" not in duplicate_response.text
