-- Requests sliced by the value of a choice custom field of the order: opened and closed per
-- period, with the time to close of those closed. One row per period grain, period start,
-- field and value. A request without a value for the field is in no row of it.
with

requests as (
    select
        chosen.field_name,
        chosen.field_label,
        chosen.value_text as choice_value,
        fct_requests.opened_date,
        fct_requests.closed_date as ended_date,
        fct_requests.minutes_to_close as minutes
    from {{ ref('fct_request_custom_fields') }} as chosen
    inner join {{ ref('fct_requests') }} as fct_requests
        on fct_requests.request_id = chosen.request_id
    where chosen.field_type = 'choice'
)

{{ choice_value_rollup("requests", "closed_count", "minutes_to_close_mean") }}
