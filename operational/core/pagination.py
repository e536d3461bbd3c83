"""One list contract for every endpoint: ``page``, ``size`` and ``sort`` in, ``Page[T]`` out.

``sort`` is a comma-separated list of field names; a leading ``-`` sorts descending
(``sort=-priority,opened_at``). Each domain declares which fields may be sorted.
"""

import base64
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select, and_, false, func, literal_column, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement, ColumnClause, ColumnElement, UnaryExpression

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


class KeysetPage(Page[T], Generic[T]):
    """A page of a big table's list (incidents): also pages by keyset, and may estimate."""

    total_is_estimate: bool = Field(
        False,
        description="true when total is the planner's estimate (more matches than "
        "ITSM_EXACT_TOTAL_LIMIT); false when it is exact",
    )
    next_after: str | None = Field(
        None, description="Pass it as after= for the next page (null on the last page)"
    )

    def map(self, convert: Any) -> "KeysetPage[Any]":
        return KeysetPage[Any](
            items=[convert(item) for item in self.items],
            total=self.total,
            page=self.page,
            size=self.size,
            total_is_estimate=self.total_is_estimate,
            next_after=self.next_after,
        )


@dataclass(frozen=True)
class PageParams:
    page: int = 1
    size: int = 50
    sort: str | None = None
    after: str | None = None  # a keyset cursor (next_after of the previous page)

    @property
    def offset(self) -> int:
        return 0 if self.after else (self.page - 1) * self.size


