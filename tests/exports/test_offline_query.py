"""Auditors query an export's Parquet files offline with duckdb (``itsm exports query``)."""

from typer.testing import CliRunner

from operational.cli import app
from operational.exports import offline, service
from tests.exports.conftest import PERIOD


def _export(session, tmp_path):
    export = service.create_export(
        session=session,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
        directory=tmp_path,
        generated_by="test",
    )
    return tmp_path / export.folder


def test_each_mart_is_a_view_of_its_parquet_file(session, compliance_marts, tmp_path):
    folder = _export(session, tmp_path)
    counts = offline.query(
        folder,
        "select target_type, count(*) as breaches from sla_breach_register"
        " group by target_type order by target_type",
    )
    # The two breaches inside October (conftest's MART_ROWS): one of each target.
    assert counts.rows() == [("resolution", 1), ("response", 1)]
    approvals = offline.query(folder, "select count(*) from request_approval_evidence")
    assert approvals.item() == compliance_marts["request_approval_evidence"]


def test_the_command_prints_csv_and_refuses_a_tampered_export(session, compliance_marts, tmp_path):
    folder = _export(session, tmp_path)
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["exports", "query", str(folder), "select incident_number from sla_breach_register"
         " order by 1", "--csv"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["incident_number", "INC0000002", "INC0000003"]

    bad_sql = runner.invoke(app, ["exports", "query", str(folder), "select * from nowhere"])
    assert bad_sql.exit_code == 1 and "The query failed" in bad_sql.output

    (folder / "sla_breach_register.csv").write_text("tampered\n")
    refused = runner.invoke(app, ["exports", "query", str(folder), "select 1"])
    assert refused.exit_code == 1 and "does not verify" in refused.output
