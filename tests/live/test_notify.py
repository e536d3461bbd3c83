"""The event log's trigger: one small notification per appended event at commit, and one bulk
notice for a statement of more than 1,000 (ingest's COPY included)."""

import json
from datetime import UTC, datetime

import psycopg

from operational.core.db import get_engine, libpq_url, session_scope
from operational.events import service as events
from operational.events.service import NOTIFY_CHANNEL


def _listen() -> psycopg.Connection:
    url = libpq_url(get_engine().url.render_as_string(hide_password=False))
    connection = psycopg.connect(url, autocommit=True)
    connection.execute(f"listen {NOTIFY_CHANNEL}")
    return connection


def _received(connection: psycopg.Connection) -> list[dict]:
    # Notifications of committed transactions are already queued for this connection: read
    # until the queue is empty.
    return [json.loads(notice.payload) for notice in connection.notifies(timeout=1)]


def test_each_appended_event_is_notified_at_commit_with_a_small_payload(committed_database):
    with _listen() as listener:
        with session_scope() as session:
            event = events.append(
                session=session, entity_type="incident", entity_id=7, kind="created", actor=None
            )
            event_id = event.id
        assert _received(listener) == [{"id": event_id, "type": "incident", "record": 7}]


def test_a_rolled_back_append_notifies_nobody(committed_database):
    with _listen() as listener:
        with session_scope() as session:
            events.append(
                session=session, entity_type="incident", entity_id=8, kind="created", actor=None
            )
            session.rollback()
        assert _received(listener) == []


def test_a_bulk_append_sends_one_notice(committed_database):
    now = datetime.now(UTC)
    rows = [
        {"entity_type": "incident", "entity_id": 9, "kind": "field_changed", "occurred_at": now}
    ] * 1001
    with _listen() as listener:
        with session_scope() as session:
            events.append_many(session=session, events=rows)
        assert _received(listener) == [{"bulk": 1001}]
