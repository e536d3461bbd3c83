import subprocess
import sys

import dagster as dg
import yaml

from operational.exports.service import COMPLIANCE_MARTS
from pipelines.defs.ingestion import inbox_sensor
from pipelines.environment import REPOSITORY_ROOT, prepare_dagster_home
from pipelines.resources import ItsmResource


def test_defs_load_with_lineage_from_inbox_to_exports(defs):
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {"operational", "marts/fct_incidents", "marts/mttr_per_period"} <= keys
    assert {"exports/daily_compliance_export", "exports/monthly_compliance_export"} <= keys

    # The inbox import comes before every staging model that reads the operational schema.
    staging = [key for key in graph.get_all_asset_keys() if key.path[0] == "staging"]
    assert staging and all(
        dg.AssetKey("operational") in graph.get(key).parent_keys for key in staging
    )
    # Each export depends on every compliance mart, which dbt builds.
    for export in ("daily_compliance_export", "monthly_compliance_export"):
        parents = graph.get(dg.AssetKey(["exports", export])).parent_keys
        assert parents == {dg.AssetKey([mart.schema, mart.name]) for mart in COMPLIANCE_MARTS}
        assert all(graph.get(parent).is_materializable for parent in parents)


def test_dbt_tests_are_asset_checks_and_marts_have_freshness(defs):
    graph = defs.resolve_asset_graph()
    checks = {key for key in graph.asset_check_keys}
    fct_checks = {check.name for check in checks if check.asset_key.path[-1] == "fct_incidents"}
    assert any(name.startswith("covers_every_fct_incidents") for name in fct_checks)

    marts = [key for key in graph.get_all_asset_keys() if key.path[0] in ("marts", "personal")]
    assert dg.AssetKey(["personal", "access_review"]) in marts
    assert marts and all(graph.get(key).freshness_policy is not None for key in marts)
    staging = [key for key in graph.get_all_asset_keys() if key.path[0] == "staging"]
    assert all(graph.get(key).freshness_policy is None for key in staging)


def test_schedules_and_sensor_run_without_a_click(defs):
    schedules = {schedule.name: schedule for schedule in defs.schedules}
    assert schedules["refresh_marts_schedule"].cron_schedule == "*/15 * * * *"
    assert schedules["daily_compliance_export_schedule"].cron_schedule == "30 1 * * *"
    assert schedules["monthly_compliance_export_schedule"].cron_schedule == "0 2 1 * *"
    assert all(
        schedule.default_status == dg.DefaultScheduleStatus.RUNNING
        for schedule in schedules.values()
    )
    assert inbox_sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_refresh_interval_comes_from_the_environment(defs):
    program = (
        "from pipelines.definitions import defs;"
        "print(defs.resolve_schedule_def('refresh_marts_schedule').cron_schedule)"
    )
    environment = {**__import__("os").environ, "ITSM_MARTS_REFRESH_MINUTES": "5"}
    completed = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", program],
        env=environment,
        cwd=REPOSITORY_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert completed.stdout.strip().splitlines()[-1] == "*/5 * * * *"


def test_inbox_sensor_launches_one_run_per_set_of_waiting_files(tmp_path):
    resource = ItsmResource(home=str(tmp_path), database_url="postgresql://unused/db")

    def evaluate():
        return inbox_sensor(dg.build_sensor_context(resources={"itsm": resource}))

    assert isinstance(evaluate(), dg.SkipReason)
    source = tmp_path / "inbox" / "servicenow-audit"
    source.mkdir(parents=True)
    (source / ".partial-upload").write_text("ignored: hidden")
    (source / "mapping.yaml").write_text("ignored: a mapping, not data")
    assert isinstance(evaluate(), dg.SkipReason)

    (source / "export.csv").write_text("number\n")
    first = evaluate()
    assert isinstance(first, dg.RunRequest)
    assert first.tags["itsm/inbox_files"] == "1"
    assert evaluate().run_key == first.run_key  # looking again launches nothing new

    (tmp_path / "inbox" / "jira").mkdir()
    (tmp_path / "inbox" / "jira" / "issues.json").write_text("[]")
    second = evaluate()
    assert second.run_key != first.run_key and second.tags["itsm/inbox_files"] == "2"


def test_dagster_home_keeps_telemetry_off(tmp_path):
    home = prepare_dagster_home(tmp_path)
    assert yaml.safe_load((home / "dagster.yaml").read_text())["telemetry"] == {"enabled": False}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.telemetry_enabled is False
