"""Service requests from generic exports: requests, their items (with a history file), the
items' tasks and approvals, each upserted once, each rejected row reported at its line, and the
request marts computing the same figures over imported requests as over native ones.

The fixture set is tests/fixtures/ingest/requests/ (mappings beside the files). Hand-computed:
RI-1, a laptop ordered 2 March 09:00; Bob approves at 10:00 (60 min), Cora at 12:00 (120 min);
fulfilment from 12:00; waits for Rita 15:00-16:00; delivered 3 March 12:00. 1,620 calendar
minutes to deliver, 180 of approval wait and 1,440 of fulfilment; on the 24x7 clock 1,560 (the
hour waiting for Rita pauses it), 1,380 of them fulfilment work; target 2,400: met. RI-2, a
laptop ordered 4 March 09:00, rejected by Bob at 13:00 (240 min). Approval turnaround: 60, 120
and 240 minutes, mean 140.
"""

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, pool, text
from sqlalchemy.orm import Session

from ingest import loader, sources
from operational.requests import catalog
from operational.requests.schemas import CatalogItemCreate, CategoryCreate
from tests.dbt.conftest import DbtDatabase, dbt_database  # noqa: F401 (the fixture)
from tests.factories import Factory

ORDER = ("requests", "request_items", "request_tasks", "request_approvals")
FILES = {
    "requests": "requests.csv",
    "request_items": "request_items.json",
    "request_tasks": "request_tasks.csv",
    "request_approvals": "request_approvals.csv",
}


def _catalog(session: Session) -> None:
    """The catalog the exports order from: a laptop (2,400 minutes) and a mouse (480)."""
    desk = Factory(session).team(name="Hardware desk")
    hardware = catalog.create_category(session=session, data=CategoryCreate(name="Hardware"))
    for name, price, minutes in (("Laptop", "1200.00", 2400), ("Mouse", "20.00", 480)):
        catalog.create_item(
            session=session,
            data=CatalogItemCreate(
                name=name,
                price=Decimal(price),
                delivery_minutes=minutes,
                category_id=hardware.id,
                fulfilment_team_id=desk.id,
            ),
            actor=None,
        )
    session.flush()


def _parse(fixtures: Path, entity: str):
    folder = fixtures / "requests"
    return sources.parse("generic", folder / FILES[entity], mapping=folder / f"{entity}.yaml")


def _import_all(fixtures: Path, bind, tmp_path: Path) -> dict:
    return {
        entity: loader.load(
            _parse(fixtures, entity), engine=bind, rejects_dir=tmp_path / "rejects", workers=1
        )
        for entity in ORDER
    }


def _rows(session, sql: str, **params):
    return session.execute(text(sql), params).all()


def _rejects(report) -> list[tuple]:
    import polars as pl

    if report.rejects_path is None:
        return []
    found = pl.read_csv(report.rejects_path, infer_schema=False)
    return [(int(row["line"]), row["column"], row["reason"]) for row in found.iter_rows(named=True)]


