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

{#- The instant from which an incremental model reprocesses: the watermark of its last run less
    the lookback. Only valid inside {% if is_incremental() %}. The last run's watermark is
    recorded apart (record_run_watermark), whether that run wrote rows or not: a model whose
    last runs wrote nothing (a CSAT rollup before the first answer, say) would otherwise find no
    watermark in its rows and reprocess all history on every run. Before the first recorded run,
    its rows' largest watermark stands in. Compare with >=: a transaction still open during the
    last run stopped its watermark at the transaction's start, which is the recorded_at (now())
    of every row that transaction wrote (tests/dbt/test_watermarks.py). -#}
{% macro incremental_since(watermark_column="loaded_watermark") -%}
    {%- set since_sql -%}
        select (
            coalesce(
                (
                    select recorded.watermark
                    from {{ watermarks_relation() }} as recorded
                    where recorded.model_name = '{{ this.schema }}.{{ this.identifier }}'
                ),
                (select max({{ watermark_column }}) from {{ this }}),
                '-infinity'::timestamptz
            ) - make_interval(mins => {{ var("incremental_lookback_minutes") }})
        )::text
    {%- endset -%}
    {#- Read before the model runs and written in as a constant: PostgreSQL then estimates from
        its statistics how few rows are newer (a handful of the history), and reads them through
        the indexes; compared with a subquery it assumes a third of the table. -#}
    {%- if execute -%}
        '{{ run_query(since_sql).columns[0].values()[0] }}'::timestamptz
    {%- else -%}
        (({{ since_sql }})::timestamptz)
    {%- endif -%}
{%- endmacro %}

{#- Where incremental models record their last run's watermark, and whether that run rebuilt
    the table whole (a first build or a full refresh), for the scoped data tests
    (macros/get_where_subquery.sql). Created by on-run-start. -#}
{% macro watermarks_relation() -%}
    intermediate.incremental_watermarks
{%- endmacro %}

{% macro create_watermarks_relation() -%}
    create schema if not exists intermediate;
    create table if not exists {{ watermarks_relation() }} (
        model_name text primary key,
        watermark timestamptz not null
    );
    alter table {{ watermarks_relation() }}
        add column if not exists full_build boolean not null default true
{%- endmacro %}

{#- Pre-hook: note in the transaction, before the model reads anything, the run's watermark (an
    instant no later than the one the model's rows carry: at worst a little is reprocessed) and
    whether this build rebuilds the table whole. Hooks render when they run, so this is the last
    moment is_incremental() still says so for a first build. -#}
{% macro remember_run_watermark() -%}
    select set_config(
        'itsm.full_build', '{{ "false" if is_incremental() else "true" }}', true
    )
    {%- if model.config.materialized == "incremental" -%}
        , set_config('itsm.run_watermark', ({{ run_watermark() }})::text, true)
    {%- endif -%}
{%- endmacro %}

{#- Post-hook, in the same transaction as the model's rows: record the noted watermark. -#}
{% macro record_run_watermark() -%}
    {%- if model.config.materialized == "incremental" -%}
        insert into {{ watermarks_relation() }} (model_name, watermark, full_build)
        values (
            '{{ this.schema }}.{{ this.identifier }}',
            current_setting('itsm.run_watermark')::timestamptz,
            current_setting('itsm.full_build')::boolean
        )
        on conflict (model_name) do update
            set watermark = excluded.watermark, full_build = excluded.full_build
    {%- endif -%}
{%- endmacro %}

{#- Post-hook: fresh statistics whenever the build wrote rows, so that the next models plan well.
    They matter after an incremental run too: the models downstream select the rows newer than
    their watermark, and with statistics that have never seen those rows PostgreSQL expects one
    and picks nested loops that took 75 s for 19,000 incidents. So after an incremental run the
    models that others select from by watermark (config analyze_after_refresh: the lifecycle,
    fct_incidents, the days touched) sample the columns those selections use (keys, indexed
    columns, loaded_watermark): 0.1 s instead of 1 s on a million incidents. The rollups and
    compliance marts at the end of the line leave it to autovacuum, as does a run that wrote
    nothing. Views have no statistics of their own. -#}
{% macro analyze_if_written() -%}
    {%- if model.config.materialized == "view" -%}
        {%- do return("") -%}
    {%- endif %}
    do $analyze$
    begin
        if current_setting('itsm.full_build')::boolean then
            analyze {{ this }};
        {%- if model.config.materialized == "incremental"
            and model.config.get("analyze_after_refresh", false) %}
        elsif exists (
            select from {{ this }}
            where loaded_watermark >= current_setting('itsm.run_watermark')::timestamptz
        ) then
            analyze {{ this }} ({{ selection_columns() | join(", ") }});
        {%- endif %}
        end if;
    end
    $analyze$
{%- endmacro %}

{#- The columns other models select this model's rows by: its loaded_watermark, its indexed
    columns and the columns of its contract's keys. -#}
{% macro selection_columns() -%}
    {%- set columns = ["loaded_watermark"] -%}
    {%- for index in model.config.get("indexes") or [] -%}
        {%- do columns.extend(index["columns"]) -%}
    {%- endfor -%}
    {%- for constraint in model.get("constraints") or [] -%}
        {%- do columns.extend(constraint.get("columns") or []) -%}
    {%- endfor -%}
    {%- for column in model["columns"].values() -%}
        {%- for constraint in column.get("constraints") or []
            if constraint["type"] in ("primary_key", "unique") -%}
            {%- do columns.append(column["name"]) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(columns | unique | list) }}
{%- endmacro %}

{#- Incidents with lifecycle events recorded since this model's watermark. Rebuilding a whole
    incident (delete+insert on incident_id) keeps an incremental run equal to a full refresh. -#}
{% macro classified_refresh_scope() -%}
    select incident_id
    from {{ ref('int_incident_events_classified') }}
    where recorded_at >= {{ incremental_since() }}
{%- endmacro %}

{#- Incidents whose lifecycle was rebuilt since this model last ran: for the per-incident models
    downstream of int_incidents_lifecycle_rebuilt. -#}
{% macro lifecycle_refresh_scope() -%}
    select incident_id
    from {{ ref('int_incidents_lifecycle_rebuilt') }}
    where loaded_watermark >= {{ incremental_since() }}
{%- endmacro %}
