"""The inbox: files dropped in ``ITSM_HOME/inbox/<source>/`` are imported by ``ingest/``.

A sensor notices waiting files and launches the ``operational`` asset, whose materialization
imports them (each file is then moved aside with its report by ``ingest.inbox``). The asset
stands for the operational schema as a whole, which dbt reads: the API writes it continuously,
the inbox import in batches.
"""

import hashlib

import dagster as dg

from ingest import inbox
from pipelines.defs.dbt import OPERATIONAL_KEY
from pipelines.resources import ItsmResource


@dg.asset(
    key=OPERATIONAL_KEY,
    group_name="operational",
    kinds={"postgres", "python"},
    description=__doc__,
)
def operational(context: dg.AssetExecutionContext, itsm: ItsmResource) -> dg.MaterializeResult:
    with itsm.engine() as engine:
        results = inbox.process_inbox(itsm.home_path, engine=engine)
    for result in results:
        if result.succeeded:
            context.log.info(f"imported {result.file.name} ({result.source}): {result.summary}")
        else:
            context.log.warning(f"could not import {result.file}: {result.error}")
    failed = [str(result.file) for result in results if not result.succeeded]
    return dg.MaterializeResult(
        metadata={
            "files_imported": sum(result.succeeded for result in results),
            "files_failed": len(failed),
            "failed_files": failed,
            "reports": [str(result.report) for result in results],
        }
    )


inbox_job = dg.define_asset_job(
    "import_inbox",
    selection=dg.AssetSelection.assets(operational),
    description="Import the files waiting in the inbox.",
)


@dg.sensor(
    job=inbox_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches the import when files wait in ITSM_HOME/inbox/<source>/.",
)
def inbox_sensor(context: dg.SensorEvaluationContext, itsm: ItsmResource):
    files = [path for _, path in inbox.pending_files(itsm.home_path)]
    if not files:
        return dg.SkipReason("The inbox is empty")
    # The same files (same names, sizes and times) launch one run, however often we look.
    fingerprint = hashlib.sha256()
    for path in files:
        stat = path.stat()
        fingerprint.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return dg.RunRequest(
        run_key=fingerprint.hexdigest(),
        tags={"itsm/inbox_files": str(len(files))},
    )


defs = dg.Definitions(assets=[operational], jobs=[inbox_job], sensors=[inbox_sensor])
