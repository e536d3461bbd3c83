"""Requests: fulfilment time (calendar and business, approval wait against fulfilment work),
delivery compliance, approval turnaround and rejections, volume and backlog, per catalog item."""

import streamlit as st

from dashboards import charts, filters, queries, ui

FULFILMENT = "request_fulfilment_per_period"
APPROVALS = "approval_turnaround_per_period"

chosen = filters.current()
ui.page_header(
    "Requests",
    chosen,
    caption="Fulfilment time: order to delivery of the request items delivered in the period. "
    "Business time is the item's delivery clock, which stands still while the item waits for "
    "the requester. Definitions: dbt/README.md.",
)
if any(dimension != "team" for dimension in chosen.chosen):
    st.caption("Requests are sliced by fulfilment team only: the other filters do not apply.")

KPIS = [
    ui.Kpi(
        "request_fulfilment",
        "Fulfilment · mean",
        FULFILMENT,
        "fulfilment_hours",
        "hours",
        lower_is_better=True,
        population="requests_delivered",
        help="Mean calendar hours from order to delivery, over items delivered in the period.",
    ),
    ui.Kpi(
        "request_fulfilment_p90",
        "Fulfilment · 90th percentile",
        FULFILMENT,
        "fulfilment_p90_hours",
        "hours",
        lower_is_better=True,
        population="requests_delivered",
        help="Nine in ten items delivered in the period took at most this long.",
    ),
    ui.Kpi(
        "request_compliance",
        "Delivery compliance",
        FULFILMENT,
        "delivery_sla_compliance",
        "percent",
        lower_is_better=False,
        population="requests_late",
        help="Share of items delivered in the period within their delivery target; the tickets "
        "listed are the late ones.",
    ),
    ui.Kpi(
        "request_rejections",
        "Approval rejection rate",
        APPROVALS,
        "rejection_rate",
        "percent",
        lower_is_better=True,
        population="requests_rejected",
        help="Share of approval decisions taken in the period that were rejections.",
    ),
]
ui.kpi_grid("requests", KPIS, chosen, period=ui.kpi_period(chosen))

fulfilment = queries.trend(FULFILMENT, chosen)
left, right = st.columns(2)
with left:
    st.subheader("Fulfilment time")
    if fulfilment.empty:
        ui.empty()
    else:
        ui.chart(
            charts.hours_trend(
                fulfilment,
                measures={
                    "fulfilment_hours": "Mean",
                    "fulfilment_median_hours": "Median",
                    "fulfilment_p90_hours": "90th percentile",
                    "fulfilment_business_hours": "Mean, business hours",
                },
                grain=chosen.grain,
                title="Order to delivery",
            ),
            key="requests_fulfilment",
            drill=lambda point: queries.drill(
                "requests_delivered", chosen, period=ui.picked_period(point)
            ),
        )
with right:
    st.subheader("Approval wait and fulfilment work")
    if fulfilment.empty:
        ui.empty()
    else:
        ui.chart(
            charts.hours_trend(
                fulfilment,
                measures={
                    "approval_wait_hours": "Approval wait",
                    "fulfilment_work_hours": "Fulfilment work",
                    "approval_wait_business_hours": "Approval wait, business",
                    "fulfilment_work_business_hours": "Fulfilment work, business",
                },
                grain=chosen.grain,
                title="Mean",
            ),
            key="requests_split",
            drill=lambda point: queries.drill(
                "requests_delivered", chosen, period=ui.picked_period(point)
            ),
        )

left, right = st.columns(2)
with left:
    st.subheader("Delivery compliance")
    if fulfilment.empty:
        ui.empty()
    else:
        ui.chart(
            charts.rate_trend(
                fulfilment,
                value="delivery_sla_compliance",
                grain=chosen.grain,
                title="Delivered on time",
                tooltip_extra=[
                    charts.alt.Tooltip("delivered_count:Q", title="Delivered", format=","),
                    charts.alt.Tooltip("sla_met_count:Q", title="On time", format=","),
                ],
            ),
            key="requests_compliance",
            drill=lambda point: queries.drill(
                "requests_late", chosen, period=ui.picked_period(point)
            ),
        )
