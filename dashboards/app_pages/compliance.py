"""Compliance: change approval evidence, the access review, the audit trail, the reconciliation of
imported tickets with their source systems, and the compliance exports (listed and downloaded
through the API, so each download is audited as the reader). The access review is personal
data: auditors and admins see it, read as the auditor role."""

import streamlit as st

from dashboards import auth, filters, queries, ui
from dashboards.plain import plain

chosen = filters.current()
user = auth.current_user()
ui.page_header(
    "Compliance",
    chosen,
    caption="Evidence for auditors, from the compliance marts. Changes are sliced by team only.",
)

st.subheader("Change approval evidence")
evidence = queries.approval_evidence(chosen)
if evidence.empty:
    ui.empty("No change was implemented in the date range for these filters.")
else:
    flags = st.columns(len(queries.APPROVAL_FLAGS))
    for column, (flag, label) in zip(flags, queries.APPROVAL_FLAGS.items(), strict=True):
        column.metric(label, f"{int(evidence[flag].sum()):,}", border=True)
    st.caption(f"Out of {len(evidence):,} changes implemented in the date range.")
    only = st.pills(
        "Show only changes flagged",
        list(queries.APPROVAL_FLAGS),
        format_func=queries.APPROVAL_FLAGS.get,
        selection_mode="multi",
        key="compliance_flags",
    )
    shown = evidence
    for flag in only or []:
        shown = shown[shown[flag]]
    st.dataframe(
        shown.drop(columns=["change_id"]),
        hide_index=True,
        width="stretch",
        column_config=queries.RECORD_COLUMNS["fct_changes"]
        | {
            "change_number": st.column_config.TextColumn("Change"),
            "implemented_date": st.column_config.DateColumn("Implemented"),
            "authorization_outcome": st.column_config.TextColumn("CAB outcome"),
            "authorization_rule": st.column_config.TextColumn("CAB rule"),
            "authorization_quorum": st.column_config.NumberColumn("Quorum"),
            "authorization_approved_count": st.column_config.NumberColumn("Approvals"),
            "authorization_rejected_count": st.column_config.NumberColumn("Rejections"),
            "approvers": st.column_config.TextColumn("Approvers", width="medium"),
            "quorum_met": st.column_config.CheckboxColumn("Quorum met"),
            "retrospective_outcome": st.column_config.TextColumn("Retrospective"),
        }
        | {
            flag: st.column_config.CheckboxColumn(label)
            for flag, label in queries.APPROVAL_FLAGS.items()
        },
    )

st.subheader("Access review")
if user is None or not user.can("audit:read"):
    st.info("The access review (personal data) is for auditors and admins.", icon=":material/lock:")
else:
    access = queries.access_review()
    if access.empty:
        ui.empty("No accounts that can sign in.")
    else:
        without_mfa = access[access["is_privileged_without_mfa"]]
        columns = st.columns(3)
        columns[0].metric("Accounts that can sign in", f"{len(access):,}", border=True)
        columns[1].metric("Privileged", f"{int(access['is_privileged'].sum()):,}", border=True)
        columns[2].metric("Privileged without MFA", f"{len(without_mfa):,}", border=True)
        if not without_mfa.empty:
            st.warning(
                f"{len(without_mfa)} privileged account(s) without MFA: "
                + plain(", ".join(without_mfa["email"].astype(str))),
                icon=":material/no_encryption:",
            )
        st.dataframe(
            access.drop(columns=["user_id"]),
            hide_index=True,
            width="stretch",
            column_config={
                "display_name": st.column_config.TextColumn("Name"),
                "email": st.column_config.TextColumn("Email"),
                "roles": st.column_config.TextColumn("Roles"),
                "team_names": st.column_config.TextColumn("Teams"),
                "is_active": st.column_config.CheckboxColumn("Active"),
                "is_privileged": st.column_config.CheckboxColumn("Privileged"),
                "is_mfa_enabled": st.column_config.CheckboxColumn("MFA"),
                "is_privileged_without_mfa": st.column_config.CheckboxColumn("Privileged, no MFA"),
                "last_login_at": st.column_config.DatetimeColumn(
                    "Last login", format=queries.DATETIME_FORMAT
                ),
                "days_since_last_login": st.column_config.NumberColumn("Days since login"),
                "failed_logins_last_30_days": st.column_config.NumberColumn("Failed logins (30 d)"),
                "roles_changed_at": st.column_config.DatetimeColumn(
                    "Roles changed", format=queries.DATETIME_FORMAT
                ),
            },
        )

st.subheader("Audit trail")
trail = queries.audit_trail(chosen)
if trail.empty:
    ui.empty("The event log recorded nothing in the date range.")
else:
    st.dataframe(
        trail,
        hide_index=True,
        width="stretch",
        column_config={
            "activity_date": st.column_config.DateColumn("Day"),
            "entity_type": st.column_config.TextColumn("Record"),
            "event_kind": st.column_config.TextColumn("Event"),
            "event_count": st.column_config.NumberColumn("Events"),
            "record_count": st.column_config.NumberColumn("Records"),
            "actor_count": st.column_config.NumberColumn("People"),
            "system_event_count": st.column_config.NumberColumn("By the system"),
            "imported_event_count": st.column_config.NumberColumn("Imported"),
        },
    )

st.subheader("Imported tickets against their source")
summary, differences = queries.source_reconciliation()
if summary.empty:
    ui.empty("No imported ticket carries figures of its source system.")
else:
    st.caption(
        "Per field, how many imported tickets the replay of their exported history and the "
        "source system's own figure agree on. The source's figure is the one the metrics use; "
        "an unknown resolution time is left out of MTTR and FCR (see the definitions)."
    )
    st.dataframe(
        summary,
        hide_index=True,
        width="stretch",
        column_config={
            "source_system": st.column_config.TextColumn("Source"),
            "field_name": st.column_config.TextColumn("Field"),
            "unit": st.column_config.TextColumn("Unit"),
            "compared_count": st.column_config.NumberColumn("Compared"),
            "agree_count": st.column_config.NumberColumn("Agree"),
            "differ_count": st.column_config.NumberColumn("Differ"),
            "replay_lower_count": st.column_config.NumberColumn("Replay lower"),
            "replay_higher_count": st.column_config.NumberColumn("Replay higher"),
            "unknown_count": st.column_config.NumberColumn("Unknown in source"),
            "largest_difference": st.column_config.NumberColumn("Largest difference"),
            "agreement_rate": st.column_config.ProgressColumn(
                "Agreement", format="percent", min_value=0, max_value=1
            ),
        },
    )
    if not differences.empty:
        with st.expander(f"Tickets that differ ({len(differences):,}, largest first)"):
            st.dataframe(
                differences,
                hide_index=True,
                width="stretch",
                column_config={
                    "incident_number": st.column_config.TextColumn("Incident"),
                    "source_system": st.column_config.TextColumn("Source"),
                    "external_id": st.column_config.TextColumn("Source id"),
                    "field_name": st.column_config.TextColumn("Field"),
                    "source_value": st.column_config.TextColumn("Source says"),
                    "replayed_value": st.column_config.TextColumn("Replay says"),
                    "difference": st.column_config.NumberColumn("Difference"),
                    "outcome": st.column_config.TextColumn("Outcome"),
                    "missing_updates": st.column_config.NumberColumn("Missing updates"),
                },
            )

st.subheader("Compliance exports")
if user is None or not user.can("export:read"):
    st.info("Compliance exports are for auditors and admins.", icon=":material/lock:")
else:
    ui.exports_list(user)
