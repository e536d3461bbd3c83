{{ config(materialized="view") }}

-- FCR: the share of resolved incidents (same population and period as MTTR) never reassigned,
-- never reopened and never on hold awaiting the caller. One row per grain, period and slice.
-- Computed with MTTR (int_resolved_incidents_rolled_up).

select
    period_grain,
    period_start,
    slice_by,
    slice_value,
    resolved_count,
    first_contact_resolved_count,
    fcr_covered_count,
    fcr_left_out_count,
    fcr_rate,
    loaded_watermark
from {{ ref('int_resolved_incidents_rolled_up') }}
