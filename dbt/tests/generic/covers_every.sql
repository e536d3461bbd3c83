{#- Nothing is lost on the way to the marts: every `source_column` value of `source_model` has a
    row in the model (its `column_name`). Fails for every value that has none. Checked over the
    whole model (config where: "true"), not only what the latest build rewrote. -#}
{% test covers_every(model, column_name, source_model, source_column) %}
with modelled as (
    select {{ column_name }} as modelled_key
    from {{ model }}
)

select sources.{{ source_column }} as missing_key
from {{ source_model }} as sources
where not exists (
    select from modelled where modelled.modelled_key = sources.{{ source_column }}
)
{% endtest %}
