"""Helpers for problem tests: agents, incidents made through the incident flows, and problems
driven through the API, so the routers, flows and services are all exercised."""

from typing import Any

import pytest

from tests.changes.conftest import changes  # noqa: F401 (fixtures)
from tests.cmdb.conftest import cmdb  # noqa: F401
from tests.incidents.conftest import IncidentFactory, incidents, settings_env  # noqa: F401

URL = "/api/v1/problems"


class ProblemApi:
    def __init__(self, client, headers: dict[str, str]):
        self.client = client
        self.headers = headers

    def create(self, **fields: Any) -> dict[str, Any]:
        fields.setdefault("title", "Mail server drops connections")
        response = self.client.post(URL, json=fields, headers=self.headers)
        assert response.status_code == 201, response.text
        return response.json()

    def get(self, problem: dict[str, Any]) -> dict[str, Any]:
        response = self.client.get(f"{URL}/{problem['id']}", headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()

    def patch(self, problem: dict[str, Any], version: int | None = None, **fields: Any):
        version = problem["version"] if version is None else version
        return self.client.patch(
            f"{URL}/{problem['id']}",
            json=fields,
            headers={**self.headers, "If-Match": f'"{version}"'},
        )

    def move(self, problem: dict[str, Any], to: str, **fields: Any):
        current = self.get(problem)
        return self.client.post(
            f"{URL}/{problem['id']}/transition",
            json={"to": to, **fields},
            headers={**self.headers, "If-Match": f'"{current["version"]}"'},
        )

    def moved(self, problem: dict[str, Any], *states: str) -> dict[str, Any]:
        body = problem
        for state in states:
            response = self.move(problem, state)
            assert response.status_code == 200, response.text
            body = response.json()
        return body

    def analysed(self, problem: dict[str, Any], **fields: Any) -> dict[str, Any]:
        """Through assessment and analysis, with a root cause and fix notes recorded."""
        self.moved(problem, "assessed", "root_cause_analysis")
        fields.setdefault("root_cause", "Connection pool too small for the Monday peak")
        fields.setdefault("fix_notes", "Pool raised from 50 to 200 connections")
        response = self.patch(self.get(problem), **fields)
        assert response.status_code == 200, response.text
        return response.json()

    def resolved(self, problem: dict[str, Any]) -> dict[str, Any]:
        self.analysed(problem)
        return self.moved(problem, "fix_in_progress", "resolved")

    def link(self, problem: dict[str, Any], incident_id: int, wait: bool = False):
        return self.client.post(
            f"{URL}/{problem['id']}/incidents",
            json={"incident_id": incident_id, "wait": wait},
            headers=self.headers,
        )

    def publish(self, problem: dict[str, Any], workaround: str | None = None):
        current = self.get(problem)
        body = {"workaround": workaround} if workaround is not None else {}
        return self.client.put(
            f"{URL}/{problem['id']}/known-error",
            json=body,
            headers={**self.headers, "If-Match": f'"{current["version"]}"'},
        )


@pytest.fixture
def agent(incidents):  # noqa: F811
    return incidents.agent()


@pytest.fixture
def agent_headers(factory, agent):
    return factory.auth_headers(agent)


@pytest.fixture
def problems(client, agent_headers) -> ProblemApi:
    return ProblemApi(client, agent_headers)


@pytest.fixture
def working_incident(incidents, agent):  # noqa: F811
    """A factory of incidents in progress with ``agent`` assigned."""

    def make(**fields: Any):
        from operational.incidents import flows

        incident = incidents.incident(actor=agent, assignee_id=agent.id, **fields)
        return flows.transition(
            session=incidents.session, incident=incident, actor=agent, state="in_progress"
        ).incident

    return make
