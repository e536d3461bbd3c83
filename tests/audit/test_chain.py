"""The event log's hash chains and seals: every way of writing links the events, and
`verify` names a changed, deleted or inserted row (written as the database owner, around the
grants and the append-only trigger)."""

import itertools
from datetime import UTC, datetime, timedelta, timezone

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from operational.audit import service as audit
from operational.audit.models import Seal
from operational.core.keys import BUILT_IN_AUDIT_KEY
from operational.events import chain
from operational.events import service as events
from operational.events.models import Event

KEY = BUILT_IN_AUDIT_KEY
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _log(session: Session, entity_id: int, entity_type: str = "incident") -> list[Event]:
    session.expire_all()
    return list(
        session.scalars(
            select(Event)
            .where(Event.entity_type == entity_type, Event.entity_id == entity_id)
            .order_by(Event.seq)
        )
    )


def _as_dict(event: Event) -> dict:
    return {name: getattr(event, name) for name in (*chain.FIELDS, "prev_hash", "hash")}


def _record(session: Session, factory, entity_id: int = 900_001, count: int = 3) -> list[Event]:
    user = factory.user()
    for number in range(count):
        events.append(
            session=session,
            entity_type="incident",
            entity_id=entity_id,
            kind="field_changed",
            actor=user,
            field="title",
            old_value=f"t{number}",
            new_value=f"t{number + 1}",
            data={"n": number, "ratio": 0.5, "ünï": ["x", 2.0]},
            occurred_at=T0 + timedelta(minutes=number),
        )
    return _log(session, entity_id)


def _as_owner(session: Session, statement: str, **params) -> None:
    """Run ``statement`` as the schema owner would: around the append-only triggers."""
    for table in ("events", "audit_seals", "audit_seal_heads"):
        session.execute(text(f"alter table operational.{table} disable trigger user"))
    session.execute(text(statement), params)
    for table in ("events", "audit_seals", "audit_seal_heads"):
        session.execute(text(f"alter table operational.{table} enable trigger user"))


def _breaks(session: Session) -> list[str]:
    session.expire_all()
    return [str(problem) for problem in audit.verify(session=session, key=KEY).breaks]


def test_every_writer_links_the_record_chain(session, factory):
    logged = _record(session, factory)
    events.append_many(
        session=session,
        events=[
            {
                "entity_type": "incident",
                "entity_id": 900_001,
                "kind": "sla_started",
                "occurred_at": T0 + timedelta(hours=1),
                "data": {"at": T0},
            },
            {
                "entity_type": "incident",
                "entity_id": 900_001,
                "kind": "sla_met",
                "occurred_at": T0 + timedelta(hours=2),
            },
        ],
    )
    frame = pl.DataFrame(
        {
            "entity_type": ["incident", "incident", "incident"],
            "entity_id": [900_001, 900_001, 900_002],
            "seq": [6, 7, 1],
            "occurred_at": [T0 + timedelta(hours=3), T0 + timedelta(hours=4), T0],
            "kind": ["comment_added", "state_changed", "created"],
            "new_value": ['a, "quoted"\nline', "", "INC9"],
            "data": ['{"import_seq": 1e2}', None, '{"import_seq": 1}'],
            "source_system": ["jira", "jira", "jira"],
        }
    )
    assert events.copy_frame(session=session, frame=frame) == 3

    log = _log(session, 900_001)
    assert [event.seq for event in log] == [1, 2, 3, 4, 5, 6, 7]
    assert [event.hash for event in log[:3]] == [event.hash for event in logged]
    assert log[0].prev_hash is None
    for before, event in itertools.pairwise(log):
        assert event.prev_hash == before.hash
    for event in [*log, *_log(session, 900_002)]:
        assert event.hash == chain.event_hash(_as_dict(event), event.prev_hash)
    assert log[5].data == {"import_seq": 100}
    assert _breaks(session) == []


def test_a_bulk_append_by_copy_stores_and_links_what_an_insert_would(session):
    """From ``_COPY_FROM`` events on, ``append_many`` writes by COPY: the same rows and hashes
    as its INSERT, also for text COPY must escape and for data holding times."""

    def batch(entity_id: int, count: int) -> list[dict]:
        return [
            {
                "entity_type": "incident",
                "entity_id": entity_id,
                "kind": "sla_warning",
                "field": "resolution",
                "old_value": 'tab\tnew\nline \\ "q"' if number == 0 else None,
                "new_value": "ünï",
                "occurred_at": T0 + timedelta(minutes=number),
                "actor_label": "sla",
                "data": {"at": T0, "ratio": 0.5, "minutes": 10.0, "text": "a\tb\\c\n"},
                "synthesized": True,
            }
            for number in range(count)
        ]

    bulk = events._COPY_FROM
    events.append_many(session=session, events=batch(900_101, 2))
    events.append_many(session=session, events=batch(900_102, bulk))
    inserted, copied = _log(session, 900_101), _log(session, 900_102)
    assert len(copied) == bulk

    def stored(event: Event) -> tuple:
        return tuple(getattr(event, name) for name in chain.FIELDS if name != "entity_id")

    assert [stored(event) for event in copied[:2]] == [stored(event) for event in inserted]
    for before, event in itertools.pairwise(copied):
        assert event.prev_hash == before.hash
    for event in copied:
        assert event.hash == chain.event_hash(_as_dict(event), event.prev_hash)
    assert _breaks(session) == []


