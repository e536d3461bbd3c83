"""Test data factories. Each domain adds its own methods to ``Factory`` (small, additive edits)."""

import itertools
from typing import Any

from sqlalchemy.orm import Session

from operational.auth.models import Team, TeamMember, User, UserRole
from operational.auth.security import create_access_token, hash_secret

DEFAULT_PASSWORD = "correct-horse-battery-42"
_sequence = itertools.count(1)
# Hashing with argon2 is slow by design; tests share one hash of the default password.
_DEFAULT_HASH = hash_secret(DEFAULT_PASSWORD)


class Factory:
    def __init__(self, session: Session):
        self.session = session

    def _next(self) -> int:
        return next(_sequence)

    def team(self, *, name: str | None = None, **fields: Any) -> Team:
        team = Team(name=name or f"Team {self._next()}", **fields)
        self.session.add(team)
        self.session.flush()
        return team

    def user(
        self,
        *,
        roles: tuple[str, ...] | list[str] = ("agent",),
        email: str | None = None,
        password: str | None = None,
        teams: tuple[Team, ...] | list[Team] = (),
        **fields: Any,
    ) -> User:
        number = self._next()
        user = User(
            email=email or f"user{number}@example.com",
            display_name=fields.pop("display_name", f"User {number}"),
            password_hash=hash_secret(password) if password else _DEFAULT_HASH,
            role_rows=[UserRole(role=str(role)) for role in roles],
            **fields,
        )
        self.session.add(user)
        self.session.flush()
        for team in teams:
            self.session.add(TeamMember(team_id=team.id, user_id=user.id))
        self.session.flush()
        self.session.refresh(user)
        return user

    def auth_headers(self, user: User) -> dict[str, str]:
        return {"Authorization": f"Bearer {create_access_token(user_id=user.id)}"}
