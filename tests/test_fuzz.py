"""The API under an outside client (issue 12): schemathesis sends generated requests, valid and
invalid, to every operation of the real app on the real database, with an admin's token and with
a requester's, and every response must be documented, well formed and no server error
(tests/fuzzing.py lists the checks).

The campaign is derandomized (the same cases every run, so CI is stable); bench/fuzz.py runs
longer, random ones. Each role's run must reach its share of the 2,000 cases, so that the
check cannot quietly shrink.
"""

import pytest
from fastapi.testclient import TestClient

from operational.main import create_app
from tests import fuzzing

# Cases per operation and generation mode; with ~110 operations and two modes this gives
# about 1,250 cases per role (Hypothesis draws fewer where a schema allows few values).
EXAMPLES = 6
MINIMUM_CASES = 1_000  # per role: 2,000 per run


@pytest.fixture
def fuzzed_app(session, factory):
    app = create_app()
    keep = fuzzing.isolated(app, session)
    team = factory.team(name="Service Desk")
    admin = factory.user(roles=("admin",), display_name="Fuzz admin")
    agent = factory.user(roles=("agent",), display_name="Fuzz agent", teams=(team,))
    requester = factory.user(roles=("requester",), display_name="Fuzz requester")
    headers = {
        "admin": factory.auth_headers(admin),
        "requester": factory.auth_headers(requester),
    }
    ids = {"team": team.id, "agent": agent.id, "requester": requester.id}
    with TestClient(app, raise_server_exceptions=False) as client, keep():
        fuzzing.seed(client, headers["admin"], headers["requester"], ids)
    return app, headers


@pytest.mark.parametrize("role", ["admin", "requester"])
def test_every_operation_answers_every_generated_request_as_documented(fuzzed_app, role):
    app, headers = fuzzed_app
    report = fuzzing.campaign(app, role=role, headers=headers[role], examples=EXAMPLES)
    print(report.summary())  # the figures, in the test's output (pytest -s, or on failure)
    assert report.cases >= MINIMUM_CASES, report.summary()
    assert report.server_errors == 0, report.summary()
    assert report.failure_count() == 0, report.summary()