def test_copy_refuses_a_seq_that_follows_nothing(session):
    frame = pl.DataFrame(
        {
            "entity_type": ["incident"],
            "entity_id": [900_003],
            "seq": [4],
            "occurred_at": [T0],
            "kind": ["created"],
        }
    )
    with pytest.raises(ValueError, match="follows no stored event"):
        events.copy_frame(session=session, frame=frame)


def test_a_changed_row_is_named(session, factory):
    _record(session, factory)
    _as_owner(
        session,
        "update operational.events set new_value = 'forged' "
        "where entity_type = 'incident' and entity_id = 900001 and seq = 2",
    )
    breaks = _breaks(session)
    assert breaks and breaks[0].startswith("incident 900001 seq 2: its content does not give")


def test_a_changed_row_whose_hash_was_recomputed_breaks_the_next_link(session, factory):
    log = _record(session, factory)
    second = _as_dict(log[1]) | {"new_value": "forged"}
    _as_owner(
        session,
        "update operational.events set new_value = 'forged', hash = :hash "
        "where entity_type = 'incident' and entity_id = 900001 and seq = 2",
        hash=chain.event_hash(second, second["prev_hash"]),
    )
    breaks = _breaks(session)
    assert breaks[0].startswith("incident 900001 seq 3: prev_hash")
    assert "is not the hash of seq 2" in breaks[0]


def test_a_deleted_row_is_named(session, factory):
    _record(session, factory)
    _as_owner(
        session,
        "delete from operational.events "
        "where entity_type = 'incident' and entity_id = 900001 and seq = 2",
    )
    breaks = _breaks(session)
    assert breaks[0].startswith("incident 900001 seq 3: seq 2 is missing")


def test_an_inserted_row_is_named(session, factory):
    log = _record(session, factory)
    # Squeezed in as seq 2: the events after it renumbered.
    _as_owner(
        session,
        "update operational.events set seq = seq + 100 "
        "where entity_type = 'incident' and entity_id = 900001 and seq >= 2",
    )
    _as_owner(
        session,
        "update operational.events set seq = seq - 99 "
        "where entity_type = 'incident' and entity_id = 900001 and seq >= 100",
    )
    forged = _as_dict(log[1]) | {"seq": 2, "new_value": "inserted"}
    _as_owner(
        session,
        "insert into operational.events (entity_type, entity_id, seq, occurred_at, recorded_at,"
        " kind, prev_hash, hash) values ('incident', 900001, 2, :at, :at, 'comment_added',"
        " :prev, :hash)",
        at=T0,
        prev=log[0].hash,
        hash=chain.event_hash(forged, log[0].hash),
    )
    breaks = _breaks(session)
    assert breaks[0].startswith("incident 900001 seq 2: its content does not give")


def test_a_row_inserted_at_the_end_without_the_writer_is_named(session, factory):
    log = _record(session, factory)
    _as_owner(
        session,
        "insert into operational.events (entity_type, entity_id, seq, occurred_at, kind,"
        " prev_hash, hash) values ('incident', 900001, 4, now(), 'comment_added', :prev, :hash)",
        prev=log[-1].hash,
        hash="0" * 64,
    )
    assert _breaks(session)[0].startswith("incident 900001 seq 4: its content does not give")


def test_seals_catch_a_rewritten_chain_and_a_cut_tail(session, factory):
    log = _record(session, factory)
    sealed_head = log[-1].hash
    first = audit.seal(session=session, key=KEY)
    assert first.chain_count >= 1 and first.root == audit.describe(first)["root"]
    assert audit.verify(session=session, key=KEY).intact

    # The owner rewrites the record's whole chain consistently: every link holds, the seal
    # does not.
    prev = None
    for event in log:
        values = _as_dict(event) | {"actor_label": "someone else"}
        new_hash = chain.event_hash(values, prev)
        _as_owner(
            session,
            "update operational.events set actor_label = 'someone else', prev_hash = :prev, "
            "hash = :hash where id = :id",
            prev=prev,
            hash=new_hash,
            id=event.id,
        )
        prev = new_hash
    breaks = _breaks(session)
    assert breaks == [
        f"incident 900001 seq 3: the event's hash {prev} is not the sealed {sealed_head}: it "
        f"was changed, or its record's chain rewritten, after seal {first.id}"
    ]


def test_a_cut_tail_after_a_seal_is_named(session, factory):
    _record(session, factory)
    audit.seal(session=session, key=KEY)
    _as_owner(
        session,
        "delete from operational.events "
        "where entity_type = 'incident' and entity_id = 900001 and seq = 3",
    )
    assert _breaks(session)[0].startswith(
        "incident 900001 seq 3: the sealed event is missing from the log"
    )


