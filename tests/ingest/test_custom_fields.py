"""Problems and requests from generic exports carry custom fields (custom_fields: {name: column}),
typed by the same definitions as the API: a record with a value its field cannot hold is
refused at its line naming the field, the good rows are loaded, and a re-import updates the
values without duplicating a record."""

import csv
from typing import Any

import pytest
from sqlalchemy import text

from ingest import loader, sources
from operational.customfields import service as custom_fields
from operational.customfields.schemas import DefinitionCreate

PROBLEMS_CSV = """\
Key,Title,Status,Opened,Vendor,Downtime,Since
P1,Disk failures,New,2026-03-02 09:00,acme,90,2026-03-01
P2,Slow VPN,New,2026-03-02 10:00,Initech,,
P3,Mail loops,New,2026-03-02 11:00,Globex,ten,2026-13-01
P4,Flaky DNS,New,2026-03-02 12:00,,,
"""
PROBLEMS_MAPPING = """\
entity: problems
source_system: legacy
date_formats: ["%Y-%m-%d %H:%M"]
columns: {external_id: Key, title: Title, state: Status, opened_at: Opened}
values: {state: {New: new}}
custom_fields: {vendor: Vendor, downtime_minutes: Downtime, since: Since}
"""
# R-3's state is not one the platform knows (a parse reject); R-2's cost centre is not allowed.
REQUESTS_CSV = """\
Id,Requester,State,Opened,CostCentre,Rooms
R-1,Rita Requester,Open,2026-03-02 09:00,delft,B;A
R-2,Rita Requester,Open,2026-03-02 10:00,Paris,A
R-3,Sam Self,Teleported,2026-03-02 11:00,Delft,
R-4,Sam Self,Open,2026-03-02 12:00,,
"""
REQUESTS_MAPPING = """\
entity: requests
source_system: shop
date_formats: ["%Y-%m-%d %H:%M"]
columns: {external_id: Id, number: Id, requester: Requester, state: State, opened_at: Opened}
values: {state: {Open: open}}
custom_fields: {cost_centre: CostCentre, rooms: Rooms}
"""


@pytest.fixture
def define(session, factory):
    admin = factory.user(roles=("admin",))

    def define(record_type: str, name: str, field_type: str, **fields: Any) -> None:
        custom_fields.create_definition(
            session=session,
            data=DefinitionCreate(
                record_type=record_type, name=name, label=name.title(), type=field_type, **fields
            ),
            actor=admin,
        )

    return define


@pytest.fixture
def problem_fields(define):
    define("problem", "vendor", "choice", allowed_values=["Acme", "Initech", "Globex"])
    define("problem", "downtime_minutes", "number")
    define("problem", "since", "date")


@pytest.fixture
def request_fields(define):
    define("request", "cost_centre", "choice", allowed_values=["Delft", "Utrecht"])
    define("request", "rooms", "multi_choice", allowed_values=["A", "B", "C"])


def _import(tmp_path, session, data: str, mapping: str):
    (tmp_path / "export.csv").write_text(data)
    (tmp_path / "mapping.yaml").write_text(mapping)
    parsed = sources.parse("generic", tmp_path / "export.csv", mapping=tmp_path / "mapping.yaml")
    rejects = tmp_path / "rejects"
    rejects.mkdir(exist_ok=True)
    return loader.load(parsed, engine=session.connection(), rejects_dir=rejects)


def _rejects(tmp_path) -> list[tuple[str, str, str]]:
    path = tmp_path / "rejects" / "export.csv.rejects.csv"
    with path.open() as handle:
        return [(row["line"], row["reason"], row["detail"]) for row in csv.DictReader(handle)]


def _stored(session, table: str) -> dict[str, Any]:
    return dict(
        session.execute(text(f"select external_id, custom_fields from operational.{table}")).all()
    )


