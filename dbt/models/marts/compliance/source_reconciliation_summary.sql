-- How far the replay of imported histories agrees with the source systems' own figures: per
-- source system and field, the incidents compared, how many agree, how many the replay puts
-- lower or higher, the largest difference, and the resolution times the source does not know.
-- One row per source system and field.

select
    source_system,
    field_name,
    min(unit) as unit,
    count(*) filter (where outcome <> 'unknown') as compared_count,
    count(*) filter (where outcome = 'agree') as agree_count,
    count(*) filter (where outcome in ('replay_lower', 'replay_higher')) as differ_count,
    count(*) filter (where outcome = 'replay_lower') as replay_lower_count,
    count(*) filter (where outcome = 'replay_higher') as replay_higher_count,
    count(*) filter (where outcome = 'unknown') as unknown_count,
    max(abs(difference))::numeric(14, 2) as largest_difference,
    (count(*) filter (where outcome = 'agree')::numeric
        / nullif(count(*) filter (where outcome <> 'unknown'), 0))::numeric(6, 4) as agreement_rate
from {{ ref('int_source_figures_compared') }}
group by source_system, field_name
