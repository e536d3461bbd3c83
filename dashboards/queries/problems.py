"""The Problems and knowledge page: its rollups (problems, fix times, incidents with their
problems, knowledge at work) and its lists (problems, the incidents behind a problem, articles).

Every figure is a column of a dbt mart (dbt/README.md, "Problems", "Knowledge"); the only
arithmetic is minutes to hours.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from dashboards.queries.db import SCHEMA, read
from dashboards.queries.reporting_periods import period_start
from operational.core.config import get_settings

# Each rollup, the sidebar dimensions it is sliced by, and the measures the page shows.
ROLLUPS: dict[str, tuple[tuple[str, ...], str]] = {
    "problems_per_period": (
        ("team", "service", "category"),
        "opened_count, resolved_count, open_at_end_count",
    ),
    "problem_fix_times_per_period": (
        ("team", "service", "category"),
        "measure, problem_count, mean_minutes / 60.0 as mean_hours, "
        "median_minutes / 60.0 as median_hours, p90_minutes / 60.0 as p90_hours",
    ),
    "problem_incidents_per_period": (
        ("service", "category"),
        "opened_count, linked_count, known_error_at_open_count, recurrence_count, linked_share, "
        "known_error_share",
    ),
    "knowledge_use_per_period": (
        ("team", "service", "category"),
        "resolved_count, with_article_count, with_article_share, "
        "with_article_mean_minutes / 60.0 as with_article_mean_hours, "
        "without_article_mean_minutes / 60.0 as without_article_mean_hours, "
        "with_article_median_minutes / 60.0 as with_article_median_hours, "
        "without_article_median_minutes / 60.0 as without_article_median_hours",
    ),
}


def slice_of(mart: str, filters: Any) -> tuple[str, str]:
    """The (slice_by, slice_value) of ``mart`` the sidebar selects: the first chosen dimension
    the mart is sliced by, else the whole."""
    for dimension in ROLLUPS[mart][0]:
        if filters.value(dimension) is not None:
            return dimension, filters.value(dimension)
    return "all", "all"


def rollup(mart: str, filters: Any) -> pd.DataFrame:
    """One row per period (and measure) of the range, for the sidebar's slice."""
    by, value = slice_of(mart, filters)
    frame = read(
        f"""
        select period_start, {ROLLUPS[mart][1]}
        from {SCHEMA}.{mart}
        where period_grain = :grain and period_start between :first and :last
            and slice_by = :slice_by and slice_value = :slice_value
        order by period_start
        """,
        grain=filters.grain,
        first=period_start(filters.start, filters.grain),
        last=period_start(filters.end, filters.grain),
        slice_by=by,
        slice_value=value,
    )
    frame["period_start"] = pd.to_datetime(frame["period_start"])
    return frame


def _link(frame: pd.DataFrame, path: str) -> pd.DataFrame:
    base = get_settings().api_base_url.rstrip("/")
    frame.insert(2, "api_url", [f"{base}{path}{record}" for record in frame.iloc[:, 0]])
    return frame


PROBLEMS_SQL = f"""
select
    problem_id, problem_number, title, state, priority_label, team_name, service_name, category,
    root_cause_category, is_known_error, opened_at, resolved_at,
    minutes_to_root_cause / 60.0 as hours_to_root_cause, minutes_to_fix / 60.0 as hours_to_fix,
    linked_incident_count, open_linked_incident_count, known_error_incident_count,
    recurrence_count
from {SCHEMA}.fct_problems
where (opened_date between :start and :end or resolved_date between :start and :end
       or (is_open and opened_date <= :end))
    and (cast(:team as text) is null or team_name = :team)
    and (cast(:service as text) is null or service_name = :service)
    and (cast(:category as text) is null or category = :category)
order by opened_at desc
limit 500
"""


def problems(filters: Any) -> pd.DataFrame:
    """Problems opened or resolved in the range, or open during it."""
    frame = read(
        PROBLEMS_SQL,
        start=filters.start,
        end=filters.end,
        team=filters.value("team"),
        service=filters.value("service"),
        category=filters.value("category"),
    )
    return _link(frame, "/api/v1/problems/")


PROBLEM_INCIDENTS_SQL = f"""
select
    links.incident_id, links.incident_number, links.title, links.opened_at, links.state,
    links.had_known_error_at_open, links.is_recurrence, links.service_name, links.category,
    links.configuration_item
from {SCHEMA}.fct_problem_links as links
where links.problem_id = :problem_id
order by links.opened_at
"""


def problem_incidents(problem_id: int) -> pd.DataFrame:
    """The incidents linked to one problem."""
    return _link(read(PROBLEM_INCIDENTS_SQL, problem_id=problem_id), "/api/v1/incidents/")


ARTICLE_LISTS = {
    "most_used": "is_published order by use_count desc, helpful_count desc, article_number",
    "out_of_date": "is_out_of_date order by review_due_at, article_number",
    "never_used": "is_never_used order by first_published_at, article_number",
    "least_helpful": "is_published and helpful_ratio is not null "
    "order by helpful_ratio, not_helpful_count desc, article_number",
}


def articles(which: str, filters: Any) -> pd.DataFrame:
    """One of the article lists (ARTICLE_LISTS), for the sidebar's service and category."""
    condition, _, order = ARTICLE_LISTS[which].partition(" order by ")
    frame = read(
        f"""
        select
            article_id, article_number, title, category, service_name, audience, language,
            current_version, last_published_at, review_due_at, use_count, resolution_count,
            helpful_count, not_helpful_count, helpful_ratio
        from {SCHEMA}.fct_knowledge_articles
        where {condition}
            and (cast(:service as text) is null or service_name = :service)
            and (cast(:category as text) is null or category = :category)
        order by {order}
        limit 200
        """,
        service=filters.value("service"),
        category=filters.value("category"),
    )
    return _link(frame, "/api/v1/knowledge/articles/")
