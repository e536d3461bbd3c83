import json
import subprocess
import zipfile
from datetime import date
from importlib.metadata import version

import polars as pl
import pytest

from operational.core.errors import Conflict
from operational.exports import service
from tests.exports.conftest import PERIOD

AUDIT_FILES = {
    "audit_events.jsonl",
    "audit_chain_starts.jsonl",
    "audit_seal.json",
    "audit_seal_heads.jsonl",
    "verify_audit.py",
}
# Each export makes a new seal of the event log: these differ from one run to the next.
SEALED_FILES = {"manifest.json", "audit_seal.json", "audit_seal_heads.jsonl"}


def test_export_holds_each_mart_as_csv_parquet_and_one_workbook(
    session, compliance_marts, tmp_path
):
    export = service.create_export(
        session=session,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
        directory=tmp_path,
        generated_by="test",
    )

    folder = tmp_path / "2026-10-01_2026-10-31_v1"
    assert export.folder == folder.name and export.version == 1
    expected_files = {f"{mart}.{ext}" for mart in compliance_marts for ext in ("csv", "parquet")}
    expected_files |= {"compliance.xlsx", "manifest.json", *AUDIT_FILES}
    assert {file.name for file in export.files} == expected_files
    assert {path.name for path in folder.iterdir()} == expected_files
    for mart, rows in compliance_marts.items():
        assert pl.read_csv(folder / f"{mart}.csv").height == rows
        assert pl.read_parquet(folder / f"{mart}.parquet").height == rows
    breaches = pl.read_parquet(folder / "sla_breach_register.parquet")
    assert sorted(breaches["incident_number"]) == ["INC0000002", "INC0000003"]

    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["period"] == {"start": "2026-10-01", "end": "2026-10-31"}
    assert manifest["version"] == 1
    assert manifest["generated_by"] == "test"
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=service.REPOSITORY_ROOT
    ).stdout.strip()
    assert manifest["definitions"]["git_commit"] == head == export.git_commit
    assert manifest["definitions"]["dbt_version"] == version("dbt-core")
    listed = {entry["name"]: entry for entry in manifest["files"]}
    assert set(listed) == expected_files - {"manifest.json"}
    assert listed["compliance.xlsx"]["sheets"] == {
        "SLA breaches": 2,
        "Change approvals": 1,
        "Access review": 3,
        "Audit trail": 2,
        "SLA source comparison": 1,
        "Request approvals": 2,
        "Source reconciliation": 2,
    }
    recorded = {file.name: file for file in export.files}
    for name, entry in listed.items():
        assert recorded[name].sha256 == entry["sha256"]
        assert recorded[name].row_count == entry["rows"]


def test_manifest_verifies_its_own_files_and_catches_tampering(session, compliance_marts, tmp_path):
    export = service.create_export(
        session=session,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
        directory=tmp_path,
        generated_by="test",
    )
    folder = tmp_path / export.folder
    assert service.verify_folder(folder) == []

    tampered = folder / "access_review.csv"
    tampered.chmod(0o644)
    tampered.write_text(tampered.read_text().replace("auditor@", "auditer@"))  # same size
    (folder / "notes.txt").write_text("added later")
    (folder / "compliance.xlsx").chmod(0o644)
    (folder / "compliance.xlsx").unlink()

    assert sorted(service.verify_folder(folder)) == [
        "access_review.csv: sha256 differs from the manifest",
        "compliance.xlsx: missing",
        "notes.txt: not listed in the manifest",
    ]


def test_rerun_for_the_same_period_makes_a_new_version_and_keeps_the_first(
    session, compliance_marts, tmp_path
):
    first = service.create_export(
        session=session,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
        directory=tmp_path,
        generated_by="test",
    )
    first_files = {file.name: file.sha256 for file in first.files}
    second = service.create_export(
        session=session,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
        directory=tmp_path,
        generated_by="test",
    )

    assert (first.version, second.version) == (1, 2)
    assert second.folder == "2026-10-01_2026-10-31_v2" != first.folder
    assert service.verify_folder(tmp_path / first.folder) == []
    assert {name: sha for name, sha in first_files.items() if name not in SEALED_FILES} == {
        file.name: file.sha256 for file in second.files if file.name not in SEALED_FILES
    }
    # Written once: the files are read-only.
    assert all(not path.stat().st_mode & 0o222 for path in (tmp_path / first.folder).iterdir())


def test_a_folder_left_by_a_rolled_back_export_keeps_its_version_number(
    session, compliance_marts, tmp_path
):
    (tmp_path / "2026-10-01_2026-10-31_v1").mkdir()
    export = service.create_export(
        session=session,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
        directory=tmp_path,
        generated_by="test",
    )
    assert export.version == 2


def test_export_needs_the_marts(session, tmp_path):
    with pytest.raises(Conflict) as refused:
        service.create_export(
            session=session,
            period_start=date(2026, 10, 1),
            period_end=date(2026, 10, 31),
            directory=tmp_path,
            generated_by="test",
        )
    assert "sla_breach_register" in refused.value.extra["missing"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("today", "day", "month"),
    [
        (date(2026, 11, 1), (date(2026, 10, 31),) * 2, (date(2026, 10, 1), date(2026, 10, 31))),
        (date(2026, 3, 15), (date(2026, 3, 14),) * 2, (date(2026, 2, 1), date(2026, 2, 28))),
        (date(2027, 1, 1), (date(2026, 12, 31),) * 2, (date(2026, 12, 1), date(2026, 12, 31))),
    ],
)
def test_scheduled_periods(today, day, month):
    assert service.previous_day(today) == day
    assert service.previous_month(today) == month


def test_the_workbook_is_dated_by_its_period_not_by_the_clock(session, compliance_marts, tmp_path):
    """Its created time is the period's end, so the same period exported twice gives the same
    bytes whichever second each export ran in."""
    export = service.create_export(
        session=session,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
        directory=tmp_path,
        generated_by="test",
    )
    workbook = tmp_path / export.folder / service.WORKBOOK_NAME
    with zipfile.ZipFile(workbook) as archive:
        core = archive.read("docProps/core.xml").decode()
    assert f">{PERIOD[1].isoformat()}T00:00:00Z</dcterms:created>" in core
