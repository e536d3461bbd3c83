-- Import runs, renamed. One row per file imported (or dry-run).
select
    id as import_run_id,
    source as import_source,
    source_system,
    file_name,
    file_sha256,
    dry_run as is_dry_run,
    status as import_status,
    started_at,
    finished_at,
    rows_read,
    loaded as rows_loaded,
    updated as rows_updated,
    rejected as rows_rejected,
    skipped as rows_skipped,
    error
from {{ source('operational', 'import_runs') }}
