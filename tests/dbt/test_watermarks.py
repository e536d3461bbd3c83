"""An incremental refresh never loses what a transaction still open during the previous refresh
wrote: the refresh's watermark stops at that transaction's start, which is also the recorded_at
of every row it writes, so the next refresh must take rows recorded at the watermark itself."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from operational.events import service as events_service
from operational.events.enums import EntityType, EventKind
from tests.dbt.conftest import AS_OF, DbtDatabase

pytestmark = pytest.mark.slow


def lifecycle_of(database: DbtDatabase, number: str) -> tuple[str, int]:
    row = database.rows(
        "select lifecycle_status, resolution_count from marts.fct_incidents"
        " where incident_number = %s",
        number,
    )[0]
    return row["lifecycle_status"], row["resolution_count"]


def test_rows_of_a_transaction_open_across_a_refresh_reach_the_next_one(
    phase_one_built: DbtDatabase,
):
    dbt_database = phase_one_built
    assert lifecycle_of(dbt_database, "INC-C") == ("open", 0)

    engine = create_engine(dbt_database.url, poolclass=NullPool)
    with Session(engine) as late:
        incident_id = late.execute(
            text("select id from operational.incidents where number = 'INC-C'")
        ).scalar_one()
        # Through the log's one writer (it numbers the event and links it into the hash chain).
        events_service.append(
            session=late,
            entity_type=EntityType.incident,
            entity_id=incident_id,
            kind=EventKind.state_changed,
            actor=None,
            field="state",
            old_value="in_progress",
            new_value="resolved",
            occurred_at=datetime(2026, 3, 10, 16, tzinfo=UTC),
        )
        late.flush()
        # A refresh while the transaction is open does not see its event, and stops its
        # watermark at the transaction's start.
        dbt_database.dbt("run", variables=AS_OF)
        assert lifecycle_of(dbt_database, "INC-C") == ("open", 0)
        late.commit()
    engine.dispose()

    dbt_database.dbt("run", variables=AS_OF)
    assert lifecycle_of(dbt_database, "INC-C") == ("resolved", 1)
    mttr = dbt_database.rows(
        "select resolved_count from marts.mttr_per_period where period_grain = 'day'"
        " and period_start = '2026-03-10' and slice_by = 'all'"
    )
    assert mttr == [{"resolved_count": 1}]
