{#- Pre-hook: settings for the model's transaction only.
    - work_mem from var('model_work_mem'): hash aggregates and sorts (grouping sets, windows) of
      a large history stay in memory.
    - No JIT: compiling costs more than it saves on these one-off queries.
    - No parallel workers: dbt already runs several models at once, and a parallel plan's workers
      only compete with them for the cores (some plans also repeated their work in each worker).
    - An incremental run reads a few changed rows through keys and indexes of tables that sit in
      memory: random_page_cost 1.1, so that a few thousand key lookups win over a scan. Full
      builds keep the default, whose hash joins were faster there. -#}
{% macro model_settings() -%}
    set local work_mem = '{{ var("model_work_mem") }}';
    set local jit = off;
    set local max_parallel_workers_per_gather = 0
    {%- if is_incremental() %};
    set local random_page_cost = 1.1
    {%- endif %}
{%- endmacro %}
