"""Changes with their CAB decisions through the generic mapping: rounds settled by the CAB rules,
the decisions in the event log, self-approvals and unknown changes refused, re-imports."""

import csv
import shutil

import pytest
from sqlalchemy import text

from ingest import loader, sources
from operational.changes.cab import approver_roles


def change_row(session, external_id: str):
    return session.execute(
        text(
            "select id, number, cab_stage, cab_round, cab_rule, cab_quorum, cab_outcome, "
            "actual_start, review_outcome from operational.changes "
            "where source_system = 'legacy-itsm' and external_id = :e"
        ),
        {"e": external_id},
    ).one()


def change_log(session, change_id: int) -> list[tuple]:
    return [
        tuple(row)
        for row in session.execute(
            text(
                """
                select e.seq, e.kind, e.field, e.old_value, e.new_value, e.actor_label,
                       e.data ->> 'approvals', e.data ->> 'undecided', e.data ->> 'outcome'
                from operational.events e
                where e.entity_type = 'change' and e.entity_id = :id order by e.seq
                """
            ),
            {"id": change_id},
        )
    ]


@pytest.fixture
def cab_import(session, fixtures, tmp_path):
    bind = session.connection()
    changes = sources.parse(
        "generic", fixtures / "cab_changes.csv", mapping=fixtures / "cab_changes.yaml"
    )
    assert changes.rejected == 0
    loader.load(changes, engine=bind)
    decisions = sources.parse(
        "generic", fixtures / "cab_decisions.csv", mapping=fixtures / "cab_decisions.yaml"
    )
    return loader.load(decisions, engine=bind, rejects_dir=tmp_path)


def test_rounds_are_settled_by_the_cab_rules(session, cab_import):
    # Pool: the legacy-itsm CAB (Ann, Bob, Cem, Rita: role manager) without the requester.
    # Normal changes need 2 approvals, emergency changes 1 (the default CAB rules).
    outcomes = {key: tuple(change_row(session, key))[2:7] for key in ("C1", "C2", "C3", "C4")}
    assert outcomes == {
        "C1": ("authorization", 1, "quorum", 2, "approved"),  # Ann yes, Bob no, Cem yes
        "C2": ("authorization", 1, "quorum", 2, "rejected"),  # 2 no of 3: 2 can't be reached
        "C3": ("retrospective", 2, "quorum", 1, "approved"),  # emergency: Ann; then Bob no, Cem
        "C4": ("authorization", 1, "quorum", 2, "pending"),  # Ann yes, 3 undecided
    }
    assert cab_import.counts["change_approvals"].loaded == 9


def test_every_decision_is_in_the_change_log(session, cab_import):
    c1 = change_row(session, "C1")
    assert change_log(session, c1.id) == [
        (1, "created", None, None, c1.number, "import", None, None, None),
        (2, "field_changed", "review", None, "successful", "import", None, None, "successful"),
        (3, "field_changed", "cab_outcome", None, "pending", "import", None, None, None),
        (4, "approval_decided", "approval", None, "approved", "Ann Approver", "1", "2", "pending"),
        (5, "approval_decided", "approval", None, "rejected", "Bob Approver", "1", "1", "pending"),
        (6, "approval_decided", "approval", None, "approved", "Cem Approver", "2", "0", "approved"),
        (
            7,
            "field_changed",
            "cab_outcome",
            "pending",
            "approved",
            "Cem Approver",
            None,
            None,
            None,
        ),
    ]
    c3 = change_row(session, "C3")
    stages = session.execute(
        text(
            "select data ->> 'stage', new_value from operational.events where entity_id = :id "
            "and entity_type = 'change' and field = 'cab_outcome' and old_value = 'pending' "
            "order by seq"
        ),
        {"id": c3.id},
    ).all()
    assert [tuple(row) for row in stages] == [
        ("authorization", "approved"),
        ("retrospective", "approved"),
    ]
    decisions = session.scalar(
        text("select count(*) from operational.events where kind = 'approval_decided'")
    )
    assert decisions == session.scalar(text("select count(*) from operational.change_approvals"))


def test_approvers_hold_change_approve(session, cab_import):
    roles = session.execute(
        text(
            """
            select distinct u.display_name, r.role
            from operational.change_approvals a
            join operational.users u on u.id = a.approver_id
            join operational.user_roles r on r.user_id = u.id order by 1
            """
        )
    ).all()
    assert [tuple(row) for row in roles] == [
        ("Ann Approver", "manager"),
        ("Bob Approver", "manager"),
        ("Cem Approver", "manager"),
    ]
    assert "manager" in approver_roles()


def test_self_approval_and_unknown_changes_are_refused_with_their_line(cab_import, tmp_path):
    assert cab_import.summary() == {
        "read": 11,
        "loaded": 9,
        "updated": 0,
        "rejected": 2,
        "skipped": 0,
    }
    with (tmp_path / "cab_decisions.csv.rejects.csv").open() as handle:
        refused = [(row["line"], row["column"], row["reason"]) for row in csv.DictReader(handle)]
    assert refused == [
        ("4", "Member", "self_approval"),  # Rita decided on her own change C1
        ("12", "Change", "unknown_reference"),  # C9 was never imported
    ]


def test_reimport_adds_nothing_and_a_later_decision_settles_the_round(
    session, cab_import, fixtures, tmp_path
):
    bind = session.connection()
    events = session.scalar(text("select count(*) from operational.events"))
    again = loader.load(
        sources.parse(
            "generic", fixtures / "cab_decisions.csv", mapping=fixtures / "cab_decisions.yaml"
        ),
        engine=bind,
    )
    assert (again.loaded, again.counts["change_approvals"].unchanged) == (0, 9)
    assert session.scalar(text("select count(*) from operational.events")) == events

    later = tmp_path / "cab_decisions.csv"
    shutil.copy(fixtures / "cab_decisions.csv", later)
    with later.open("a") as handle:
        handle.write("C4,authorization,1,Bob Approver,approved,Fine,2024-05-21 08:00\n")
    report = loader.load(
        sources.parse("generic", later, mapping=fixtures / "cab_decisions.yaml"), engine=bind
    )
    assert report.counts["change_approvals"].loaded == 1
    c4 = change_row(session, "C4")
    assert c4.cab_outcome == "approved"
    assert [entry[1:5] for entry in change_log(session, c4.id)][-3:] == [
        ("approval_decided", "approval", None, "approved"),
        ("approval_decided", "approval", None, "approved"),
        ("field_changed", "cab_outcome", "pending", "approved"),
    ]
    opened = session.scalar(
        text(
            "select count(*) from operational.events where entity_id = :id "
            "and entity_type = 'change' and new_value = 'pending'"
        ),
        {"id": c4.id},
    )
    assert opened == 1


def test_imported_cab_decisions_show_in_the_api(session, client, headers_for, cab_import):
    c1 = change_row(session, "C1")
    body = client.get(f"/api/v1/changes/{c1.id}", headers=headers_for("manager")).json()
    assert (body["cab_outcome"], body["review_outcome"]) == ("approved", "successful")
    assert body["actual_start"].startswith("2024-05-10T20:05")
    assert [(item["approver"], item["decision"]) for item in body["approvals"]] == [
        ("Ann Approver", "approved"),
        ("Bob Approver", "rejected"),
        ("Cem Approver", "approved"),
    ]
