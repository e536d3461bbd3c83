import pytest
from sqlalchemy import select

from operational.auth.models import User
from operational.core.errors import BadRequest
from operational.core.pagination import PageParams, paginate


def test_paginate_sorts_counts_and_pages(session, factory):
    for name in ["Cleo", "Abel", "Bea", "Dirk", "Eva"]:
        factory.user(display_name=name, email=f"{name.lower()}@pages.example")
    statement = select(User).where(User.email.like("%@pages.example"))
    sortable = {"display_name": User.display_name, "email": User.email}
    page = paginate(
        session,
        statement,
        PageParams(page=2, size=2, sort="-display_name"),
        sortable=sortable,
        default_sort=[User.id],
    )
    assert page.total == 5 and page.page == 2 and page.size == 2
    assert [user.display_name for user in page.items] == ["Cleo", "Bea"]


def test_unknown_sort_field_names_the_allowed_ones(session):
    with pytest.raises(BadRequest) as raised:
        paginate(
            session,
            select(User),
            PageParams(sort="password_hash"),
            sortable={"email": User.email},
            default_sort=[User.id],
        )
    assert raised.value.extra["allowed"] == ["email"]
