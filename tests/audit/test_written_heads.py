"""Appends to a record already appended to in the same transaction continue its chain from the
head they wrote (the caller holds the record locked), without reading it again; a savepoint
rolled back forgets what it wrote."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from operational.audit import service as audit
from operational.core.keys import BUILT_IN_AUDIT_KEY
from operational.events import service as events
from operational.events.models import Event

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RECORD = 900_101


class HeadReads:
    """Counts the statements that read a chain's head from the log."""

    def __init__(self):
        self.count = 0

    def __call__(self, _conn, _cursor, statement, *_args):
        if "operational.events e" in statement:
            self.count += 1

    def __enter__(self):
        event.listen(Engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *_exc):
        event.remove(Engine, "before_cursor_execute", self)


def _append(session, actor, n: int, entity_id: int = RECORD) -> None:
    events.append(
        session=session,
        entity_type="incident",
        entity_id=entity_id,
        kind="field_changed",
        actor=actor,
        field="title",
        old_value=f"t{n}",
        new_value=f"t{n + 1}",
        occurred_at=T0 + timedelta(minutes=n),
    )


def _sla(entity_id: int, n: int) -> dict:
    return {"entity_type": "incident", "entity_id": entity_id, "kind": "sla_started",
            "field": "response", "occurred_at": T0 + timedelta(minutes=n)}  # fmt: skip


def _seqs(session, entity_id: int = RECORD) -> list[int]:
    return list(
        session.scalars(
            select(Event.seq)
            .where(Event.entity_type == "incident", Event.entity_id == entity_id)
            .order_by(Event.seq)
        )
    )


def _breaks(session) -> list[str]:
    session.expire_all()
    return [str(found) for found in audit.verify(session=session, key=BUILT_IN_AUDIT_KEY).breaks]


def test_a_record_s_head_is_read_once_per_transaction(session, factory):
    actor = factory.user()
    with HeadReads() as reads:
        _append(session, actor, 0)
        _append(session, actor, 1)
        events.append_many(session=session, events=[_sla(RECORD, 2), _sla(RECORD + 1, 2)])
        _append(session, actor, 3)
        events.append_many(session=session, events=[_sla(RECORD, 4)])
    # The record's head once; the other record's once, with the first bulk append.
    assert reads.count == 2
    assert _seqs(session) == [1, 2, 3, 4, 5]
    assert _seqs(session, RECORD + 1) == [1]
    assert _breaks(session) == []


def test_a_savepoint_rolled_back_forgets_the_heads_it_wrote(session, factory):
    actor = factory.user()
    _append(session, actor, 0)
    savepoint = session.begin_nested()
    _append(session, actor, 1)
    events.append_many(session=session, events=[_sla(RECORD, 2)])
    savepoint.rollback()
    with HeadReads() as reads:
        _append(session, actor, 3)
    assert reads.count == 1
    assert _seqs(session) == [1, 2]
    assert _breaks(session) == []


def test_a_new_transaction_reads_the_head_again(session, factory):
    actor = factory.user()
    _append(session, actor, 0)
    session.commit()  # the test's savepoint: the session's transaction ends all the same
    with HeadReads() as reads:
        _append(session, actor, 1)
    assert reads.count == 1
    assert _seqs(session) == [1, 2]