def test_requests_items_tasks_and_approvals_are_loaded_with_their_history(
    session, fixtures, tmp_path
):
    _catalog(session)
    reports = _import_all(fixtures, session.connection(), tmp_path)

    requests = _rows(
        session,
        "select r.external_id, r.number, r.state, u.display_name, r.opened_at, r.closed_at "
        "from operational.requests r join operational.users u on u.id = r.requester_id "
        "order by r.external_id",
    )
    assert [(r.external_id, r.number, r.state, r.display_name) for r in requests] == [
        ("R-1", "REQ9000001", "closed", "Rita Requester"),
        ("R-2", "REQ9000002", "closed", "Rita Requester"),
        ("R-3", "REQ9000003", "open", "Sam Self"),
    ]
    assert requests[0].closed_at.isoformat() == "2026-03-03T12:00:00+00:00"

    items = {
        row.external_id: row
        for row in _rows(
            session,
            """
            select i.external_id, i.number, i.state, i.item_name, i.line, i.quantity, i.cost,
                i.approved_at, i.delivered_at, i.closed_at, i.rejection_reason,
                i.approval_wait_minutes, i.fulfilment_minutes, i.fulfilment_business_minutes,
                i.sla_state, i.sla_elapsed_minutes, i.sla_paused_minutes, i.sla_target_minutes,
                t.name as team, r.external_id as request
            from operational.request_items i
            join operational.requests r on r.id = i.request_id
            left join operational.teams t on t.id = i.fulfilment_team_id
            """,
        )
    }
    assert sorted(items) == ["RI-1", "RI-2", "RI-3"]
    laptop = items["RI-1"]
    assert (laptop.request, laptop.item_name, laptop.state, laptop.cost) == (
        "R-1",
        "Laptop",
        "delivered",
        Decimal("1200.00"),
    )
    # Its approval and delivery times come from its history file.
    assert laptop.approved_at.isoformat() == "2026-03-02T12:00:00+00:00"
    assert laptop.delivered_at == laptop.closed_at
    assert laptop.delivered_at.isoformat() == "2026-03-03T12:00:00+00:00"
    assert (laptop.approval_wait_minutes, laptop.fulfilment_minutes) == (180.0, 1440.0)
    assert (laptop.sla_state, laptop.sla_elapsed_minutes, laptop.sla_paused_minutes) == (
        "met",
        1560.0,
        60.0,
    )
    assert laptop.fulfilment_business_minutes == 1380.0
    rejected = items["RI-2"]
    assert (rejected.state, rejected.rejection_reason, rejected.approval_wait_minutes) == (
        "rejected",
        "not in budget",
        240.0,
    )
    mice = items["RI-3"]
    assert (mice.quantity, mice.cost, mice.team, mice.line, mice.sla_target_minutes) == (
        2,
        Decimal("40.00"),
        "Hardware desk",
        1,
        480,
    )

    tasks = _rows(
        session,
        "select t.number, t.state, t.position, g.name, a.display_name, t.closed_at "
        "from operational.request_tasks t join operational.teams g on g.id = t.assignment_group_id "
        "left join operational.users a on a.id = t.assignee_id order by t.number",
    )
    assert [tuple(row[:5]) for row in tasks] == [
        ("SCTASK9000001", "closed", 1, "Hardware desk", "Alice Agent"),
        ("SCTASK9000002", "open", 1, "Hardware desk", None),
    ]

    approvals = _rows(
        session,
        """
        select i.external_id, s.position, s.name, s.state as stage_state, u.display_name,
            a.state, a.requested_at, a.decided_at, a.comment, d.display_name as decided_by
        from operational.request_approvals a
        join operational.request_approval_stages s on s.id = a.stage_id
        join operational.request_items i on i.id = a.request_item_id
        join operational.users u on u.id = a.approver_id
        left join operational.users d on d.id = a.decided_by_id
        order by a.requested_at
        """,
    )
    assert [
        (r.external_id, r.position, r.name, r.stage_state, r.display_name, r.state, r.comment)
        for r in approvals
    ] == [
        ("RI-1", 1, "Manager", "approved", "Bob Boss", "approved", "ok"),
        ("RI-1", 2, "Finance", "approved", "Cora CFO", "approved", None),
        ("RI-2", 1, "Manager", "rejected", "Bob Boss", "rejected", "not in budget"),
    ]
    assert all(r.decided_by == r.display_name for r in approvals)

    # Each entity's history is in the log, in order; the item's as its history file says.
    item_log = _rows(
        session,
        """
        select e.seq, e.kind, e.field, e.old_value, e.new_value, e.actor_label, e.synthesized
        from operational.events e join operational.request_items i
          on e.entity_type = 'request_item' and e.entity_id = i.id
        where i.external_id = 'RI-1' order by e.seq
        """,
    )
    assert [(r.kind, r.old_value, r.new_value) for r in item_log] == [
        ("created", None, "RITM9000001"),
        ("state_changed", "pending_approval", "in_fulfilment"),
        ("state_changed", "in_fulfilment", "awaiting_requester"),
        ("comment_added", None, "Which keyboard layout?"),
        ("state_changed", "awaiting_requester", "in_fulfilment"),
        ("state_changed", "in_fulfilment", "delivered"),
        ("approval_requested", None, "Manager"),
        ("approval_decided", "pending", "approved"),
        ("approval_requested", None, "Finance"),
        ("approval_decided", "pending", "approved"),
    ]
    assert [r.seq for r in item_log] == list(range(1, 11))
    assert item_log[2].actor_label == "Alice Agent" and not item_log[2].synthesized
    request_log = _rows(
        session,
        "select e.kind, e.old_value, e.new_value, e.occurred_at, e.synthesized "
        "from operational.events e join operational.requests r "
        "on e.entity_type = 'request' and e.entity_id = r.id "
        "where r.external_id = 'R-1' order by e.seq",
    )
    assert [(r.kind, r.old_value, r.new_value) for r in request_log] == [
        ("created", None, "REQ9000001"),
        ("state_changed", "open", "closed"),
    ]
    assert request_log[1].occurred_at.isoformat() == "2026-03-03T12:00:00+00:00"
    assert all(r.synthesized for r in request_log)
    task_log = _rows(
        session,
        "select e.kind, e.field, e.new_value from operational.events e "
        "join operational.request_tasks t on e.entity_type = 'request_task' and e.entity_id = t.id "
        "where t.external_id = 'T-1' order by e.seq",
    )
    assert task_log == [
        ("created", None, "SCTASK9000001"),
        ("assigned", "assignment_group", "Hardware desk"),
        ("assigned", "assignee", "Alice Agent"),
        ("state_changed", "state", "closed"),
    ]

    assert reports["request_items"].counts["request_items"].loaded == 3
    assert reports["request_approvals"].counts["request_approvals"].loaded == 3


