{{
    config(
        materialized="incremental",
        incremental_strategy="replace_incidents",
        replace_marker="source_made_sla",
        on_schema_change="fail",
        indexes=[
            {"columns": ["loaded_watermark"]},
            {"columns": ["resolved_date"]},
        ],
    )
}}

-- Imported incidents whose source tool reported its own SLA verdict (e.g. ServiceNow made_sla),
-- side by side with ours (no SLA timer of the incident breached). One row per such incident.
-- Incremental: the incidents rebuilt in fct_incidents since the last run are replaced whole (a
-- rebuilt incident without a source verdict leaves a placeholder, which is not kept).

select
    incident_id,
    incident_number,
    source_system,
    external_id,
    priority_label,
    team_name,
    service_name,
    category,
    channel,
    lifecycle_status,
    resolved_at,
    resolved_date,
    source_made_sla,
    made_sla,
    response_sla_state,
    resolution_sla_state,
    source_sla_comparison as comparison,
    source_sla_comparison = 'agree' as is_agreement,
    {{ run_watermark() }} as loaded_watermark
from {{ ref('fct_incidents') }}
{%- if is_incremental() %}
where incident_id in ({{ changed_fct_incidents() }})
{%- else %}
where source_made_sla is not null
{%- endif %}
