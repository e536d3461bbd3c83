{#- Overrides dbt's get_where_subquery so that a data test configured with where: "latest_build"
    checks the rows the model's latest build wrote (its largest loaded_watermark, indexed): each
    build tests what it produced, and a full refresh tests every row. Any other `where` behaves as
    in dbt. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get("where", "") -%}
    {%- if where == "latest_build" -%}
        {%- set filtered -%}
            (
                select *
                from {{ relation }}
                where loaded_watermark >= (select max(loaded_watermark) from {{ relation }})
            ) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- elif where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
