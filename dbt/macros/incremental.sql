{#- Incremental models keep in `loaded_watermark` the instant up to which everything recorded
    was visible when they ran: the start of the oldest transaction still open in the database
    (other than dbt's own), or now. A transaction that commits after the run started before that
    instant, so the next run, which reprocesses what was recorded since the watermark, sees it.
    This needs the dbt role to see other sessions in pg_stat_activity (same role, superuser or
    pg_read_all_stats); var('incremental_lookback_minutes') adds a margin if it cannot. -#}
{% macro run_watermark() -%}
    (
        select least(now(), coalesce(min(activity.xact_start), now()))
        from pg_stat_activity as activity
        where activity.datname = current_database()
            and activity.pid <> pg_backend_pid()
            and activity.xact_start is not null
            and coalesce(activity.application_name, '') <> 'itsm-dbt'
    )
{%- endmacro %}

{#- The instant from which an incremental model reprocesses: its watermark less the lookback.
    Only valid inside {% if is_incremental() %}. -#}
{% macro incremental_since(watermark_column="loaded_watermark") -%}
    (
        select coalesce(max({{ watermark_column }}), '-infinity'::timestamptz)
            - make_interval(mins => {{ var("incremental_lookback_minutes") }})
        from {{ this }}
    )
{%- endmacro %}

{#- Incidents with lifecycle events recorded since this model's watermark. Rebuilding a whole
    incident (delete+insert on incident_id) keeps an incremental run equal to a full refresh. -#}
{% macro classified_refresh_scope() -%}
    select incident_id
    from {{ ref('int_incident_events_classified') }}
    where recorded_at > {{ incremental_since() }}
{%- endmacro %}

{#- Incidents whose lifecycle was rebuilt since this model last ran: for the per-incident models
    downstream of int_incidents_lifecycle_rebuilt. -#}
{% macro lifecycle_refresh_scope() -%}
    select incident_id
    from {{ ref('int_incidents_lifecycle_rebuilt') }}
    where loaded_watermark > {{ incremental_since() }}
{%- endmacro %}
