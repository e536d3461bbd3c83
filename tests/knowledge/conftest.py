"""Helpers for knowledge tests: authors, reviewers and readers, and articles driven through the
API (write, submit, approve)."""

from typing import Any

import pytest

from tests.incidents.conftest import incidents, settings_env  # noqa: F401 (fixtures)
from tests.requests.conftest import kit  # noqa: F401 (fixture)

URL = "/api/v1/knowledge"
ARTICLES = f"{URL}/articles"


class KnowledgeApi:
    def __init__(self, client, factory):
        self.client = client
        self.factory = factory
        self.author = factory.auth_headers(factory.user(roles=("agent",)))
        self.reviewer = factory.auth_headers(factory.user(roles=("manager",)))
        self.requester = factory.auth_headers(factory.user(roles=("requester",)))

    def write(self, headers: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
        fields.setdefault("title", "Reset a forgotten VPN password")
        fields.setdefault("body", "Open the self-service portal and choose **Reset**.")
        response = self.client.post(ARTICLES, json=fields, headers=headers or self.author)
        assert response.status_code == 201, response.text
        return response.json()

    def get(self, article: dict[str, Any], headers: dict[str, str] | None = None):
        return self.client.get(f"{ARTICLES}/{article['id']}", headers=headers or self.author)

    def current(self, article: dict[str, Any]) -> dict[str, Any]:
        return self.get(article).json()

    def _post(self, article, action: str, body: dict, headers: dict[str, str]):
        version = self.current(article)["version"]
        return self.client.post(
            f"{ARTICLES}/{article['id']}/{action}",
            json=body,
            headers={**headers, "If-Match": f'"{version}"'},
        )

    def submit(self, article, headers=None):
        return self._post(article, "submit", {}, headers or self.author)

    def review(self, article, decision: str = "approved", comment: str | None = None, headers=None):
        body = {"decision": decision, **({"comment": comment} if comment else {})}
        return self._post(article, "review", body, headers or self.reviewer)

    def retire(self, article, reason: str = "Superseded", headers=None):
        return self._post(article, "retire", {"reason": reason}, headers or self.reviewer)

    def edit(self, article, headers=None, **fields):
        version = self.current(article)["version"]
        return self.client.patch(
            f"{ARTICLES}/{article['id']}",
            json=fields,
            headers={**(headers or self.author), "If-Match": f'"{version}"'},
        )

    def published(self, **fields: Any) -> dict[str, Any]:
        article = self.write(**fields)
        assert self.submit(article).status_code == 200
        response = self.review(article)
        assert response.status_code == 200, response.text
        return response.json()

    def search(self, headers: dict[str, str] | None = None, **params: Any) -> dict[str, Any]:
        response = self.client.get(f"{URL}/search", params=params, headers=headers or self.author)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def kb(client, factory) -> KnowledgeApi:
    return KnowledgeApi(client, factory)
