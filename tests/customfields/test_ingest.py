"""A generic mapping maps source columns to custom fields (custom_fields: {name: column}): the
values are typed by the definitions, a record with a value its field cannot hold is refused at
its line naming the field, and a re-import updates the values."""

import csv

import pytest
from sqlalchemy import text

from ingest import loader, sources
from ingest.exceptions import MappingError
from ingest.sources.csv_mapping import GenericMapping

INCIDENTS_CSV = """\
Number,Title,Status,Opened,Branch,Cost,Rooms,Owner,Due
T1,Badge reader broken,New,2026-03-02 09:00,Rotterdam,12.50,A;C,owner@example.com,2026-03-20
T2,Projector,New,2026-03-02 10:00,delft,,,,
T3,Printer,New,2026-03-02 11:00,Paris,abc,,,
T4,Scanner,New,2026-03-02 12:00,,,,,
"""
INCIDENTS_MAPPING = """\
entity: incidents
source_system: helpdesk
date_formats: ["%Y-%m-%d %H:%M"]
columns: {external_id: Number, title: Title, state: Status, opened_at: Opened}
values: {state: {New: new}}
custom_fields: {site: Branch, cost: Cost, rooms: Rooms, owner: Owner, due: Due}
"""


def refused(directory, name: str) -> list[tuple[str, str, str]]:
    with (directory / f"{name}.rejects.csv").open() as handle:
        return [(row["line"], row["reason"], row["detail"]) for row in csv.DictReader(handle)]


def stored(session, table: str = "incidents") -> dict[str, dict]:
    rows = session.execute(
        text(f"select external_id, custom_fields from operational.{table}")
    ).all()
    return dict(rows)


@pytest.fixture
def defined(fields, factory):
    fields.define("site", "choice")
    fields.define("cost", "decimal")
    fields.define("rooms", "multi_choice", allowed_values=["A", "B", "C"])
    fields.define("owner", "user")
    fields.define("due", "date")
    return factory.user(email="owner@example.com")


def _import(tmp_path, session, data: str, mapping: str = INCIDENTS_MAPPING):
    (tmp_path / "tickets.csv").write_text(data)
    (tmp_path / "mapping.yaml").write_text(mapping)
    parsed = sources.parse("generic", tmp_path / "tickets.csv", mapping=tmp_path / "mapping.yaml")
    rejects = tmp_path / "rejects"
    rejects.mkdir(exist_ok=True)
    return loader.load(parsed, engine=session.connection(), rejects_dir=rejects)


def test_mapped_columns_become_typed_custom_fields(tmp_path, session, defined):
    report = _import(tmp_path, session, INCIDENTS_CSV)
    assert report.counts["incidents"].refused == 1
    values = stored(session)
    assert values["T1"] == {
        "site": "Rotterdam",
        "cost": 12.5,
        "rooms": ["A", "C"],
        "owner": defined.id,  # by e-mail address
        "due": "2026-03-20",
    }
    assert values["T2"] == {"site": "Delft"}
    assert values["T4"] == {}
    assert "T3" not in values
    assert refused(tmp_path / "rejects", "tickets.csv") == [
        (
            "4",
            "invalid_custom_field",
            "cf.site: 'Paris' is not allowed; allowed: Rotterdam, Delft, Utrecht; "
            "cf.cost: must be a number",
        )
    ]


def test_a_reimport_updates_the_values_and_keeps_the_others(tmp_path, session, defined, fields):
    fields.define("asset_tag", "text")
    _import(tmp_path, session, INCIDENTS_CSV)
    session.execute(
        text(
            "update operational.incidents set custom_fields = custom_fields || "
            """'{"asset_tag": "A-1"}' where external_id = 'T2'"""
        )
    )
    again = INCIDENTS_CSV.replace(
        "T2,Projector,New,2026-03-02 10:00,delft", "T2,Projector,New,2026-03-02 10:00,Utrecht"
    )
    _import(tmp_path, session, again)
    assert stored(session)["T2"] == {"site": "Utrecht", "asset_tag": "A-1"}


def test_changes_map_custom_fields_too(tmp_path, session, fields):
    fields.define("vendor", "choice", record_type="change", allowed_values=["Acme", "Globex"])
    data = "Change,Title,Type,State,Vendor\nC1,Patch,normal,new,acme\n"
    mapping = (
        "entity: changes\nsource_system: legacy\n"
        "columns: {external_id: Change, title: Title, change_type: Type, state: State}\n"
        "custom_fields: {vendor: Vendor}\n"
    )
    _import(tmp_path, session, data, mapping)
    assert stored(session, "changes") == {"C1": {"vendor": "Acme"}}


@pytest.mark.parametrize(
    "custom_fields",
    [{"Site": "Branch"}, {"site": ["Branch"]}],
)
def test_a_mapping_names_fields_by_their_name(custom_fields):
    document = {
        "entity": "incidents",
        "source_system": "x",
        "columns": {"external_id": "Number", "state": "Status", "opened_at": "Opened"},
        "custom_fields": custom_fields,
    }
    with pytest.raises(MappingError):
        GenericMapping.from_dict(document)


def test_only_records_with_custom_fields_map_them():
    document = {
        "entity": "request_items",
        "source_system": "x",
        "columns": {"external_id": "Number"},
        "custom_fields": {"site": "Branch"},
    }
    with pytest.raises(MappingError, match="custom_fields"):
        GenericMapping.from_dict(document)
