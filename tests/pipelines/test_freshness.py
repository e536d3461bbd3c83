"""The marts' freshness policies, evaluated as ``dagster-daemon`` evaluates them.

Dagster's own FreshnessDaemon runs over our ``defs``, loaded as ``workspace.yaml`` loads them,
against a real instance configured like our DAGSTER_HOME. Old materializations are stored in the
event log with their own timestamps, so no clock is patched. The states are read back where the
UI reads them: the asset nodes' ``freshnessStatusInfo`` in Dagster's GraphQL API.
"""

import sys
import time
from collections.abc import Iterator

import dagster as dg
import pytest
from dagster._core.definitions.freshness import FreshnessState, FreshnessStateChange
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.instance.utils import RUNLESS_JOB_NAME, RUNLESS_RUN_ID
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import create_test_daemon_workspace_context
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.freshness import FreshnessDaemon
from dagster_graphql.test.utils import execute_dagster_graphql

from pipelines.environment import REPOSITORY_ROOT, prepare_dagster_home

UI_FRESHNESS = """
query ($keys: [AssetKeyInput!]) {
  assetNodes(assetKeys: $keys) {
    assetKey { path }
    freshnessStatusInfo { freshnessStatus }
  }
}
"""


@pytest.fixture
def instance(tmp_path) -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.from_config(str(prepare_dagster_home(tmp_path))) as instance:
        yield instance


@pytest.fixture
def workspace(defs, instance) -> Iterator[WorkspaceProcessContext]:
    # In process, the module import returns the ``defs`` the fixture loaded.
    origin = LoadableTargetOrigin(
        executable_path=sys.executable,
        module_name="pipelines.definitions",
        attribute="defs",
        working_directory=str(REPOSITORY_ROOT),
    )
    target = InProcessWorkspaceLoadTarget(InProcessCodeLocationOrigin(origin, location_name="itsm"))
    with create_test_daemon_workspace_context(target, instance) as context:
        yield context


@pytest.fixture
def marts(defs) -> list[dg.AssetKey]:
    graph = defs.resolve_asset_graph()
    return sorted(key for key in graph.get_all_asset_keys() if key.path[0] == "marts")


def materialized(instance: dg.DagsterInstance, key: dg.AssetKey, *, minutes_ago: float) -> None:
    """Store a materialization of ``key`` as if it had happened ``minutes_ago``."""
    event = DagsterEvent(
        event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value,
        event_specific_data=StepMaterializationData(dg.AssetMaterialization(key)),
        job_name=RUNLESS_JOB_NAME,
    )
    instance.report_dagster_event(
        event, run_id=RUNLESS_RUN_ID, timestamp=time.time() - minutes_ago * 60
    )


def evaluate_freshness(workspace: WorkspaceProcessContext) -> None:
    """One iteration of the daemon that ``dagster-daemon run`` starts."""
    list(FreshnessDaemon().run_iteration(workspace))


def daemon_states(instance, keys) -> dict[dg.AssetKey, FreshnessState]:
    records = instance.get_freshness_state_records(keys)
    return {key: records[key].freshness_state for key in keys if key in records}


def ui_states(workspace, keys) -> dict[dg.AssetKey, str]:
    variables = {"keys": [{"path": key.path} for key in keys]}
    result = execute_dagster_graphql(workspace.create_request_context(), UI_FRESHNESS, variables)
    return {
        dg.AssetKey(node["assetKey"]["path"]): node["freshnessStatusInfo"]["freshnessStatus"]
        for node in result.data["assetNodes"]
    }


def test_our_instance_runs_the_freshness_daemon(instance):
    assert FreshnessDaemon.daemon_type() in instance.get_required_daemon_types()


def test_marts_that_fall_behind_warn_then_fail(instance, workspace, marts):
    from pipelines.defs.dbt import REFRESH_MINUTES

    assert len(marts) >= 5
    never, fresh, one_missed, warn, fail = marts[:5]
    materialized(instance, fresh, minutes_ago=0)
    materialized(instance, one_missed, minutes_ago=1.5 * REFRESH_MINUTES)
    materialized(instance, warn, minutes_ago=2.5 * REFRESH_MINUTES)
    materialized(instance, fail, minutes_ago=3.5 * REFRESH_MINUTES)
    # A stale staging model is no alarm: only marts carry a policy.
    staging = dg.AssetKey(["staging", "stg_operational__incidents"])
    materialized(instance, staging, minutes_ago=10 * REFRESH_MINUTES)

    evaluate_freshness(workspace)

    expected = {
        never: FreshnessState.UNKNOWN,
        fresh: FreshnessState.PASS,
        one_missed: FreshnessState.PASS,
        warn: FreshnessState.WARN,
        fail: FreshnessState.FAIL,
    }
    assert daemon_states(instance, [*expected, staging]) == {
        **expected,
        staging: FreshnessState.NOT_APPLICABLE,
    }
    # Every mart has a state, none left unevaluated.
    assert set(daemon_states(instance, marts)) == set(marts)
    assert ui_states(workspace, list(expected)) == {
        never: "UNKNOWN",
        fresh: "HEALTHY",
        one_missed: "HEALTHY",
        warn: "WARNING",
        fail: "DEGRADED",
    }


def test_a_failing_mart_passes_again_once_refreshed(instance, workspace, marts):
    from pipelines.defs.dbt import REFRESH_MINUTES

    mart = marts[0]
    materialized(instance, mart, minutes_ago=4 * REFRESH_MINUTES)
    evaluate_freshness(workspace)
    assert daemon_states(instance, [mart]) == {mart: FreshnessState.FAIL}

    materialized(instance, mart, minutes_ago=0)
    evaluate_freshness(workspace)
    assert daemon_states(instance, [mart]) == {mart: FreshnessState.PASS}

    # The daemon's state changes stay in the event log: the history behind the UI's state.
    changes = [
        entry.dagster_event.event_specific_data
        for entry in instance.all_logs(RUNLESS_RUN_ID, DagsterEventType.FRESHNESS_STATE_CHANGE)
    ]
    assert [
        (change.previous_state, change.new_state)
        for change in changes
        if isinstance(change, FreshnessStateChange) and change.key == mart
    ] == [
        (FreshnessState.UNKNOWN, FreshnessState.FAIL),
        (FreshnessState.FAIL, FreshnessState.PASS),
    ]
