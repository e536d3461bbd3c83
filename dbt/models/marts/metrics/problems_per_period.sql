-- Problems opened, resolved and open per period: opened and resolved in the period (by the day
-- they were opened, and last resolved), and open at its end (opened by then and neither
-- resolved nor closed by then). One row per grain, period and slice that saw a problem open,
-- resolve or close; between two rows the open count stays what the earlier row says.

select
    period_grain,
    period_start,
    slice_by,
    slice_value,
    opened_count,
    resolved_count,
    (sum(open_change_count) over (
        partition by period_grain, slice_by, slice_value
        order by period_start
        rows between unbounded preceding and current row
    ))::bigint as open_at_end_count,
    loaded_watermark
from {{ ref('int_problem_flows_rolled_up') }}
