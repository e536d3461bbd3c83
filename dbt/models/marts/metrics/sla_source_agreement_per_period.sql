{{ config(materialized="view") }}

-- Agreement between the source tool's SLA verdict and ours, for imported incidents that carry
-- one, attributed to the period of the incident's last resolution. One row per grain, period
-- and slice with such incidents. Computed with MTTR, whose population it narrows
-- (int_resolved_incidents_rolled_up).

select
    period_grain,
    period_start,
    slice_by,
    slice_value,
    compared_count,
    agree_count,
    source_met_we_breached_count,
    source_breached_we_met_count,
    no_timer_count,
    source_met_count,
    our_met_count,
    agreement_rate,
    loaded_watermark
from {{ ref('int_resolved_incidents_rolled_up') }}
where compared_count > 0
