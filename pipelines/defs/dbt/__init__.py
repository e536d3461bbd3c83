"""The dbt project as Dagster assets: every model an asset, every dbt test an asset check.

Asset keys follow the schema: ``staging/...``, ``intermediate/...``, ``marts/...`` and
``personal/...`` (the marts with personal data, for auditors). All the
operational tables that dbt reads are one upstream asset, ``operational`` (see the ingestion
concern), so a run orders the inbox import before the models.
"""

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from operational.core.config import get_settings
from pipelines.project import DBT_EXECUTABLE, dbt_project, ensure_manifest
from pipelines.resources import ItsmResource

OPERATIONAL_KEY = dg.AssetKey("operational")
# The marts: the analysts' and the auditors' (personal data). Both carry a freshness policy.
MART_SCHEMAS = ("marts", "personal")


class ItsmDbtTranslator(DagsterDbtTranslator):
    """Keys by schema, groups by schema, and a freshness policy on every mart."""

    def __init__(self, marts_freshness: dg.FreshnessPolicy):
        super().__init__(
            # A test on a source would be a check on ``operational`` (there are none: the
            # operational schema enforces its own keys, named in the staging models' YAML).
            settings=DagsterDbtTranslatorSettings(
                enable_duplicate_source_asset_keys=True, enable_source_tests_as_checks=True
            )
        )
        self.marts_freshness = marts_freshness

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return OPERATIONAL_KEY
        return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return dbt_resource_props.get("schema")

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if spec.key.path[0] in MART_SCHEMAS:
            return spec.replace_attributes(freshness_policy=self.marts_freshness)
        return spec


def every_minutes_cron(minutes: int) -> str:
    """Every ``minutes`` past the hour (a cron step), or every ``minutes // 60`` hours."""
    if minutes < 60:
        return f"*/{minutes} * * * *"
    return f"0 */{minutes // 60} * * *"


REFRESH_MINUTES = get_settings().marts_refresh_minutes
# Dagster's freshness daemon marks a mart WARN after two missed refreshes and FAIL after three.
MARTS_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(minutes=3 * REFRESH_MINUTES),
    warn_window=timedelta(minutes=2 * REFRESH_MINUTES),
)
TRANSLATOR = ItsmDbtTranslator(MARTS_FRESHNESS)

DBT_PROJECT: DbtProject = dbt_project()
ensure_manifest(DBT_PROJECT)


class DbtBuildConfig(dg.Config):
    """Launchpad options of the dbt build."""

    full_refresh: bool = False
    """Rebuild every incremental model from all history (after a change of definition, or an
    upgrade whose models changed their keys or indexes); a refresh adds only what is new."""


@dbt_assets(
    manifest=DBT_PROJECT.manifest_path, project=DBT_PROJECT, dagster_dbt_translator=TRANSLATOR
)
def itsm_dbt_models(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    itsm: ItsmResource,
    config: DbtBuildConfig,
):
    """``dbt build`` of the selected models: runs them and their data tests (asset checks).
    The unit tests check the models' SQL, not the data: CI runs them, not every refresh."""
    arguments = ["build", "--exclude-resource-type", "unit_test"]
    if config.full_refresh:
        arguments.append("--full-refresh")
    with itsm.dbt_connection():
        invocation = dbt.cli(arguments, context=context, raise_on_error=True)
    yield from invocation.stream()


def mart_keys() -> list[dg.AssetKey]:
    return [key for key in itsm_dbt_models.keys if key.path[0] in MART_SCHEMAS]


refresh_marts_job = dg.define_asset_job(
    "refresh_marts",
    selection=dg.AssetSelection.assets(itsm_dbt_models),
    description="dbt build of every model: incremental models add only what is new.",
)

refresh_marts_schedule = dg.ScheduleDefinition(
    name="refresh_marts_schedule",
    job=refresh_marts_job,
    cron_schedule=every_minutes_cron(REFRESH_MINUTES),
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=f"Refresh the marts every {REFRESH_MINUTES} minutes (ITSM_MARTS_REFRESH_MINUTES).",
)

defs = dg.Definitions(
    assets=[itsm_dbt_models],
    jobs=[refresh_marts_job],
    schedules=[refresh_marts_schedule],
    resources={"dbt": DbtCliResource(project_dir=DBT_PROJECT, dbt_executable=DBT_EXECUTABLE)},
)
