{#- Tables under an enforced contract (every intermediate and mart table) get the same columns,
    types and constraints as dbt-postgres would give them, in a cheaper order: dbt creates the
    table with its constraints and then inserts, maintaining each key index row by row; here the
    rows are written first (create table as, cast to the contract's types) and one alter table
    then adds every constraint, which validates the not-null and check constraints in a single
    pass and builds each key index with one sort. On a million-row rollup that is several times
    faster, and the guarantees are the same: a row that breaks a constraint fails the build.
    Later incremental inserts are checked row by row, as always. Temporary tables (the
    incremental runs' new rows) have no constraints, as in dbt-postgres. -#}
{% macro postgres__create_table_as(temporary, relation, sql) -%}
    {%- set contract_config = config.get("contract") -%}
    {%- set unlogged = config.get("unlogged", default=false) -%}
    {%- set sql_header = config.get("sql_header", none) -%}
    {{ sql_header if sql_header is not none }}
    {%- if contract_config.enforced %}
    {{ get_assert_columns_equivalent(sql) }}
    {%- endif %}
    create {% if temporary -%} temporary {%- elif unlogged -%} unlogged {%- endif %} table {{ relation }}
    as (
        {%- if contract_config.enforced and not temporary %}
        {{ contract_typed_select(sql) }}
        {%- else %}
        {{ sql }}
        {%- endif %}
    );
    {%- if contract_config.enforced and not temporary %}
    {{ contract_constraints_sql(relation) }}
    {%- endif %}
{%- endmacro %}

{#- The model's rows, with each column cast to its contract data_type and in contract order. -#}
{% macro contract_typed_select(sql) -%}
    select
        {%- for column in model["columns"].values() %}
        {{ contract_column_name(column) }}::{{ column["data_type"] }}
            as {{ contract_column_name(column) }}{{ "," if not loop.last }}
        {%- endfor %}
    from (
        {{ sql }}
    ) as model_subq
{%- endmacro %}

{% macro contract_column_name(column) -%}
    {{ adapter.quote(column["name"]) if column.get("quote") else column["name"] }}
{%- endmacro %}

{#- One alter table adding the contract's column and model constraints, or nothing. -#}
{% macro contract_constraints_sql(relation) -%}
    {%- set clauses = [] -%}
    {%- for column in model["columns"].values() -%}
        {%- set name = contract_column_name(column) -%}
        {%- for constraint in column.get("constraints") or [] -%}
            {%- if constraint["type"] == "not_null" -%}
                {%- do clauses.append("alter column " ~ name ~ " set not null") -%}
            {%- elif constraint["type"] == "check" -%}
                {%- do clauses.append("add check (" ~ constraint["expression"] ~ ")") -%}
            {%- elif constraint["type"] == "unique" -%}
                {%- do clauses.append("add unique (" ~ name ~ ")") -%}
            {%- elif constraint["type"] == "primary_key" -%}
                {%- do clauses.append("add primary key (" ~ name ~ ")") -%}
            {%- else -%}
                {%- do exceptions.raise_compiler_error(
                    "contract constraint " ~ constraint["type"] ~ " on " ~ name
                    ~ " is not supported by macros/contracts.sql"
                ) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for constraint in model.get("constraints") or [] -%}
        {%- set columns = (constraint.get("columns") or []) | join(", ") -%}
        {%- if constraint["type"] == "primary_key" -%}
            {%- do clauses.append("add primary key (" ~ columns ~ ")") -%}
        {%- elif constraint["type"] == "unique" -%}
            {%- do clauses.append("add unique (" ~ columns ~ ")") -%}
        {%- elif constraint["type"] == "check" -%}
            {%- do clauses.append("add check (" ~ constraint["expression"] ~ ")") -%}
        {%- elif constraint["type"] == "custom" -%}
            {%- do clauses.append("add " ~ constraint["expression"]) -%}
        {%- else -%}
            {%- do exceptions.raise_compiler_error(
                "model constraint " ~ constraint["type"] ~ " is not supported by macros/contracts.sql"
            ) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if clauses %}
    alter table {{ relation }}
        {{ clauses | join(",\n        ") }};
    {%- endif -%}
{%- endmacro %}
