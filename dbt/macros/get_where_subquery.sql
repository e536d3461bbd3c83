{#- Overrides dbt's get_where_subquery so that a data test configured with where: "latest_build"
    checks what the tested model's latest build replaced, not the whole table: every row whose
    replacement key (the periods of a replace_periods rollup, the incidents of a
    replace_incidents mart, the unique_key of a delete+insert model) is among the keys of the
    rows carrying the table's largest loaded_watermark. Old rows of those keys are included, so a
    duplicate left beside a rewritten row is caught. A full refresh writes every row with one
    watermark, so it tests every row; a model that is not incremental is tested whole. Any other
    `where` behaves as in dbt. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get("where", "") -%}
    {%- if where == "latest_build" -%}
        {%- set keys = replacement_keys(relation) -%}
        {%- if keys -%}
            {%- set filtered -%}
                (
                    select *
                    from {{ relation }}
                    -- After a full refresh every row carries one watermark: test them all,
                    -- without building the set of keys.
                    where (
                        select min(loaded_watermark) = max(loaded_watermark) from {{ relation }}
                    )
                        or ({{ keys | join(", ") }}) in (
                            select {{ keys | join(", ") }}
                            from {{ relation }}
                            where loaded_watermark >= (
                                select max(loaded_watermark) from {{ relation }}
                            )
                        )
                ) dbt_subquery
            {%- endset -%}
            {%- do return(filtered) -%}
        {%- endif -%}
        {%- do return(relation) -%}
    {%- elif where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
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
