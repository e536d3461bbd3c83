{#- Overrides dbt's get_where_subquery so that a data test configured with where: "latest_build"
    checks what the tested model's latest build replaced, not the whole table: every row whose
    replacement key (the periods of a replace_periods rollup, the incidents of a
    replace_incidents mart, the unique_key of a delete+insert model) is among the keys of the
    rows its latest build wrote. Old rows of those keys are included, so a duplicate left beside a
    rewritten row is caught. After a first build or a full refresh every row is tested; a model
    that is not incremental is tested whole. Any other `where` behaves as in dbt. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get("where", "") -%}
    {%- if where == "latest_build" -%}
        {%- do return(latest_build_rows(relation)) -%}
    {%- elif where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{#- The rows of `relation` whose replacement keys its latest build wrote, or the whole relation
    after a build that rewrote it whole. What the latest build was comes from the watermarks its
    models record (macros/incremental.sql), a lookup of one row: reading the bounds of
    loaded_watermark from the table cost a scan of it for every test. The watermark is written in
    as a constant, so PostgreSQL reads the few newer rows through the loaded_watermark index and
    joins on the keys (a subquery, or an OR that skips the filter after a full refresh, made it
    rescan the table for every row). -#}
{% macro latest_build_rows(relation) -%}
    {%- set keys = replacement_keys(relation) -%}
    {%- if not keys or not execute -%}
        {%- do return(relation) -%}
    {%- endif -%}
    {%- set latest_sql -%}
        select full_build, watermark::text
        from {{ watermarks_relation() }}
        where model_name = '{{ relation.schema }}.{{ relation.identifier }}'
    {%- endset -%}
    {%- set latest = run_query(latest_sql).rows -%}
    {%- if not latest or latest[0][0] -%}
        {#- Not recorded, or rebuilt whole (a first build, a full refresh): test every row. -#}
        {%- do return(relation) -%}
    {%- endif -%}
    {%- set filtered -%}
        (
            select *
            from {{ relation }}
            where ({{ keys | join(", ") }}) in (
                select {{ keys | join(", ") }}
                from {{ relation }}
                where loaded_watermark >= '{{ latest[0][1] }}'::timestamptz
            )
        ) dbt_subquery
    {%- endset -%}
    {%- do return(filtered) -%}
{%- endmacro %}

{#- The columns an incremental build of `relation` replaces rows by; none when it is not an
    incremental model of this project. -#}
{% macro replacement_keys(relation) -%}
    {%- set keys = [] -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values()
            if node.resource_type == "model"
            and node.schema == relation.schema
            and node.alias == relation.identifier
            and node.config.materialized == "incremental" -%}
            {%- set strategy = node.config.get("incremental_strategy") -%}
            {%- if strategy == "replace_periods" -%}
                {%- do keys.extend(["period_grain", "period_start"]) -%}
            {%- elif strategy == "replace_incidents" -%}
                {%- do keys.append("incident_id") -%}
            {%- elif node.config.get("unique_key") -%}
                {%- set unique_key = node.config.get("unique_key") -%}
                {%- do keys.extend([unique_key] if unique_key is string else unique_key) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- do return(keys) -%}
{%- endmacro %}
