"""The metric rollups (``<metric>_per_period``), read at the grain and the single slice the
sidebar chose."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from dashboards.queries.db import SCHEMA, read
from dashboards.queries.reporting_periods import period_start, previous_period


def _window(filters: Any) -> dict[str, Any]:
    """The grain and the first and last period starts of the date range."""
    return {
        "grain": filters.grain,
        "first": period_start(filters.start, filters.grain),
        "last": period_start(filters.end, filters.grain),
    }


def _kpi_window(filters: Any) -> dict[str, Any]:
    """Like _window, but reaching back to the period before the first (for comparisons)."""
    window = _window(filters)
    window["first"] = min(window["first"], previous_period(window["last"], filters.grain))
    return window


# Columns each rollup offers, converted to hours where they are minutes.
MEASURES = {
    "mttr_per_period": """
        resolved_count,
        mttr_minutes / 60.0 as mttr_hours,
        mttr_median_minutes / 60.0 as mttr_median_hours,
        mttr_p90_minutes / 60.0 as mttr_p90_hours,
        business_time_count,
        mttr_business_minutes / 60.0 as mttr_business_hours,
        mttr_median_business_minutes / 60.0 as mttr_median_business_hours,
        mttr_p90_business_minutes / 60.0 as mttr_p90_business_hours,
        mttr_covered_count,
        mttr_left_out_count""",
    "mtta_per_period": """
        acknowledged_count,
        mtta_minutes / 60.0 as mtta_hours,
        mtta_median_minutes / 60.0 as mtta_median_hours,
        mtta_p90_minutes / 60.0 as mtta_p90_hours,
        business_time_count,
        mtta_business_minutes / 60.0 as mtta_business_hours,
        mtta_median_business_minutes / 60.0 as mtta_median_business_hours,
        mtta_p90_business_minutes / 60.0 as mtta_p90_business_hours""",
    "fcr_per_period": """
        resolved_count,
        first_contact_resolved_count,
        fcr_covered_count,
        fcr_left_out_count,
        fcr_rate""",
    "csat_per_period": """
        surveys_sent_count,
        response_rate,
        answer_count,
        satisfied_count,
        csat_rate,
        mean_rating""",
    "reopen_rate_per_period": """
        first_resolved_count,
        reopened_count,
        reopen_rate""",
    "reassignment_rate_per_period": """
        resolved_count,
        reassigned_count,
        reassignment_count,
        reassignment_rate""",
    "sla_compliance_per_period": """
        target_type,
        completed_count,
        met_count,
        breached_count,
        compliance_rate""",
    "change_success_per_period": """
        completed_count,
        successful_count,
        failed_count,
        backed_out_count,
        caused_incident_count,
        success_rate,
        emergency_count,
        emergency_share""",
    "request_fulfilment_per_period": """
        delivered_count,
        fulfilment_minutes / 60.0 as fulfilment_hours,
        fulfilment_median_minutes / 60.0 as fulfilment_median_hours,
        fulfilment_p90_minutes / 60.0 as fulfilment_p90_hours,
        fulfilment_business_minutes / 60.0 as fulfilment_business_hours,
        approval_wait_minutes / 60.0 as approval_wait_hours,
        fulfilment_work_minutes / 60.0 as fulfilment_work_hours,
        approval_wait_business_minutes / 60.0 as approval_wait_business_hours,
        fulfilment_work_business_minutes / 60.0 as fulfilment_work_business_hours,
        sla_met_count,
        delivery_sla_compliance""",
    "approval_turnaround_per_period": """
        decided_count,
        approved_count,
        rejected_count,
        rejection_rate,
        turnaround_minutes / 60.0 as turnaround_hours,
        turnaround_median_minutes / 60.0 as turnaround_median_hours,
        turnaround_p90_minutes / 60.0 as turnaround_p90_hours""",
    "backlog_per_period": """
        age_bucket,
        bucket_order,
        snapshot_date,
        open_count""",
}


def _rollup_sql(mart: str, *, by_slice: bool) -> str:
    measures = MEASURES[mart]
    slice_condition = (
        "slice_by = :slice_by"
        if by_slice
        else "slice_by = :slice_by and slice_value = :slice_value"
    )
    return f"""
        select period_start, slice_by, slice_value, {measures}
        from {SCHEMA}.{mart}
        where period_grain = :grain
            and period_start between :first and :last
            and {slice_condition}
        order by period_start, slice_value
    """


# Sidebar dimensions each change or request rollup is sliced by; incident rollups take all four.
CHANGE_MARTS = {
    "change_success_per_period": ("team",),
    "request_fulfilment_per_period": ("team",),
    "approval_turnaround_per_period": (),
}


def slice_for(mart: str, filters: Any) -> tuple[str, str]:
    """The (slice_by, slice_value) of ``mart`` that the sidebar selects."""
    if mart in CHANGE_MARTS:
        for dimension in CHANGE_MARTS[mart]:
            if filters.value(dimension) is not None:
                return dimension, filters.value(dimension)
        return "all", "all"
    return filters.slice


def trend(mart: str, filters: Any, *, with_previous: bool = False) -> pd.DataFrame:
    """Rows of one rollup for the filters' slice, one per period (and extra key) in the range."""
    by, value = slice_for(mart, filters)
    window = _kpi_window(filters) if with_previous else _window(filters)
    frame = read(_rollup_sql(mart, by_slice=False), slice_by=by, slice_value=value, **window)
    return _dates(frame)


def by_dimension(
    mart: str, filters: Any, dimension: str, *, period: date | None = None
) -> pd.DataFrame:
    """Rows of one rollup for every value of ``dimension``: one per period and value, or only
    those of ``period`` when given."""
    window = _window(filters)
    if period is not None:
        window.update(first=period, last=period)
    frame = read(_rollup_sql(mart, by_slice=True), slice_by=dimension, **window)
    return _dates(frame)


def _dates(frame: pd.DataFrame) -> pd.DataFrame:
    for column in ("period_start", "snapshot_date"):
        if column in frame.columns:
            frame[column] = pd.to_datetime(frame[column])
    return frame
