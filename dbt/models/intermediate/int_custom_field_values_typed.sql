-- Every custom field value of every record, typed by its definition: the one place that reads
-- the JSON, so that every record type's mart agrees. One row per record and field.
with

values_by_record as (
    select 'incident' as record_type, incident_id as record_id, field_name, field_value
    from {{ ref('stg_operational__incident_custom_field_values') }}
    union all
    select 'change' as record_type, change_id as record_id, field_name, field_value
    from {{ ref('stg_operational__change_custom_field_values') }}
    union all
    select 'problem' as record_type, problem_id as record_id, field_name, field_value
    from {{ ref('stg_operational__problem_custom_field_values') }}
    union all
    select 'request' as record_type, request_id as record_id, field_name, field_value
    from {{ ref('stg_operational__request_custom_field_values') }}
),

typed as (
    select
        values_by_record.record_type,
        values_by_record.record_id,
        values_by_record.field_name,
        definitions.field_label,
        definitions.field_type,
        definitions.is_retired as is_retired_field,
        -- What a person reads: a multi-choice's options joined, anything else as written.
        case
            when definitions.field_type = 'multi_choice'
                then (
                    select string_agg(option, ', ' order by ordinal)
                    from jsonb_array_elements_text(values_by_record.field_value)
                        with ordinality as options (option, ordinal)
                )
            else values_by_record.field_value #>> '{}'
        end as value_text,
        case
            when definitions.field_type in ('number', 'decimal', 'user', 'team', 'ci')
                then (values_by_record.field_value #>> '{}')::numeric
        end as value_number,
        case
            when definitions.field_type = 'date'
                then (values_by_record.field_value #>> '{}')::date
        end as value_date,
        case
            when definitions.field_type = 'datetime'
                then (values_by_record.field_value #>> '{}')::timestamptz
        end as value_timestamp,
        case
            when definitions.field_type = 'boolean'
                then (values_by_record.field_value #>> '{}')::boolean
        end as value_boolean,
        values_by_record.field_value as value_json
    from values_by_record
    inner join {{ ref('stg_operational__custom_field_definitions') }} as definitions
        on definitions.record_type = values_by_record.record_type
        and definitions.field_name = values_by_record.field_name
)

select * from typed
