"""The request's session (core/db.get_db) as the application runs it, outside the tests' override:
it commits what a request wrote, and reads through read_connection run outside a transaction and
cannot write."""

import asyncio

import pytest
from sqlalchemy import select

from operational.auth.models import Team


def _request(work):
    """Run ``work(session)`` inside get_db, as one request does."""
    from operational.core.db import get_db

    async def run():
        sessions = get_db()
        session = await sessions.__anext__()
        try:
            work(session)
        except BaseException as error:
            with pytest.raises(type(error)):
                await sessions.athrow(error)
            raise
        with pytest.raises(StopAsyncIteration):
            await sessions.__anext__()

    asyncio.run(run())


def _teams(name: str) -> list[str]:
    from operational.core.db import session_scope

    with session_scope() as session:
        return list(session.scalars(select(Team.name).where(Team.name == name)))


def test_a_request_commits_what_it_wrote_and_an_error_undoes_it(committed_database):
    _request(lambda session: session.add(Team(name="Kept")))
    assert _teams("Kept") == ["Kept"]

    def fails(session):
        session.add(Team(name="Undone"))
        session.flush()
        raise ValueError("refused")

    with pytest.raises(ValueError):
        _request(fails)
    assert _teams("Undone") == []


def test_reads_run_outside_a_transaction_and_cannot_write(committed_database):
    from operational.core.db import read_connection

    def reads(session):
        connection = read_connection(session)
        connection.exec_driver_sql("select 1")
        # In a transaction, now() is when it began; in autocommit, each statement's own start.
        assert connection.exec_driver_sql("select now() = statement_timestamp()").scalar()
        session.add(Team(name="Written while reading"))
        with pytest.raises(RuntimeError, match="cannot write"):
            session.flush()
        session.expunge_all()

    _request(reads)
    assert _teams("Written while reading") == []


def test_reading_again_keeps_the_autocommit_connection_quietly(committed_database):
    import warnings

    from operational.core.db import _session_factory, read_connection

    session = _session_factory()()
    try:
        first = read_connection(session)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # SQLAlchemy warned: "execution_options ignored"
            again = read_connection(session)
        assert again is first
        assert again.exec_driver_sql("select now() = statement_timestamp()").scalar()
        # Once the reads are over, the session may work in a transaction of its own.
        session.rollback()
        session.add(Team(name="After the reads"))
        session.flush()
        session.rollback()
    finally:
        session.close()


def test_a_request_commits_before_its_response_is_sent(committed_database):
    """A client that got its 201 finds what it wrote on its next request (another process):
    when the response starts, the transaction has committed."""
    from fastapi import FastAPI

    from operational.core.db import DbSession

    app = FastAPI()

    @app.post("/teams", status_code=201)
    def create_team(session: DbSession) -> dict[str, str]:
        session.add(Team(name="Seen at once"))
        session.flush()
        return {"name": "Seen at once"}

    seen_when_sent: list[list[str]] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            assert message["status"] == 201
            seen_when_sent.append(_teams("Seen at once"))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/teams",
        "raw_path": b"/teams",
        "query_string": b"",
        "root_path": "",
        "headers": [],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    asyncio.run(app(scope, receive, send))

    assert seen_when_sent == [["Seen at once"]]