async def page_params(
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


async def keyset_page_params(
    page: Annotated[int, Query(ge=1, description="1-based page number")] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page")] = 50,
    sort: Annotated[
        str | None,
        Query(description="Comma-separated fields; prefix a field with - for descending"),
    ] = None,
    after: Annotated[
        str | None,
        Query(
            max_length=2000,
            description="Keyset pagination: the previous page's next_after, with the same "
            "filters and sort; the page starts after that row and page= is not used",
        ),
    ] = None,
) -> PageParams:
    return PageParams(page=page, size=size, sort=sort, after=after)


# Lists that also page by keyset (after=): an unknown sort field or a bad cursor is a 400.
KeysetPageQuery = Annotated[PageParams, Depends(declare_problems(keyset_page_params, 400))]


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


def _key_columns(clauses: Sequence[ColumnElement[Any]]) -> list[tuple[ColumnClause, bool]] | None:
    """(column, descending) for each ORDER BY clause; None when one sorts by an expression."""
    keys = []
    for clause in clauses:
        descending = False
        element: Any = clause
        while isinstance(element, UnaryExpression):
            if element.modifier is operators.desc_op:
                descending = True
            element = element.element
        if not isinstance(element, ColumnClause):
            return None
        keys.append((element, descending))
    return keys


def _encode_after(keys: list[tuple[ColumnClause, bool]], item: Any) -> str:
    values = []
    for column, _ in keys:
        value = getattr(item, column.key)
        values.append(value.isoformat() if isinstance(value, datetime) else value)
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _after_condition(keys: list[tuple[ColumnClause, bool]], cursor: str) -> ColumnElement[bool]:
    """Rows after the cursor's row in the order of ``keys`` (nulls sort last)."""
    invalid = BadRequest("after= is not a cursor of this list and sort; start again from page 1")
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != len(keys):
            raise invalid
        typed = []
        for (column, _), value in zip(keys, values, strict=True):
            if value is not None and column.type.python_type is datetime:
                value = datetime.fromisoformat(value)
            elif value is not None and (
                isinstance(value, bool)
                or not isinstance(value, column.type.python_type)
                or (isinstance(value, int) and not -(2**63) <= value < 2**63)
                or (isinstance(value, str) and "\x00" in value)
            ):
                raise invalid
            typed.append(value)
    except (ValueError, TypeError, NotImplementedError) as exc:
        raise invalid from exc
    alternatives = []
    for index, (column, descending) in enumerate(keys):
        value = typed[index]
        same = [
            keys[j][0].is_(None) if typed[j] is None else keys[j][0] == typed[j]
            for j in range(index)
        ]
        if value is None:
            beyond: ColumnElement[bool] = false()  # nothing sorts after a null
        else:
            beyond = or_(column < value if descending else column > value, column.is_(None))
        alternatives.append(and_(*same, beyond))
    condition = or_(*alternatives)
    first, descending = keys[0]
    if typed[0] is not None and getattr(first, "nullable", True) is False:
        # The same rows, plus a bound on the first key that its index can seek to: PostgreSQL
        # does not derive one from the OR, and would read every row before the cursor's.
        condition = and_(first <= typed[0] if descending else first >= typed[0], condition)
    return condition


class _Explain(Executable, ClauseElement):
    """``EXPLAIN (FORMAT JSON) <statement>``, executed as the statement would be, so that its
    parameters go through their types' bind processing (a JSONB containment's dict, say)."""

    inherit_cache = False

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement


@compiles(_Explain)
def _compile_explain(element: _Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.statement, **kw)


# Planner estimates by the caller's key (a list's filters and viewer): (expires, rows).
ESTIMATE_SECONDS = 30.0
_estimates: dict[Any, tuple[float, int]] = {}


def _total(
    session: Session, statement: Select[Any], exact_limit: int | None, estimate_key: Any = None
) -> tuple[int, bool]:
    """The number of rows ``statement`` matches, and whether it is an estimate. Exact up to
    ``exact_limit`` rows (counting stops there); above it, the planner's estimate, kept for
    ``ESTIMATE_SECONDS`` under ``estimate_key`` when one is given (an estimate need not be
    fresher, and compiling the statement for EXPLAIN costs more than the rest of the page)."""
    unordered = statement.order_by(None)
    if exact_limit is None:
        return session.scalar(select(func.count()).select_from(unordered.subquery())) or 0, False
    matches = unordered.with_only_columns(literal_column("1"), maintain_column_froms=True)
    bounded = session.scalar(
        select(func.count()).select_from(matches.limit(exact_limit + 1).subquery())
    )
    if (bounded or 0) <= exact_limit:
        return bounded or 0, False
    now = time.monotonic()
    kept = _estimates.get(estimate_key) if estimate_key is not None else None
    if kept is not None and kept[0] > now:
        return max(kept[1], exact_limit + 1), True
    plan = session.execute(_Explain(unordered)).scalar()
    estimate = int(plan[0]["Plan"]["Plan Rows"])
    if estimate_key is not None:
        if len(_estimates) > 10_000:
            _estimates.clear()
        _estimates[estimate_key] = (now + ESTIMATE_SECONDS, estimate)
    return max(estimate, exact_limit + 1), True


def paginate(
    session: Session,
    statement: Select[Any],
    params: PageParams,
    *,
    sortable: Mapping[str, ColumnElement[Any]],
    default_sort: Sequence[ColumnElement[Any]],
    scalars: bool = True,
    exact_total_limit: int | None = None,
    estimate_key: Any = None,
    keyset: bool = False,
) -> Page[Any]:
    """Run ``statement`` for one page and count the total over the same filters.

    ``exact_total_limit`` (big tables): count exactly up to that many rows, estimate above it
    (``total_is_estimate``). ``keyset``: pages carry ``next_after`` (when the sort is over
    columns), and ``params.after`` starts the page after that cursor's row."""
    total, estimated = _total(session, statement, exact_total_limit, estimate_key)
    clauses = order_by_clauses(params.sort, sortable, default_sort)
    keys = _key_columns(clauses) if keyset else None
    if params.after:
        if keys is None:
            raise BadRequest("after= needs a sort over fields (give sort=)")
        statement = statement.where(_after_condition(keys, params.after))
    if keys is not None and not scalars:
        # Rows carry the sort keys too, for the next page's cursor.
        statement = statement.add_columns(*(column for column, _ in keys))
    paged = statement.order_by(*clauses).limit(params.size).offset(params.offset)
    result = session.execute(paged)
    items = list(result.scalars().all() if scalars else result.all())
    next_after = None
    if keys is not None and len(items) == params.size:
        next_after = _encode_after(keys, items[-1])
    if not keyset and not estimated:
        return Page[Any](items=items, total=total, page=params.page, size=params.size)
    return KeysetPage[Any](
        items=items,
        total=total,
        page=params.page,
        size=params.size,
        total_is_estimate=estimated,
        next_after=next_after,
    )
