import pytest
from sqlalchemy import select

from operational.core.config import get_settings
from operational.events.models import Event
from operational.exports import service
from tests.exports.conftest import PERIOD


@pytest.fixture
def export(session, compliance_marts):
    created = service.create_export(
        session=session,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
        directory=service.exports_dir(get_settings()),
        generated_by="test",
    )
    session.commit()  # a savepoint release: a refused request's rollback keeps it
    return created


@pytest.fixture
def role_headers(session, factory):
    """Headers for a new user of a role; committed like ``export``."""

    def make(role: str) -> dict[str, str]:
        user = factory.user(roles=(role,))
        session.commit()
        return factory.auth_headers(user)

    return make


def _downloads(session, export_id):
    return session.scalars(
        select(Event).where(
            Event.entity_type == "export", Event.entity_id == export_id, Event.kind == "downloaded"
        )
    ).all()


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_auditors_and_admins_list_inspect_and_download(client, factory, session, export, role):
    user = factory.user(roles=(role,))
    session.commit()
    headers = factory.auth_headers(user)

    listed = client.get("/api/v1/exports", params={"covers": "2026-10-15"}, headers=headers)
    assert listed.status_code == 200
    body = listed.json()
    assert set(body) == {"items", "total", "page", "size"}
    assert export.id in [item["id"] for item in body["items"]]

    detail = client.get(f"/api/v1/exports/{export.id}", headers=headers).json()
    assert detail["period_start"] == "2026-10-01" and detail["period_end"] == "2026-10-31"
    # CSV and Parquet per mart, workbook, manifest, four audit trail files and their verifier
    assert len(detail["files"]) == 2 * 7 + 2 + 5

    folder = service.exports_dir(get_settings()) / export.folder
    for name in ("sla_breach_register.csv", "compliance.xlsx", "manifest.json"):
        response = client.get(f"/api/v1/exports/{export.id}/files/{name}", headers=headers)
        assert response.status_code == 200
        assert response.content == (folder / name).read_bytes()
    assert response.headers["content-type"].startswith("application/json")

    downloads = _downloads(session, export.id)
    assert [event.new_value for event in downloads] == [
        "sla_breach_register.csv",
        "compliance.xlsx",
        "manifest.json",
    ]
    assert {event.actor_id for event in downloads} == {user.id}
    assert downloads[0].data["sha256"] == next(
        file.sha256 for file in export.files if file.name == "sla_breach_register.csv"
    )
    # The audit trail and its offline verifier download like the rest.
    for name, media in (("audit_events.jsonl", "application/jsonl"), ("verify_audit.py", "text/")):
        response = client.get(f"/api/v1/exports/{export.id}/files/{name}", headers=headers)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(media)
        assert response.content == (folder / name).read_bytes()


def test_covers_filter_leaves_out_other_periods(client, role_headers, export):
    listed = client.get(
        "/api/v1/exports", params={"covers": "2026-11-01"}, headers=role_headers("auditor")
    )
    assert export.id not in [item["id"] for item in listed.json()["items"]]


@pytest.mark.parametrize("role", ["agent", "manager", "requester", "analyst"])
def test_other_roles_cannot_list_or_download(client, role_headers, session, export, role):
    headers = role_headers(role)
    for path in (
        "/api/v1/exports",
        f"/api/v1/exports/{export.id}",
        f"/api/v1/exports/{export.id}/files/manifest.json",
    ):
        response = client.get(path, headers=headers)
        assert response.status_code == 403, path
        assert response.headers["content-type"] == "application/problem+json"
    assert _downloads(session, export.id) == []


def test_anonymous_is_unauthorized(client, export):
    assert client.get("/api/v1/exports").status_code == 401


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("..%2F..%2Fpgdata%2Fpostgresql.conf", 404),
        ("%2e%2e%2fmanifest.json", 404),
        ("..%5Cmanifest.json", 400),
        ("not-in-this-export.csv", 404),
        (".manifest.json", 404),
    ],
)
def test_file_names_cannot_escape_the_export(client, role_headers, session, export, name, status):
    response = client.get(
        f"/api/v1/exports/{export.id}/files/{name}", headers=role_headers("auditor")
    )
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert _downloads(session, export.id) == []


def test_unknown_export_is_404(client, role_headers):
    response = client.get("/api/v1/exports/999999999", headers=role_headers("auditor"))
    assert response.status_code == 404
    assert response.json()["title"] == "Not found"
