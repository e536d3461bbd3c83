"""Compliance exports for auditors: yesterday's every day, last month's on the first.

The work is ``operational.exports.service.create_export``; each materialization writes a new
export folder under ``ITSM_HOME/exports/`` (a re-run for the same period is a new version).
"""

from datetime import UTC, date, datetime

import dagster as dg

from operational.exports import service
from pipelines.resources import ItsmResource

COMPLIANCE_MART_KEYS = [dg.AssetKey([mart.schema, mart.name]) for mart in service.COMPLIANCE_MARTS]


class ExportPeriod(dg.Config):
    """Leave both empty for the default period; or give both days (inclusive, YYYY-MM-DD)."""

    start: str | None = None
    end: str | None = None


def _period(config: ExportPeriod, default: tuple[date, date]) -> tuple[date, date]:
    if config.start is None and config.end is None:
        return default
    if config.start is None or config.end is None:
        raise dg.Failure("Give both start and end of the export period, or neither")
    return date.fromisoformat(config.start), date.fromisoformat(config.end)


def _export(
    context: dg.AssetExecutionContext, itsm: ItsmResource, period: tuple[date, date]
) -> dg.MaterializeResult:
    with itsm.session() as session:
        export = service.create_export(
            session=session,
            period_start=period[0],
            period_end=period[1],
            directory=service.exports_dir(itsm.settings()),
            generated_by=f"dagster run {context.run.run_id}",
        )
        folder = service.folder_of(export=export, directory=service.exports_dir(itsm.settings()))
        metadata = {
            "export_id": export.id,
            "period": f"{export.period_start} .. {export.period_end}",
            "version": export.version,
            "folder": dg.MetadataValue.path(str(folder)),
            "manifest_sha256": export.manifest_sha256,
            **{
                f"rows/{file.mart}": file.row_count for file in export.files if file.format == "csv"
            },
        }
    return dg.MaterializeResult(metadata=metadata)


def _today() -> date:
    return datetime.now(UTC).date()


@dg.asset(
    key=["exports", "daily_compliance_export"],
    deps=COMPLIANCE_MART_KEYS,
    group_name="exports",
    kinds={"csv", "parquet", "xlsx"},
)
def daily_compliance_export(
    context: dg.AssetExecutionContext, itsm: ItsmResource, config: ExportPeriod
) -> dg.MaterializeResult:
    """Yesterday's compliance marts (UTC days) for auditors."""
    return _export(context, itsm, _period(config, service.previous_day(_today())))


@dg.asset(
    key=["exports", "monthly_compliance_export"],
    deps=COMPLIANCE_MART_KEYS,
    group_name="exports",
    kinds={"csv", "parquet", "xlsx"},
)
def monthly_compliance_export(
    context: dg.AssetExecutionContext, itsm: ItsmResource, config: ExportPeriod
) -> dg.MaterializeResult:
    """Last calendar month's compliance marts (UTC) for auditors."""
    return _export(context, itsm, _period(config, service.previous_month(_today())))


daily_export_job = dg.define_asset_job(
    "daily_compliance_export", selection=dg.AssetSelection.assets(daily_compliance_export)
)
monthly_export_job = dg.define_asset_job(
    "monthly_compliance_export", selection=dg.AssetSelection.assets(monthly_compliance_export)
)

defs = dg.Definitions(
    assets=[daily_compliance_export, monthly_compliance_export],
    jobs=[daily_export_job, monthly_export_job],
    schedules=[
        dg.ScheduleDefinition(
            name="daily_compliance_export_schedule",
            job=daily_export_job,
            cron_schedule="30 1 * * *",
            execution_timezone="UTC",
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description="Yesterday's export, every day at 01:30 UTC.",
        ),
        dg.ScheduleDefinition(
            name="monthly_compliance_export_schedule",
            job=monthly_export_job,
            cron_schedule="0 2 1 * *",
            execution_timezone="UTC",
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description="Last month's export, on the first of each month at 02:00 UTC.",
        ),
    ],
)
