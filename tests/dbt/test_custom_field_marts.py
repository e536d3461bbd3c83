"""The custom field marts, built by the real dbt project from records written through the
services: one typed row per record and field (fct_incident_custom_fields,
fct_change_custom_fields), and the incidents sliced by a choice field's value."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import create_engine, pool
from sqlalchemy.orm import Session

from operational.changes import service as changes_service
from operational.changes.schemas import ChangeCreate
from operational.customfields import service as custom_fields
from operational.customfields.schemas import DefinitionCreate, DefinitionUpdate
from operational.incidents import flows
from operational.incidents.schemas import IncidentCreate
from tests.dbt.conftest import DbtDatabase
from tests.factories import Factory

pytestmark = pytest.mark.slow

MODELS = ("fct_incident_custom_fields", "fct_change_custom_fields", "incidents_per_choice_value")
SELECT = [
    "--select",
    *(f"+{model}" for model in MODELS),
    "--exclude-resource-type",
    "unit_test",
    "--indirect-selection",
    "cautious",
]
OPENED = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


def _define(session: Session, admin: Any, name: str, field_type: str, **fields: Any) -> Any:
    fields.setdefault("record_type", "incident")
    return custom_fields.create_definition(
        session=session,
        data=DefinitionCreate(name=name, label=name.title(), type=field_type, **fields),
        actor=admin,
    )


def write_records(url: str) -> dict[str, Any]:
    """Incidents and a change with custom field values (also the dashboards' test data)."""
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with Session(engine) as session:
            factory = Factory(session)
            admin = factory.user(roles=("admin",))
            agent = factory.user(roles=("agent",))
            _define(session, admin, "site", "choice", allowed_values=["Rotterdam", "Delft"])
            _define(session, admin, "rooms", "multi_choice", allowed_values=["A", "B", "C"])
            _define(session, admin, "cost", "decimal")
            _define(session, admin, "due", "date")
            _define(session, admin, "seen_at", "datetime")
            _define(session, admin, "vip", "boolean")
            legacy = _define(session, admin, "legacy_code", "text")
            _define(session, admin, "budget", "number", record_type="change")

            def incident(title: str, values: dict[str, Any], now: datetime, **fields: Any) -> Any:
                data = IncidentCreate(title=title, custom_fields=values, **fields)
                return flows.create(session=session, data=data, actor=agent, now=now).incident

            first = incident(
                "Badge reader",
                {
                    "site": "Rotterdam",
                    "rooms": ["C", "A"],
                    "cost": "12.50",
                    "due": "2026-03-20",
                    "seen_at": "2026-03-03T08:15:00Z",
                    "vip": True,
                    "legacy_code": "X1",
                },
                OPENED,
            )
            second = incident(
                "Projector",
                {"site": "Rotterdam"},
                OPENED + timedelta(hours=1),
                assignee_id=agent.id,
            )
            third = incident("Printer", {"site": "Delft"}, OPENED + timedelta(days=8))
            incident("No values", {}, OPENED)
            flows.transition(
                session=session,
                incident=second,
                actor=agent,
                state="resolved",
                resolution_code="solved_permanently",
                resolution_notes="Replaced the lamp",
                now=OPENED + timedelta(hours=3),
            )
            custom_fields.update_definition(
                session=session, definition=legacy, data=DefinitionUpdate(retired=True)
            )
            change = changes_service.create(
                session=session,
                data=ChangeCreate(
                    change_type="normal", title="Patch", custom_fields={"budget": 1200}
                ),
                actor=agent,
            )
            session.commit()
            return {
                "first": first.id,
                "second": second.id,
                "third": third.id,
                "change": change.id,
            }
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def built(dbt_database: DbtDatabase) -> dict[str, Any]:
    ids = write_records(dbt_database.url)
    dbt_database.dbt("build", *SELECT, variables={"as_of_date": "2026-03-31"})
    return {"database": dbt_database, **ids}


def test_one_typed_row_per_incident_and_field(built):
    rows = {
        row["field_name"]: row
        for row in built["database"].rows(
            "select * from marts.fct_incident_custom_fields where incident_id = %s",
            built["first"],
        )
    }
    assert sorted(rows) == ["cost", "due", "legacy_code", "rooms", "seen_at", "site", "vip"]
    assert rows["site"]["value_text"] == "Rotterdam"
    assert rows["site"]["field_type"] == "choice"
    assert rows["rooms"]["value_text"] == "A, C"  # in the defined order
    assert rows["rooms"]["value_json"] == ["A", "C"]
    assert rows["cost"]["value_number"] == Decimal("12.5")
    assert str(rows["due"]["value_date"]) == "2026-03-20"
    assert rows["seen_at"]["value_timestamp"] == datetime(2026, 3, 3, 8, 15, tzinfo=UTC)
    assert rows["vip"]["value_boolean"] is True
    # A retired field keeps its values, marked.
    assert rows["legacy_code"]["is_retired_field"] is True
    assert rows["site"]["is_retired_field"] is False
    assert rows["site"]["incident_number"].startswith("INC")


def test_an_incident_without_values_has_no_rows(built):
    counts = built["database"].rows(
        "select count(distinct incident_id) as incidents, count(*) as rows"
        " from marts.fct_incident_custom_fields"
    )[0]
    assert (counts["incidents"], counts["rows"]) == (3, 9)


def test_changes_have_their_companion_table(built):
    rows = built["database"].rows("select * from marts.fct_change_custom_fields")
    assert [(row["change_id"], row["field_name"], row["value_number"]) for row in rows] == [
        (built["change"], "budget", Decimal("1200"))
    ]


def test_incidents_sliced_by_a_choice_value(built):
    rows = {
        (row["period_start"].isoformat(), row["choice_value"]): row
        for row in built["database"].rows(
            "select * from marts.incidents_per_choice_value"
            " where period_grain = 'week' and field_name = 'site'"
        )
    }
    assert sorted(rows) == [("2026-03-02", "Rotterdam"), ("2026-03-09", "Delft")]
    rotterdam = rows[("2026-03-02", "Rotterdam")]
    assert (rotterdam["opened_count"], rotterdam["resolved_count"]) == (2, 1)
    assert rotterdam["mttr_mean_minutes"] == Decimal("120.00")
    month = built["database"].rows(
        "select sum(opened_count) as opened from marts.incidents_per_choice_value"
        " where period_grain = 'month' and field_name = 'site'"
    )[0]
    assert month["opened"] == 3
