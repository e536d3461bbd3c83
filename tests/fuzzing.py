"""An outside client against the real API on the real database: schemathesis reads the OpenAPI
document, generates requests for every operation (valid ones, and invalid ones: wrong types,
missing fields, odd strings), sends them with a role's token, and checks every response.

Used by tests/test_fuzz.py (CI: a fixed, derandomized campaign) and bench/fuzz.py (longer,
random campaigns on demand). Each request runs in a savepoint that is rolled back afterwards, so
every case meets the same seeded database, and a case that deactivates the caller or deletes the
seeded records cannot spoil the cases after it.

The checks, each a failure kind of the report:

- ``not_a_server_error``: no 5xx, ever;
- ``status_code_conformance``: the status is one the operation documents (operational/core/
  openapi.py derives them);
- ``content_type_conformance`` and ``response_schema_conformance``: the body is of the
  documented media type and matches the documented schema (problem+json for errors);
- ``response_headers_conformance``: documented headers are present;
- ``negative_data_rejection``: a request that breaks the schema is refused with a 4xx;
- ``ignored_auth``: an operation that declares the bearer token refuses a request without one
  or with a forged one.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi import checks as openapi_checks
from sqlalchemy.orm import Session

CHECKS = (
    not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.negative_data_rejection,
    openapi_checks.ignored_auth,
)
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
# Not fuzzed: the live stream (GET /api/v1/stream) answers valid requests with an open-ended
# Server-Sent Events stream, which a case's client would read until the stream's maximum
# duration (an hour outside the suite): tests/live reads it with a real HTTP client instead.
EXCLUDED_OPERATIONS = frozenset({"GET /api/v1/stream"})


@dataclass
class Report:
    """What a campaign did: cases sent, time taken, responses by status, failures by kind."""

    role: str
    cases: int = 0
    seconds: float = 0.0
    operations: int = 0
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    failures: dict[str, list[str]] = field(default_factory=lambda: collections.defaultdict(list))

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)

    def failure_count(self) -> int:
        return sum(len(found) for found in self.failures.values())

    def summary(self) -> str:
        statuses = ", ".join(
            f"{status}: {count}" for status, count in sorted(self.statuses.items())
        )
        lines = [
            f"{self.role}: {self.cases:,} cases over {self.operations} operations in "
            f"{self.seconds:.1f} s ({self.cases / max(self.seconds, 1e-9):.0f}/s); "
            f"server errors: {self.server_errors}; failures: {self.failure_count()}",
            f"  responses by status: {statuses}",
        ]
        for kind, found in sorted(self.failures.items()):
            lines.append(f"  {kind}: {len(found)}")
            lines.extend(f"    {example}" for example in found[:3])
        return "\n".join(lines)


def isolated(app: FastAPI, session: Session) -> Callable[[bool], Any]:
    """Serve ``app`` from ``session``: each request in a savepoint, rolled back afterwards unless
    ``keep(True)`` is in force (for seeding). Returns ``keep``, a context manager factory."""
    from operational.core.db import get_db

    state = {"keep": False}

    def one_request() -> Iterator[Session]:
        savepoint = session.begin_nested()
        try:
            yield session
        except BaseException:
            if savepoint.is_active:
                savepoint.rollback()
            raise
        if savepoint.is_active:
            if state["keep"]:
                savepoint.commit()
            else:
                savepoint.rollback()
        session.expire_all()

    app.dependency_overrides[get_db] = one_request

    @contextmanager
    def keep(value: bool = True) -> Iterator[None]:
        state["keep"] = value
        try:
            yield
        finally:
            state["keep"] = False

    return keep


def seed(
    client: Any, admin: dict[str, str], requester: dict[str, str], ids: dict[str, int]
) -> None:
    """One of every record, through the API as an admin, so that generated ids meet real rows:
    a team with an agent, a calendar and policy, a CI class and CIs with a relationship, an
    incident raised by the requester (commented, resolved, with its survey), assignment and
    escalation rules, a change with its CAB round, a template and a blackout window."""

    def post(path: str, body: dict[str, Any], headers: dict[str, str] = admin) -> dict[str, Any]:
        response = client.post(f"/api/v1{path}", json=body, headers=headers)
        assert response.status_code in (200, 201), (path, response.text)
        return response.json()

    team = ids["team"]
    calendar = post(
        "/sla/calendars",
        {
            "name": "Office",
            "timezone": "Europe/Amsterdam",
            "weekly_hours": {"monday": ["09:00-17:00"]},
        },
    )
    post(
        "/sla/policies",
        {
            "name": "Payroll",
            "service": "Payroll",
            "calendar_id": calendar["id"],
            "response_minutes": 60,
            "resolution_minutes": 600,
        },
    )
    post(
        "/sla/escalation-rules",
        {"name": "Breach", "threshold": 100, "action": "notify", "team_id": team},
    )
    post("/assignment-rules", {"name": "Printers", "keywords": ["printer"], "team_id": team})
    web = post(
        "/cis", {"name": "web-01", "ci_class": "server", "attributes": {"hostname": "web-01"}}
    )
    database = post(
        "/cis", {"name": "db-01", "ci_class": "database", "attributes": {"engine": "postgresql"}}
    )
    post(
        "/ci-relationships",
        {"source_ci_id": web["id"], "type": "depends_on", "target_ci_id": database["id"]},
    )
    incident = post("/incidents", {"title": "Printer jams", "impact": 2, "urgency": 2}, requester)
    post(f"/incidents/{incident['id']}/comments", {"body": "Paper stuck"}, requester)
    resolved = client.patch(
        f"/api/v1/incidents/{incident['id']}",
        json={
            "assignee_id": ids["agent"],
            "state": "resolved",
            "resolution_code": "solved_permanently",
            "resolution_notes": "Cleared",
        },
        headers={**admin, "If-Match": '"1"'},
    )
    assert resolved.status_code == 200, resolved.text
    post("/incidents", {"title": "VPN down", "impact": 1, "urgency": 1}, requester)
    change = post(
        "/changes",
        {
            "change_type": "normal",
            "title": "Patch web-01",
            "ci_ids": [web["id"]],
            "planned_start": "2030-03-04T10:00:00Z",
            "planned_end": "2030-03-04T12:00:00Z",
            "implementation_plan": "Patch",
            "backout_plan": "Revert",
            "test_plan": "Smoke",
            "justification": "CVE",
            "requester_id": ids["requester"],
        },
    )
    for version, target in ((1, "assess"), (2, "authorize")):
        moved = client.post(
            f"/api/v1/changes/{change['id']}/transition",
            json={"to": target},
            headers={**admin, "If-Match": f'"{version}"'},
        )
        assert moved.status_code == 200, moved.text
    post(
        "/change-templates",
        {
            "name": "Restart pool",
            "title": "Restart the pool",
            "implementation_plan": "Recycle",
            "backout_plan": "None",
            "test_plan": "Home page",
        },
    )
    post(
        "/blackout-windows",
        {"name": "Freeze", "starts_at": "2030-12-20T00:00:00Z", "ends_at": "2031-01-02T00:00:00Z"},
    )


def campaign(
    app: FastAPI,
    *,
    role: str,
    headers: dict[str, str],
    examples: int,
    modes: Sequence[GenerationMode] = MODES,
    derandomize: bool = True,
    operation_filter: Callable[[str], bool] = lambda label: True,
) -> Report:
    """Up to ``examples`` cases per operation and mode, each sent with ``headers``."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    report = Report(role=role)
    started = time.perf_counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label in EXCLUDED_OPERATIONS or not operation_filter(operation.label):
            continue
        report.operations += 1
        for mode in modes:
            _fuzz(operation, mode, headers, examples, derandomize, report)
    report.seconds = time.perf_counter() - started
    return report


def _fuzz(operation, mode, headers, examples, derandomize, report: Report) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=derandomize,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def send(case) -> None:
        report.cases += 1
        try:
            response = case.call(headers=headers)
        except Exception as error:  # the app raised through the test transport: a 500 in service
            report.statuses[500] += 1
            report.failures["UnhandledException"].append(
                f"{operation.label} [{mode.value}]: {type(error).__name__}: {str(error)[:300]}\n"
                f"      {case.as_curl_command(headers={'Authorization': '…'})[:700]}"
            )
            return
        report.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=list(CHECKS), headers=headers)
        except BaseException as error:  # schemathesis reports failures as a BaseExceptionGroup
            for failure in getattr(error, "exceptions", None) or [error]:
                kind = type(failure).__name__
                detail = " | ".join(str(failure).strip().splitlines()[:4]) or kind
                report.failures[kind].append(
                    f"{operation.label} [{mode.value}] {response.status_code}: {detail[:300]}\n"
                    f"      {case.as_curl_command(headers={'Authorization': '…'})[:700]}"
                )

    # Unsatisfiable: nothing in the operation to make invalid (no parameters, no body).
    with suppress(Unsatisfiable):
        send()
