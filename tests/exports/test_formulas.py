"""No user-written cell of a compliance export reaches a spreadsheet as a formula.

A title and a display name that start a formula arrive in the CSV and the workbook as text
(escaped with a leading apostrophe); the Parquet file keeps them as they were written, and
numbers, negative ones included, stay numbers everywhere.
"""

import polars as pl
import pytest
from sqlalchemy import text

from operational.core.spreadsheets import escape_cell, escape_frame
from operational.exports import service
from tests.exports.conftest import MART_ROWS, PERIOD
from tests.spreadsheets import FORMULA, csv_rows, xlsx_cells

TITLE = FORMULA
NAME = "@SUM(1+1)*cmd|' /C calc'!A0"


@pytest.fixture
def planted_marts(session):
    """The stand-in marts, with a user-written title and display name that start formulas."""
    rows = dict(MART_ROWS)
    rows["sla_breach_register"] = (
        "incident_number text, title text, hours_over_target numeric, breached_date date",
        [
            f"('INC0000002', $t${TITLE}$t$, -2.5, '2026-10-01')",
            "('INC0000003', '-1 day late', 3, '2026-10-31')",
        ],
    )
    rows["access_review"] = (
        "email text, display_name text, roles text, logins bigint",
        [f"('eve@example.com', $n${NAME}$n$, 'agent', -1)"],
    )
    schemas = {mart.name: mart.schema for mart in service.COMPLIANCE_MARTS}
    for name, (columns, values) in rows.items():
        session.execute(text(f"create schema if not exists {schemas[name]}"))
        session.execute(text(f"create table {schemas[name]}.{name} ({columns})"))
        session.execute(text(f"insert into {schemas[name]}.{name} values {', '.join(values)}"))
    session.flush()


def test_text_that_starts_a_formula_arrives_as_text_and_numbers_stay_numbers(
    session, planted_marts, tmp_path
):
    export = service.create_export(
        session=session,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
        directory=tmp_path,
        generated_by="test",
    )
    folder = tmp_path / export.folder

    breaches = csv_rows((folder / "sla_breach_register.csv").read_bytes())
    assert [row["title"] for row in breaches] == ["'" + TITLE, "'-1 day late"]
    assert [row["hours_over_target"] for row in breaches] == ["-2.5", "3.0"]
    (reviewed,) = csv_rows((folder / "access_review.csv").read_bytes())
    assert reviewed["display_name"] == "'" + NAME
    assert reviewed["logins"] == "-1"

    sheets = xlsx_cells(folder / service.WORKBOOK_NAME)
    cells = [cell for sheet in sheets.values() for row in sheet for cell in row]
    assert not [cell for cell in cells if cell[0] == "formula"]
    _header, first, second = sheets["SLA breaches"]
    assert first[1] == ("text", "'" + TITLE) and first[2] == ("number", "-2.5")
    assert second[1] == ("text", "'-1 day late")
    assert sheets["Access review"][1][1] == ("text", "'" + NAME)
    assert sheets["Access review"][1][3] == ("number", "-1")

    # Parquet is typed data for analysts' tools: values as written.
    parquet = pl.read_parquet(folder / "sla_breach_register.parquet")
    assert parquet["title"].to_list() == [TITLE, "-1 day late"]
    assert service.verify_folder(folder) == []


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_each_formula_prefix_is_escaped_in_cells_and_frames(prefix):
    value = f"{prefix}1+2"
    assert escape_cell(value) == "'" + value
    frame = escape_frame(pl.DataFrame({"text": [value, "plain", None], "number": [-1, 2, 3]}))
    assert frame.to_dicts() == [
        {"text": "'" + value, "number": -1},
        {"text": "plain", "number": 2},
        {"text": None, "number": 3},
    ]


@pytest.mark.parametrize("value", [-3, -2.5, 0, None, True, " =1", "a=1", ""])
def test_numbers_and_text_that_does_not_start_a_formula_are_left_alone(value):
    assert escape_cell(value) == value