def test_problems_get_typed_custom_fields_and_a_bad_one_is_refused_at_its_line(
    tmp_path, session, problem_fields
):
    report = _import(tmp_path, session, PROBLEMS_CSV, PROBLEMS_MAPPING)
    assert report.counts["problems"].loaded == 3
    assert report.counts["problems"].refused == 1
    assert _stored(session, "problems") == {
        "P1": {"vendor": "Acme", "downtime_minutes": 90, "since": "2026-03-01"},
        "P2": {"vendor": "Initech"},
        "P4": {},
    }
    [(line, reason, detail)] = _rejects(tmp_path)
    assert (line, reason) == ("4", "invalid_custom_field")
    assert "cf.downtime_minutes" in detail and "cf.since" in detail
    assert "cf.vendor" not in detail


def test_a_problem_reimport_updates_the_values_keeps_the_others_and_adds_no_record(
    tmp_path, session, problem_fields, define
):
    define("problem", "ticket_ref", "text")
    _import(tmp_path, session, PROBLEMS_CSV, PROBLEMS_MAPPING)
    session.execute(
        text(
            "update operational.problems set custom_fields = custom_fields || "
            """'{"ticket_ref": "V-9"}' where external_id = 'P2'"""
        )
    )
    again = PROBLEMS_CSV.replace("10:00,Initech", "10:00,Globex")
    report = _import(tmp_path, session, again, PROBLEMS_MAPPING)
    assert (report.counts["problems"].loaded, report.counts["problems"].updated) == (0, 1)
    assert _stored(session, "problems")["P2"] == {"vendor": "Globex", "ticket_ref": "V-9"}
    count = session.execute(
        text("select count(*) from operational.problems where source_system = 'legacy'")
    ).scalar_one()
    assert count == 3


def test_requests_get_typed_custom_fields_beside_the_parse_rejects(
    tmp_path, session, request_fields
):
    report = _import(tmp_path, session, REQUESTS_CSV, REQUESTS_MAPPING)
    assert report.counts["requests"].loaded == 2
    assert report.counts["requests"].refused == 1
    assert _stored(session, "requests") == {
        "R-1": {"cost_centre": "Delft", "rooms": ["A", "B"]},
        "R-4": {},
    }
    reasons = {line: (reason, detail) for line, reason, detail in _rejects(tmp_path)}
    assert sorted(reasons) == ["3", "4"]
    assert reasons["3"][0] == "invalid_custom_field"
    assert reasons["3"][1].startswith("cf.cost_centre: 'Paris' is not allowed")
    assert reasons["4"][0] != "invalid_custom_field"


def test_a_request_reimport_is_idempotent_and_sets_the_mapped_values(
    tmp_path, session, request_fields
):
    _import(tmp_path, session, REQUESTS_CSV, REQUESTS_MAPPING)
    again = REQUESTS_CSV.replace("2026-03-02 12:00,,", "2026-03-02 12:00,Utrecht,C")
    report = _import(tmp_path, session, again, REQUESTS_MAPPING)
    assert (report.counts["requests"].loaded, report.counts["requests"].updated) == (0, 1)
    assert _stored(session, "requests")["R-4"] == {"cost_centre": "Utrecht", "rooms": ["C"]}
    assert (
        session.execute(
            text("select count(*) from operational.requests where source_system = 'shop'")
        ).scalar_one()
        == 2
    )
    events = session.execute(
        text(
            "select count(*) from operational.events e join operational.requests r"
            " on e.entity_type = 'request' and e.entity_id = r.id"
            " where r.external_id = 'R-1' and e.kind = 'created'"
        )
    ).scalar_one()
    assert events == 1


def test_an_undefined_field_refuses_the_record(tmp_path, session, request_fields):
    mapping = REQUESTS_MAPPING.replace("rooms: Rooms", "rooms: Rooms, colour: Requester")
    report = _import(tmp_path, session, REQUESTS_CSV, mapping)
    assert report.counts["requests"].loaded == 0
    found = _rejects(tmp_path)
    refused = [detail for _, reason, detail in found if reason == "invalid_custom_field"]
    assert len(refused) == 3
    assert all("cf.colour: no such field" in detail for detail in refused)
