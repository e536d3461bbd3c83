{{ config(materialized="view") }}

-- Reassignment rate: the share of resolved incidents moved at least once from one team to
-- another, attributed to the period of the last resolution. One row per grain, period and slice.
-- Computed with MTTR (int_resolved_incidents_rolled_up).

select
    period_grain,
    period_start,
    slice_by,
    slice_value,
    resolved_count,
    reassigned_count,
    reassignment_count,
    reassignment_rate,
    loaded_watermark
from {{ ref('int_resolved_incidents_rolled_up') }}
