"""Auditors' SQL over a compliance export, offline: duckdb reads the export's Parquet files in
place (no database, no copy), each as a view named after its mart."""

from pathlib import Path

import duckdb
import polars as pl

from operational.core.errors import BadRequest
from operational.exports.service import verify_folder


def query(folder: Path, sql: str, *, verify: bool = True) -> pl.DataFrame:
    """Run ``sql`` over the export in ``folder``; each ``<mart>.parquet`` is the view ``<mart>``.

    The folder is first checked against its manifest (a tampered export is refused), unless
    ``verify`` is false."""
    if not folder.is_dir():
        raise BadRequest(f"{folder} is not an export folder")
    if verify and (problems := verify_folder(folder)):
        raise BadRequest(f"The export does not verify: {'; '.join(problems)}")
    connection = duckdb.connect(":memory:")
    try:
        for parquet in sorted(folder.glob("*.parquet")):
            path = str(parquet).replace("'", "''")
            connection.execute(
                f"create view \"{parquet.stem}\" as select * from read_parquet('{path}')"
            )
        try:
            result = connection.execute(sql)
        except duckdb.Error as error:
            raise BadRequest(f"The query failed: {error}") from None
        columns = [column[0] for column in result.description or []]
        rows = result.fetchall()
    finally:
        connection.close()
    return pl.DataFrame(rows, schema=columns, orient="row", infer_schema_length=None)