def test_every_rejected_row_is_reported_with_its_line_and_reason(session, fixtures, tmp_path):
    _catalog(session)
    reports = _import_all(fixtures, session.connection(), tmp_path)
    # requests.csv: line 5 is R-4, whose state has no mapping.
    assert _rejects(reports["requests"]) == [(5, "state", "unknown_state")]
    # request_items.json (records counted from 1): R-404 is no imported request, the
    # teleporter no catalog item, "the fifth of March" no date; the history's line 8 is no
    # event kind.
    items = reports["request_items"]
    assert sorted(_rejects(items)) == [
        (4, "request", "unknown_reference"),
        (5, "cat_item", "unknown_reference"),
        (6, "opened_at", "bad_date"),
        (8, "what", "unknown_value"),
    ]
    assert items.rejected == 4
    assert _rejects(reports["request_tasks"]) == [(4, "request_item", "unknown_reference")]
    # Sam approving his own request; an unknown item; a decision with no mapping.
    assert sorted(_rejects(reports["request_approvals"])) == [
        (5, "approver", "self_approval"),
        (6, "item", "unknown_reference"),
        (7, "state", "unknown_value"),
    ]


def test_importing_twice_duplicates_nothing(session, fixtures, tmp_path):
    _catalog(session)

    def snapshot() -> dict[str, int]:
        return {
            table: session.scalar(text(f"select count(*) from operational.{table}"))
            for table in (
                "requests",
                "request_items",
                "request_tasks",
                "request_approval_stages",
                "request_approvals",
                "events",
                "users",
                "teams",
            )
        }

    _import_all(fixtures, session.connection(), tmp_path)
    first = snapshot()
    versions = _rows(session, "select number, version from operational.request_items order by 1")
    again = _import_all(fixtures, session.connection(), tmp_path)
    assert snapshot() == first
    assert _rows(session, "select number, version from operational.request_items order by 1") == (
        versions
    )
    for entity, report in again.items():
        counts = report.counts[entity]
        assert (counts.loaded, counts.updated) == (0, 0), entity


