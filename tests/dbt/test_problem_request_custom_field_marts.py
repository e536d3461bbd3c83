"""The custom field marts of problems and requests, built by the real dbt project from records
imported through generic mappings with custom_fields: one typed row per record and field
(fct_problem_custom_fields, fct_request_custom_fields), and the records sliced by a choice
field's value (problems_per_choice_value, requests_per_choice_value)."""

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, pool
from sqlalchemy.orm import Session

from ingest import loader, sources
from operational.customfields import service as custom_fields
from operational.customfields.schemas import DefinitionCreate
from tests.dbt.conftest import DbtDatabase, dbt_database  # noqa: F401 (fixture)
from tests.factories import Factory

pytestmark = pytest.mark.slow

MODELS = (
    "fct_problem_custom_fields",
    "fct_request_custom_fields",
    "problems_per_choice_value",
    "requests_per_choice_value",
)
SELECT = [
    "--select",
    *(f"+{model}" for model in MODELS),
    "--exclude-resource-type",
    "unit_test",
    "--indirect-selection",
    "cautious",
]
# P1 is fixed in 3 hours; P2 stays open; P3 has no values.
PROBLEMS = (
    "problems.csv",
    """\
Key,Title,Status,Opened,Resolved,Vendor,Downtime,Since,Tags
P1,Disk failures,Resolved,2026-03-03 09:00,2026-03-03 12:00,acme,90,2026-03-01,hw;net
P2,Slow VPN,New,2026-03-04 10:00,,Globex,,,
P3,Flaky DNS,New,2026-03-05 10:00,,,,,
""",
    """\
entity: problems
source_system: legacy
date_formats: ["%Y-%m-%d %H:%M"]
columns: {external_id: Key, title: Title, state: Status, opened_at: Opened, resolved_at: Resolved}
values: {state: {New: new, Resolved: resolved}}
custom_fields: {vendor: Vendor, downtime_minutes: Downtime, since: Since, tags: Tags}
""",
)
# R-1 is closed after 2 hours; R-2 stays open.
REQUESTS = (
    "requests.csv",
    """\
Id,Requester,State,Opened,Closed,CostCentre,Urgent
R-1,Rita Requester,Closed,2026-03-03 09:00,2026-03-03 11:00,delft,TRUE
R-2,Sam Self,Open,2026-03-10 09:00,,Utrecht,false
""",
    """\
entity: requests
source_system: shop
date_formats: ["%Y-%m-%d %H:%M"]
columns: {external_id: Id, number: Id, requester: Requester, state: State, opened_at: Opened,
  closed_at: Closed}
values: {state: {Open: open, Closed: closed}}
custom_fields: {cost_centre: CostCentre, urgent: Urgent}
""",
)


def _define(session: Session, admin: Any, record_type: str, name: str, kind: str, **more: Any):
    custom_fields.create_definition(
        session=session,
        data=DefinitionCreate(
            record_type=record_type, name=name, label=name.title(), type=kind, **more
        ),
        actor=admin,
    )


def write_records(url: str, folder: Path) -> None:
    """Problems and requests with custom field values, imported (also the dashboards' data)."""
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with Session(engine) as session:
            admin = Factory(session).user(roles=("admin",))
            _define(
                session, admin, "problem", "vendor", "choice", allowed_values=["Acme", "Globex"]
            )
            _define(session, admin, "problem", "downtime_minutes", "number")
            _define(session, admin, "problem", "since", "date")
            _define(session, admin, "problem", "tags", "multi_choice", allowed_values=["net", "hw"])
            _define(
                session, admin, "request", "cost_centre", "choice",
                allowed_values=["Delft", "Utrecht"],
            )  # fmt: skip
            _define(session, admin, "request", "urgent", "boolean")
            session.commit()
        folder.mkdir(parents=True, exist_ok=True)
        for name, data, mapping in (PROBLEMS, REQUESTS):
            (folder / name).write_text(data)
            (folder / f"{name}.yaml").write_text(mapping)
            parsed = sources.parse("generic", folder / name, mapping=folder / f"{name}.yaml")
            report = loader.load(parsed, engine=engine, workers=1)
            assert report.rejected == 0, report
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def built(dbt_database: DbtDatabase, tmp_path_factory) -> DbtDatabase:  # noqa: F811
    write_records(dbt_database.url, tmp_path_factory.mktemp("exports"))
    dbt_database.dbt("build", *SELECT, variables={"as_of_date": "2026-03-31"})
    return dbt_database


def test_one_typed_row_per_problem_and_field(built):
    rows = {
        (row["problem_number"], row["field_name"]): row
        for row in built.rows(
            "select f.*, p.external_id from marts.fct_problem_custom_fields f"
            " join operational.problems p on p.id = f.problem_id where p.external_id = 'P1'"
        )
    }
    assert sorted(name for _, name in rows) == ["downtime_minutes", "since", "tags", "vendor"]
    by_name = {name: row for (_, name), row in rows.items()}
    assert by_name["vendor"]["value_text"] == "Acme"  # typed as the API types it
    assert by_name["downtime_minutes"]["value_number"] == Decimal("90")
    assert str(by_name["since"]["value_date"]) == "2026-03-01"
    assert by_name["tags"]["value_text"] == "net, hw"  # the defined order
    assert by_name["tags"]["value_json"] == ["net", "hw"]
    assert all(number.startswith("PRB") for number, _ in rows)
    counts = built.rows(
        "select count(distinct problem_id) as problems, count(*) as rows"
        " from marts.fct_problem_custom_fields"
    )[0]
    assert (counts["problems"], counts["rows"]) == (2, 5)  # P3 has no values: no rows


def test_one_typed_row_per_request_and_field(built):
    rows = built.rows(
        "select r.request_number, r.field_name, r.value_text, r.value_boolean"
        " from marts.fct_request_custom_fields r order by 1, 2"
    )
    assert [tuple(row.values()) for row in rows] == [
        ("R-1", "cost_centre", "Delft", None),
        ("R-1", "urgent", "true", True),
        ("R-2", "cost_centre", "Utrecht", None),
        ("R-2", "urgent", "false", False),
    ]


def test_problems_sliced_by_a_choice_value(built):
    rows = built.rows(
        "select choice_value, opened_count, resolved_count, minutes_to_fix_mean"
        " from marts.problems_per_choice_value"
        " where period_grain = 'month' and field_name = 'vendor' order by choice_value"
    )
    assert [tuple(row.values()) for row in rows] == [
        ("Acme", 1, 1, Decimal("180.00")),
        ("Globex", 1, 0, None),
    ]


def test_requests_sliced_by_a_choice_value(built):
    rows = built.rows(
        "select period_start::text, choice_value, opened_count, closed_count,"
        " minutes_to_close_mean from marts.requests_per_choice_value"
        " where period_grain = 'week' and field_name = 'cost_centre' order by 1, 2"
    )
    assert [tuple(row.values()) for row in rows] == [
        ("2026-03-02", "Delft", 1, 1, Decimal("120.00")),
        ("2026-03-09", "Utrecht", 1, 0, None),
    ]