with right:
    st.subheader("Opened and open at the end")
    volume = queries.request_volume(chosen)
    if volume.empty:
        ui.empty()
    else:
        ui.chart(
            charts.count_trend(
                volume, value="opened_count", grain=chosen.grain, title="Items ordered"
            ),
            key="requests_volume",
            drill=lambda point: queries.drill(
                "requests_opened", chosen, period=ui.picked_period(point)
            ),
        )
        st.dataframe(
            volume.rename(
                columns={
                    "period_start": "Period",
                    "opened_count": "Ordered",
                    "delivered_count": "Delivered",
                    "rejected_count": "Rejected",
                    "cancelled_count": "Cancelled",
                    "open_at_end_count": "Open at the end",
                }
            ),
            hide_index=True,
            width="stretch",
        )

st.subheader("Approval turnaround by stage and approver")
period = ui.breakdown_period(chosen, key="requests_approvals_period")
for dimension, title in (("stage", "Stage"), ("approver", "Approver")):
    rows = queries.by_dimension(APPROVALS, chosen, dimension, period=period)
    if rows.empty:
        ui.empty(f"No approval was decided in {ui.period_label(period, chosen.grain)}.")
        break
    st.dataframe(
        rows[
            [
                "slice_value",
                "decided_count",
                "rejected_count",
                "rejection_rate",
                "turnaround_hours",
                "turnaround_median_hours",
                "turnaround_p90_hours",
            ]
        ],
        hide_index=True,
        width="stretch",
        column_config={
            "slice_value": st.column_config.TextColumn(title),
            "decided_count": st.column_config.NumberColumn("Decided"),
            "rejected_count": st.column_config.NumberColumn("Rejected"),
            "rejection_rate": st.column_config.NumberColumn("Rejection rate", format="percent"),
            "turnaround_hours": st.column_config.NumberColumn("Mean (h)", format="%.1f"),
            "turnaround_median_hours": st.column_config.NumberColumn("Median (h)", format="%.1f"),
            "turnaround_p90_hours": st.column_config.NumberColumn("p90 (h)", format="%.1f"),
        },
    )

st.subheader("Per catalog item (all history)")
items = queries.catalog_items()
if items.empty:
    ui.empty("Nothing has been ordered yet.")
else:
    st.dataframe(
        items,
        hide_index=True,
        width="stretch",
        column_config={
            "catalog_item_name": st.column_config.TextColumn("Catalog item", width="medium"),
            "category_name": st.column_config.TextColumn("Category"),
            "is_active": st.column_config.CheckboxColumn("Orderable"),
            "ordered_count": st.column_config.NumberColumn("Ordered"),
            "delivered_count": st.column_config.NumberColumn("Delivered"),
            "rejected_count": st.column_config.NumberColumn("Rejected"),
            "rejection_rate": st.column_config.NumberColumn("Rejection rate", format="percent"),
            "fulfilment_hours": st.column_config.NumberColumn("Mean (h)", format="%.1f"),
            "fulfilment_median_hours": st.column_config.NumberColumn("Median (h)", format="%.1f"),
            "fulfilment_p90_hours": st.column_config.NumberColumn("p90 (h)", format="%.1f"),
            "fulfilment_business_hours": st.column_config.NumberColumn(
                "Business mean (h)", format="%.1f"
            ),
            "delivery_sla_compliance": st.column_config.NumberColumn("On time", format="percent"),
            "csat_answer_count": st.column_config.NumberColumn("CSAT answers"),
            "csat_mean_rating": st.column_config.NumberColumn("CSAT mean", format="%.2f"),
        },
    )

ui.ticket_explorer(
    "requests",
    chosen,
    {
        "Request items delivered": lambda day: queries.drill(
            "requests_delivered", chosen, period=day
        ),
        "Request items delivered late": lambda day: queries.drill(
            "requests_late", chosen, period=day
        ),
        "Request items ordered": lambda day: queries.drill("requests_opened", chosen, period=day),
        "Request items rejected": lambda day: queries.drill(
            "requests_rejected", chosen, period=day
        ),
    },
)
