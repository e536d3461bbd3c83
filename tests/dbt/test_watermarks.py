"""An incremental refresh never loses what a transaction still open during the previous refresh
wrote: the refresh's watermark stops at that transaction's start, which is also the recorded_at
of every row it writes, so the next refresh must take rows recorded at the watermark itself."""

from datetime import UTC, datetime

import psycopg
import pytest

from operational.core.db import libpq_url
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

    with psycopg.connect(libpq_url(dbt_database.url)) as late:
        incident_id, last_seq = late.execute(
            "select i.id, max(e.seq) from operational.incidents i"
            " join operational.events e on e.entity_type = 'incident' and e.entity_id = i.id"
            " where i.number = 'INC-C' group by i.id"
        ).fetchone()
        late.execute(
            "insert into operational.events"
            " (entity_type, entity_id, seq, occurred_at, kind, field, old_value, new_value)"
            " values ('incident', %s, %s, %s, 'state_changed', 'state', 'in_progress',"
            " 'resolved')",
            (incident_id, last_seq + 1, datetime(2026, 3, 10, 16, tzinfo=UTC)),
        )
        # A refresh while the transaction is open does not see its event, and stops its
        # watermark at the transaction's start.
        dbt_database.dbt("run", variables=AS_OF)
        assert lifecycle_of(dbt_database, "INC-C") == ("open", 0)
        late.commit()

    dbt_database.dbt("run", variables=AS_OF)
    assert lifecycle_of(dbt_database, "INC-C") == ("resolved", 1)
    mttr = dbt_database.rows(
        "select resolved_count from marts.mttr_per_period where period_grain = 'day'"
        " and period_start = '2026-03-10' and slice_by = 'all'"
    )
    assert mttr == [{"resolved_count": 1}]