def test_a_later_export_moves_an_item_on_and_appends_only_the_new_history(
    session, fixtures, tmp_path
):
    _catalog(session)
    _import_all(fixtures, session.connection(), tmp_path)
    (tmp_path / "items.csv").write_text(
        "id,request,item,state,opened,approved,delivered\n"
        "RI-3,R-3,Mouse,delivered,2026-03-05 09:00:00,2026-03-05 11:00:00,2026-03-05 15:00:00\n"
    )
    (tmp_path / "items.yaml").write_text(
        "entity: request_items\nsource_system: helpdesk\ncolumns:\n  external_id: id\n"
        "  number: id\n  request_external_id: request\n  catalog_item: item\n  state: state\n"
        "  opened_at: opened\n  approved_at: approved\n  delivered_at: delivered\n"
    )
    parsed = sources.parse("generic", tmp_path / "items.csv", mapping=tmp_path / "items.yaml")
    report = loader.load(parsed, engine=session.connection())
    assert report.counts["request_items"].updated == 1
    [item] = _rows(
        session,
        "select id, number, state, delivered_at, fulfilment_minutes, sla_state, version "
        "from operational.request_items where external_id = 'RI-3'",
    )
    assert (item.number, item.state, item.fulfilment_minutes, item.sla_state) == (
        "RITM9000003",  # the number it was first imported with
        "delivered",
        240.0,
        "met",
    )
    moves = _rows(
        session,
        "select old_value, new_value from operational.events "
        "where entity_type = 'request_item' and entity_id = :id and kind = 'state_changed' "
        "order by seq",
        id=item.id,
    )
    assert moves == [("pending_approval", "in_fulfilment"), ("in_fulfilment", "delivered")]


@pytest.mark.slow
def test_the_request_marts_compute_the_hand_figures_over_imported_requests(
    dbt_database: DbtDatabase,  # noqa: F811
    fixtures,
    tmp_path,
):
    engine = create_engine(dbt_database.url, poolclass=pool.NullPool)
    try:
        with Session(engine) as session:
            _catalog(session)
            session.commit()
        _import_all(fixtures, engine, tmp_path)
    finally:
        engine.dispose()
    dbt_database.dbt(
        "build",
        "--exclude-resource-type",
        "unit_test",
        "--select",
        "+fct_requests +fct_request_items +fct_request_approvals +request_fulfilment_per_period"
        " +approval_turnaround_per_period",
        variables={"as_of_date": "2026-03-12"},
    )
    [laptop] = dbt_database.rows(
        "select * from marts.fct_request_items where request_item_number = 'RITM9000001'"
    )
    assert (
        laptop["minutes_to_deliver"],
        laptop["approval_wait_minutes"],
        laptop["fulfilment_minutes"],
        laptop["business_minutes_to_deliver"],
        laptop["fulfilment_business_minutes"],
        laptop["requester_wait_business_minutes"],
        laptop["delivery_sla_met"],
        laptop["approval_stage_count"],
        laptop["source_system"],
    ) == (
        Decimal("1620.00"),
        Decimal("180.00"),
        Decimal("1440.00"),
        Decimal("1560.00"),
        Decimal("1380.00"),
        Decimal("60.00"),
        True,
        2,
        "helpdesk",
    )
    turnaround = dbt_database.rows(
        "select turnaround_minutes from marts.fct_request_approvals order by decided_at"
    )
    assert [row["turnaround_minutes"] for row in turnaround] == [
        Decimal("60.00"),
        Decimal("120.00"),
        Decimal("240.00"),
    ]
    [march] = dbt_database.rows(
        "select * from marts.approval_turnaround_per_period where period_grain = 'month'"
        " and period_start = '2026-03-01' and slice_by = 'all'"
    )
    assert (march["decided_count"], march["rejected_count"], march["turnaround_minutes"]) == (
        3,
        1,
        Decimal("140.00"),
    )
    [fulfilment] = dbt_database.rows(
        "select * from marts.request_fulfilment_per_period where period_grain = 'month'"
        " and period_start = '2026-03-01' and slice_by = 'all'"
    )
    assert (fulfilment["delivered_count"], fulfilment["fulfilment_minutes"]) == (
        1,
        Decimal("1620.00"),
    )
