"""Overview: the headline KPIs of the last period against the one before, with sparklines."""

import streamlit as st

from dashboards import filters, ui

chosen = filters.current()
ui.page_header(
    "Overview",
    chosen,
    caption="Headline numbers of one period against the period before. Hover a question mark "
    "for the definition; each number lists its tickets.",
)

KPIS = [
    ui.Kpi(
        "sla_resolution",
        "SLA compliance · resolution",
        "sla_compliance_per_period",
        "compliance_rate",
        "percent",
        lower_is_better=False,
        population="resolution_completed",
        help="Share of resolution timers completed in the period that met their target.",
        rows={"target_type": "resolution"},
    ),
    ui.Kpi(
        "sla_response",
        "SLA compliance · response",
        "sla_compliance_per_period",
        "compliance_rate",
        "percent",
        lower_is_better=False,
        population="response_completed",
        help="Share of response timers completed in the period that met their target.",
        rows={"target_type": "response"},
    ),
    ui.Kpi(
        "mtta",
        "MTTA",
        "mtta_per_period",
        "mtta_hours",
        "hours",
        lower_is_better=True,
        population="acknowledged",
        help="Mean time from opening to acknowledgement, over incidents acknowledged in the "
        "period (calendar hours).",
    ),
    ui.Kpi(
        "mttr",
        "MTTR · mean",
        "mttr_per_period",
        "mttr_hours",
        "hours",
        lower_is_better=True,
        population="resolved",
        help="Mean time from opening to the last resolution, over incidents resolved in the "
        "period; cancelled incidents excluded, and so are imported incidents whose resolution "
        "time is unknown (calendar hours).",
        coverage=("mttr_covered_count", "mttr_left_out_count"),
    ),
    ui.Kpi(
        "mttr_median",
        "MTTR · median",
        "mttr_per_period",
        "mttr_median_hours",
        "hours",
        lower_is_better=True,
        population="resolved",
        help="Median time to resolve, over incidents resolved in the period (calendar hours).",
        coverage=("mttr_covered_count", "mttr_left_out_count"),
    ),
    ui.Kpi(
        "mttr_p90",
        "MTTR · 90th percentile",
        "mttr_per_period",
        "mttr_p90_hours",
        "hours",
        lower_is_better=True,
        population="resolved",
        help="Nine in ten incidents resolved in the period took at most this long.",
        coverage=("mttr_covered_count", "mttr_left_out_count"),
    ),
    ui.Kpi(
        "fcr",
        "First-contact resolution",
        "fcr_per_period",
        "fcr_rate",
        "percent",
        lower_is_better=False,
        population="resolved",
        help="Share of incidents resolved in the period that were never reassigned, never "
        "reopened and never waited on the caller.",
        coverage=("fcr_covered_count", "fcr_left_out_count"),
    ),
    ui.Kpi(
        "csat",
        "CSAT",
        "csat_per_period",
        "csat_rate",
        "percent",
        lower_is_better=False,
        population="csat_answered",
        help="Share of survey answers given in the period rated 4 or 5.",
    ),
    ui.Kpi(
        "backlog",
        "Backlog",
        "backlog_per_period",
        "open_count",
        "count",
        lower_is_better=True,
        population="open_at",
        help="Incidents open at the end of the period (or at the last build, for the current one).",
        rows={"age_bucket": "all"},
        as_of_column="snapshot_date",
    ),
    ui.Kpi(
        "change_success",
        "Change success rate",
        "change_success_per_period",
        "success_rate",
        "percent",
        lower_is_better=False,
        population="changes_completed",
        help="Share of changes completed in the period that closed successfully and caused no "
        "incident. Sliced by team only; the other filters do not apply to changes.",
    ),
    ui.Kpi(
        "request_fulfilment",
        "Request fulfilment · mean",
        "request_fulfilment_per_period",
        "fulfilment_hours",
        "hours",
        lower_is_better=True,
        population="requests_delivered",
        help="Mean calendar hours from order to delivery, over request items delivered in the "
        "period. Sliced by team only.",
    ),
    ui.Kpi(
        "request_compliance",
        "Request delivery compliance",
        "request_fulfilment_per_period",
        "delivery_sla_compliance",
        "percent",
        lower_is_better=False,
        population="requests_late",
        help="Share of request items delivered in the period within their delivery target; the "
        "tickets listed are the late ones. Sliced by team only.",
    ),
]

include_current = st.toggle(
    "Include the current period (to date)",
    key="overview_include_current",
    help="Off: the last complete period of the range. On: the period holding the range's end.",
)
ui.kpi_grid(
    "overview",
    KPIS,
    chosen,
    period=ui.kpi_period(chosen, include_current=include_current),
)
