"""Materialize every asset once, in this process (``itsm pipelines run`` and the tests)."""

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import dagster as dg


@dataclass
class CheckOutcome:
    asset: str
    name: str
    passed: bool
    severity: str


@dataclass
class RunSummary:
    run_id: str
    success: bool
    seconds: float
    materialized: dict[str, dict[str, Any]] = field(default_factory=dict)
    planned: list[str] = field(default_factory=list)
    checks: list[CheckOutcome] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def not_materialized(self) -> list[str]:
        return [key for key in self.planned if key not in self.materialized]

    def materialized_per_group(self) -> Counter[str]:
        return Counter(key.split("/")[0] for key in self.materialized)

    @property
    def failed_checks(self) -> list[CheckOutcome]:
        return [check for check in self.checks if not check.passed]


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)


def _root_cause(error: Any) -> str:
    """The innermost error's message: Dagster wraps the asset's own exception."""
    if error is None:
        return "failed"
    while error.cause is not None:
        error = error.cause
    return error.message.strip().splitlines()[0]


def materialize_everything(
    *,
    instance: dg.DagsterInstance,
    log_level: str = "WARNING",
    defs: dg.Definitions | None = None,
    full_refresh: bool = False,
) -> RunSummary:
    """Run the implicit job of every asset (inbox import, dbt build, exports) and its checks;
    ``full_refresh`` rebuilds the incremental models from all history."""
    if defs is None:
        from pipelines.definitions import defs
    job = defs.resolve_implicit_global_asset_job_def()
    started = time.monotonic()
    result = job.execute_in_process(
        instance=instance,
        raise_on_error=False,
        run_config={
            "loggers": {"console": {"config": {"log_level": log_level}}},
            "ops": {"itsm_dbt_models": {"config": {"full_refresh": full_refresh}}},
        },
    )
    summary = RunSummary(
        run_id=result.run_id, success=result.success, seconds=time.monotonic() - started
    )
    summary.planned = sorted(key.to_user_string() for key in job.asset_layer.selected_asset_keys)
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        summary.materialized[materialization.asset_key.to_user_string()] = {
            name: _plain(value) for name, value in materialization.metadata.items()
        }
    for evaluation in result.get_asset_check_evaluations():
        summary.checks.append(
            CheckOutcome(
                asset=evaluation.asset_key.to_user_string(),
                name=evaluation.check_name,
                passed=evaluation.passed,
                severity=evaluation.severity.value,
            )
        )
    for event in result.get_step_failure_events():
        summary.failures.append(f"{event.step_key}: {_root_cause(event.step_failure_data.error)}")
    return summary
