"""One list contract for every endpoint: ``page``, ``size`` and ``sort`` in, ``Page[T]`` out.

``sort`` is a comma-separated list of field names; a leading ``-`` sorts descending
(``sort=-priority,opened_at``). Each domain declares which fields may be sorted.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from operational.core.errors import BadRequest
from operational.core.openapi import declare_problems

T = TypeVar("T")

MAX_PAGE_SIZE = 500


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    size: int

    def map(self, convert: Any) -> "Page[Any]":
        return Page[Any](
            items=[convert(item) for item in self.items],
            total=self.total,
            page=self.page,
            size=self.size,
        )


@dataclass(frozen=True)
class PageParams:
    page: int = 1
    size: int = 50
    sort: str | None = None

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


def page_params(
    page: Annotated[int, Query(ge=1, description="1-based page number")] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page")] = 50,
    sort: Annotated[
        str | None,
        Query(description="Comma-separated fields; prefix a field with - for descending"),
    ] = None,
) -> PageParams:
    return PageParams(page=page, size=size, sort=sort)


# An unknown sort field is a 400 (order_by_clauses).
PageQuery = Annotated[PageParams, Depends(declare_problems(page_params, 400))]


def order_by_clauses(
    sort: str | None,
    sortable: Mapping[str, ColumnElement[Any]],
    default: Sequence[ColumnElement[Any]],
) -> list[ColumnElement[Any]]:
    """ORDER BY clauses for ``sort``; an unknown field is a 400 naming the allowed ones."""
    if not sort:
        return list(default)
    clauses = []
    for raw in sort.split(","):
        name = raw.strip()
        descending = name.startswith("-")
        name = name.lstrip("-+")
        if name not in sortable:
            raise BadRequest(
                f"Cannot sort by {name!r}; allowed: {', '.join(sorted(sortable))}",
                allowed=sorted(sortable),
            )
        column = sortable[name]
        clauses.append(column.desc().nulls_last() if descending else column.asc().nulls_last())
    # A stable tiebreaker keeps pages from overlapping.
    clauses.extend(default)
    return clauses


def paginate(
    session: Session,
    statement: Select[Any],
    params: PageParams,
    *,
    sortable: Mapping[str, ColumnElement[Any]],
    default_sort: Sequence[ColumnElement[Any]],
    scalars: bool = True,
) -> Page[Any]:
    """Run ``statement`` for one page and count the total over the same filters."""
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    ordered = statement.order_by(*order_by_clauses(params.sort, sortable, default_sort))
    paged = ordered.limit(params.size).offset(params.offset)
    result = session.execute(paged)
    items = list(result.scalars().all() if scalars else result.all())
    return Page[Any](items=items, total=total or 0, page=params.page, size=params.size)
