-- How fresh the marts are: when this build ran, and the newest source change each mart
-- family has seen. One row per subject.

with latest_event as (
    select recorded_at
    from {{ ref('stg_operational__events') }}
    order by event_id desc
    limit 1
)

select
    'event_log' as subject,
    (select recorded_at from latest_event) as data_through,
    now() as built_at
union all
select
    'incidents' as subject,
    (select max(source_recorded_at) from {{ ref('fct_incidents') }}) as data_through,
    now() as built_at
union all
select
    'changes' as subject,
    (select max(updated_at) from {{ ref('fct_changes') }}) as data_through,
    now() as built_at
union all
select
    'imports' as subject,
    (select max(finished_at) from {{ ref('stg_operational__import_runs') }}) as data_through,
    now() as built_at
