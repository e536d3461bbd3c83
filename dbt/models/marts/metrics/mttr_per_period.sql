{{ config(materialized="view") }}

-- MTTR: mean, median and p90 calendar minutes from opening to the last resolution, over
-- resolved incidents (cancelled ones excluded), attributed to the period of that last
-- resolution; in business time, the SLA resolution timer's business minutes from start to
-- completion (see README). One row per grain, period and slice. Computed with FCR and the
-- reassignment rate, which share its population and period (int_resolved_incidents_rolled_up).

select
    period_grain,
    period_start,
    slice_by,
    slice_value,
    resolved_count,
    mttr_minutes,
    mttr_median_minutes,
    mttr_p90_minutes,
    business_time_count,
    mttr_business_minutes,
    mttr_median_business_minutes,
    mttr_p90_business_minutes,
    mttr_covered_count,
    mttr_left_out_count,
    loaded_watermark
from {{ ref('int_resolved_incidents_rolled_up') }}