def test_seals_chain_and_a_forged_seal_is_named(session, factory):
    _record(session, factory)
    first = audit.seal(session=session, key=KEY)
    _record(session, factory, entity_id=900_002, count=1)
    second = audit.seal(session=session, key=KEY)
    assert second.previous_signature == first.signature
    assert second.chain_count == first.chain_count + 1
    assert audit.verify(session=session, key=KEY).intact

    _as_owner(
        session,
        "update operational.audit_seals set root = :root where id = :id",
        root="f" * 64,
        id=second.id,
    )
    breaks = _breaks(session)
    assert any(
        problem.startswith(f"seal {second.id} ") and "signature does not match" in problem
        for problem in breaks
    )
    assert (
        audit.verify(session=session, key="another key")
        .breaks[0]
        .what.startswith("signed with another key")
    )


def test_a_deleted_seal_is_named(session, factory):
    _record(session, factory)
    first = audit.seal(session=session, key=KEY)
    _record(session, factory, entity_id=900_002, count=1)
    second = audit.seal(session=session, key=KEY)
    _as_owner(session, "delete from operational.audit_seal_heads where seal_id = :id", id=first.id)
    _as_owner(session, "delete from operational.audit_seals where id = :id", id=first.id)
    breaks = _breaks(session)
    assert any(
        problem.startswith(f"seal {second.id} ") and "a seal was deleted" in problem
        for problem in breaks
    )


def test_verify_over_a_period_starts_from_the_event_before(session, factory):
    _record(session, factory)
    recorded = session.scalar(select(Event.recorded_at).where(Event.entity_id == 900_001))
    report = audit.verify(
        session=session, key=KEY, since=recorded, until=recorded + timedelta(seconds=1)
    )
    assert report.intact and report.chains >= 1
    _as_owner(
        session,
        "delete from operational.events "
        "where entity_type = 'incident' and entity_id = 900001 and seq = 1",
    )
    report = audit.verify(session=session, key=KEY, since=recorded)
    assert str(report.breaks[0]).startswith("incident 900001 seq 1: ")


def test_the_seal_tables_are_append_only(session, factory):
    _record(session, factory)
    sealed = audit.seal(session=session, key=KEY)
    savepoint = session.begin_nested()
    with pytest.raises(Exception, match="append-only"):
        session.execute(
            text("delete from operational.audit_seals where id = :id"), {"id": sealed.id}
        )
    savepoint.rollback()
    assert session.get(Seal, sealed.id) is not None


def test_an_anchor_kept_outside_names_a_rewritten_seal(session, factory):
    _record(session, factory)
    anchor = audit.anchor(session=session, key=KEY)
    assert audit.check_anchor(session=session, anchor=anchor) is None
    _as_owner(
        session,
        "update operational.audit_seals set root = :root where id = :id",
        root="e" * 64,
        id=anchor["seal_id"],
    )
    session.expire_all()
    problem = audit.check_anchor(session=session, anchor=anchor)
    assert str(problem) == (
        f"seal {anchor['seal_id']} (anchored {anchor['sealed_at']}): differs from the anchor "
        "in root"
    )


def test_attributed_blocks_name_the_events_of_both_writers_and_nest(session):
    """A rule firing inside a bulk job: its events carry both the job and the rule, the rule
    names them; outside the blocks nothing is added. The hashes cover what is stored."""
    with events.attributed(session, data={"bulk_job_id": 7}):
        events.append(
            session=session, entity_type="incident", entity_id=900_201, kind="created", actor=None
        )
        with events.attributed(session, label="rule: page on-call", data={"rule_id": 3}):
            events.append(
                session=session,
                entity_type="incident",
                entity_id=900_201,
                kind="assigned",
                actor=None,
                data={"rule_id": 99, "team_id": 4},
            )
            events.append_many(
                session=session,
                events=[
                    {
                        "entity_type": "incident",
                        "entity_id": 900_201,
                        "kind": "notified",
                        "occurred_at": T0,
                    }
                ],
            )
    events.append(
        session=session, entity_type="incident", entity_id=900_201, kind="comment_added", actor=None
    )
    log = _log(session, 900_201)
    assert [(event.actor_label, event.data) for event in log] == [
        ("system", {"bulk_job_id": 7}),
        ("rule: page on-call", {"bulk_job_id": 7, "rule_id": 99, "team_id": 4}),
        ("rule: page on-call", {"bulk_job_id": 7, "rule_id": 3}),
        ("system", None),
    ]
    for event in log:
        assert event.hash == chain.event_hash(_as_dict(event), event.prev_hash)


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)
_JSON = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(_JSON, min_size=1, max_size=16))
def test_the_reused_encoder_writes_what_the_json_encoder_writes(values):
    # `chain.encode` builds the C encoder once; the hashes rest on it writing the same bytes.
    assert chain.encode(values) == chain._ENCODER.encode(values)


def test_timestamps_of_equal_instants_in_other_zones_are_the_same_text():
    other = T0.astimezone(timezone(timedelta(hours=-5)))
    assert chain.timestamp(other) == chain.timestamp(T0) == "2026-03-02T09:00:00.000000Z"
    assert chain.timestamp(T0 + timedelta(microseconds=7)) == "2026-03-02T09:00:00.000007Z"
