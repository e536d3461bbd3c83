"""Problems: the record itself. Create, update (root cause analysis included), move through the
workflow, publish known errors, search, and the problem's side of incident links.

Every change locks the problem row and appends one event per changed field (entity 'problem')
in the same transaction. Links to incidents and the incidents' own side of them are the flows'
work (``operational.problems.flows``). Functions flush, never commit, and raise domain
exceptions.
"""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, lazyload

from operational.auth import service as auth_service
from operational.auth.models import User
from operational.changes import records as change_records
from operational.changes.exceptions import ChangeNotFound
from operational.cmdb import service as cmdb_service
from operational.cmdb.exceptions import CINotFound
from operational.core import textsearch
from operational.core.concurrency import check_version
from operational.core.errors import InvalidTransition, UnprocessableEntity
from operational.core.pagination import Page, PageParams, paginate
from operational.core.references import record_id, record_number
from operational.customfields import service as custom_fields
from operational.customfields.enums import RecordType
from operational.events import service as events
from operational.events.enums import EntityType, EventKind
from operational.events.models import Event
from operational.problems import workflow
from operational.problems.enums import OPEN_STATES, ProblemState
from operational.problems.exceptions import ProblemClosed, ProblemIncomplete, ProblemNotFound
from operational.problems.models import SEARCH_CONFIG, Problem, ProblemCI, problem_number_seq
from operational.problems.schemas import PLAIN_FIELDS, ProblemCreate, ProblemFilters, ProblemUpdate
from operational.tickets.priority import priority_for

NUMBER_PREFIX = "PRB"
NUMBER_DIGITS = 7

SORTABLE = {
    "number": Problem.number,
    "title": Problem.title,
    "priority": Problem.priority,
    "state": Problem.state,
    "opened_at": Problem.opened_at,
    "updated_at": Problem.updated_at,
    "resolved_at": Problem.resolved_at,
}
DEFAULT_SORT = (Problem.opened_at.desc(), Problem.id.desc())


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


# ---------------------------------------------------------------------------------- lookups


def get(*, session: Session, problem_id: int, for_update: bool = False) -> Problem:
    statement = select(Problem).where(Problem.id == problem_id)
    if for_update:  # locked and reloaded: what another transaction wrote shows
        statement = statement.with_for_update(of=Problem).execution_options(populate_existing=True)
    problem = session.scalar(statement)
    if problem is None:
        raise ProblemNotFound(f"Problem {problem_id} does not exist", problem_id=problem_id)
    return problem


def get_by_reference(*, session: Session, reference: str) -> Problem:
    """By id (``42``) or by number (``PRB0000042``)."""
    reference = reference.strip()
    if (problem_id := record_id(reference)) is not None:
        return get(session=session, problem_id=problem_id)
    problem = None
    if number := record_number(reference, max_length=Problem.__table__.c.number.type.length):
        problem = session.scalar(select(Problem).where(Problem.number == number))
    if problem is None:
        raise ProblemNotFound(f"Problem {reference} does not exist")
    return problem


def number_of(*, session: Session, problem_id: int) -> str:
    return get(session=session, problem_id=problem_id).number


def lock(*, session: Session, problem: Problem) -> Problem:
    return get(session=session, problem_id=problem.id, for_update=True)


def allowed_moves(problem: Problem) -> list[str]:
    return workflow.allowed_from(problem.state)


def known_error_of(*, session: Session, problem_id: int | None) -> Problem | None:
    """The problem when it is a published known error, else None."""
    if problem_id is None:
        return None
    problem = session.get(Problem, problem_id)
    return problem if problem is not None and problem.known_error else None


def known_error_summary_statement(problem_id: int) -> tuple[str, dict[str, Any]]:
    """What a ticket's response shows of the known error behind it (id, number, title,
    workaround, known_error_at), as one lean statement in psycopg's parameter style (the
    incidents' fast reads run it on their own connections); no row unless it is a published
    known error."""
    return (
        f"select id, number, title, workaround, known_error_at from {Problem.__table__.fullname}"
        " where id = %(problem_id)s and known_error",
        {"problem_id": problem_id},
    )


def _format_number(value: int) -> str:
    return f"{NUMBER_PREFIX}{value:0{NUMBER_DIGITS}d}"


def _next_number(session: Session) -> str:
    # Imported problems keep their source numbers, which may collide with ours: skip those.
    while True:
        number = _format_number(session.scalar(select(problem_number_seq.next_value())))
        if session.scalar(select(Problem.id).where(Problem.number == number)) is None:
            return number


def _record(
    session: Session,
    problem: Problem,
    kind: EventKind,
    actor: User | None,
    now: datetime,
    *,
    field: str | None = None,
    old: Any = None,
    new: Any = None,
    data: dict[str, Any] | None = None,
) -> Event:
    return events.append(
        session=session,
        entity_type=EntityType.problem,
        entity_id=problem.id,
        kind=kind,
        actor=actor,
        field=field,
        old_value=old,
        new_value=new,
        data=data,
        occurred_at=now,
    )


def _finish(problem: Problem, now: datetime) -> None:
    problem.version += 1
    problem.updated_at = now


def _event_value(value: Any) -> Any:
    # Lists (five whys, contributing factors) are logged one item per line.
    return "\n".join(value) if isinstance(value, list) else value


def _check_people(
    session: Session, *, owner_id: int | None = None, team_id: int | None = None
) -> None:
    if owner_id is not None and auth_service.get_user(session=session, user_id=owner_id) is None:
        raise UnprocessableEntity(f"owner_id {owner_id} does not exist", field="owner_id")
    if team_id is not None and auth_service.get_team(session=session, team_id=team_id) is None:
        raise UnprocessableEntity(
            f"assignment_group_id {team_id} does not exist", field="assignment_group_id"
        )


def _known_ci(session: Session, ci_id: int, field: str) -> None:
    try:
        cmdb_service.get(session=session, ci_id=ci_id)
    except CINotFound as error:
        raise UnprocessableEntity(f"{field} {ci_id} does not exist", field=field) from error


def _change_number(session: Session, change_id: int) -> str:
    try:
        return change_records.get(session=session, change_id=change_id).number
    except ChangeNotFound as error:
        raise UnprocessableEntity(
            f"caused_by_change_id {change_id} does not exist", field="caused_by_change_id"
        ) from error


# ---------------------------------------------------------------------------- create/update


def create(
    *, session: Session, data: ProblemCreate, actor: User, now: datetime | None = None
) -> Problem:
    """Open a problem (state new); priority from impact x urgency, by the incidents' matrix."""
    now = _now(now)
    _check_people(session, owner_id=data.owner_id, team_id=data.assignment_group_id)
    custom_values = custom_fields.validate(
        session=session, record_type=RecordType.problem, values=data.custom_fields
    )
    cis = cmdb_service.get_many(session=session, ci_ids=data.ci_ids)
    problem = Problem(
        number=_next_number(session),
        title=data.title,
        description=data.description,
        service=data.service,
        category=data.category,
        impact=data.impact,
        urgency=data.urgency,
        priority=priority_for(impact=data.impact, urgency=data.urgency),
        assignment_group_id=data.assignment_group_id,
        owner_id=data.owner_id,
        opened_by_id=actor.id,
        symptom=data.symptom,
        state=ProblemState.new.value,
        ci_links=[ProblemCI(ci_id=ci.id, ci=ci) for ci in cis],
        opened_at=now,
        created_at=now,
        updated_at=now,
        custom_fields=custom_values,
    )
    session.add(problem)
    session.flush()
    _record(
        session,
        problem,
        EventKind.created,
        actor,
        now,
        new=problem.number,
        data={
            "title": problem.title,
            "state": problem.state,
            "service": problem.service,
            "category": problem.category,
            "ci_ids": problem.ci_ids,
            "impact": problem.impact,
            "urgency": problem.urgency,
            "priority": problem.priority,
            "assignment_group_id": problem.assignment_group_id,
            "owner_id": problem.owner_id,
            "custom_fields": custom_values or None,
        },
    )
    return problem


def _ensure_open(problem: Problem) -> None:
    if problem.state == ProblemState.closed:
        raise ProblemClosed(f"{problem.number} is closed; it can no longer be changed")


def update(
    *,
    session: Session,
    problem: Problem,
    data: ProblemUpdate,
    expected_version: int,
    actor: User,
    now: datetime | None = None,
) -> Problem:
    """Apply the fields sent; one event per changed field. Stale ``expected_version``: 412."""
    now = _now(now)
    problem = lock(session=session, problem=problem)
    check_version(current=problem.version, expected=expected_version, what=problem.number)
    given = data.model_dump(exclude_unset=True, mode="json")
    if not given:
        return problem
    _ensure_open(problem)
    custom_changes: list[custom_fields.FieldChange] = []
    if "custom_fields" in given:
        given.pop("custom_fields")
        after = custom_fields.validate(
            session=session,
            record_type=RecordType.problem,
            values=data.custom_fields,
            current=problem.custom_fields,
        )
        custom_changes = custom_fields.changes(problem.custom_fields, after)
        problem.custom_fields = after
    if problem.known_error and "workaround" in given and not given["workaround"]:
        raise UnprocessableEntity(
            "A published known error keeps a workaround; retract it first", field="workaround"
        )
    _check_people(session, owner_id=given.get("owner_id"), team_id=given.get("assignment_group_id"))
    changed: list[tuple[str, Any, Any, dict[str, Any] | None]] = []
    for name in PLAIN_FIELDS:
        if name in given and getattr(problem, name) != given[name]:
            changed.append(
                (name, _event_value(getattr(problem, name)), _event_value(given[name]), None)
            )
            setattr(problem, name, given[name])
    if "root_cause" in given and given["root_cause"] and problem.root_cause_at is None:
        problem.root_cause_at = now
    for name, kind in (("assignment_group_id", "assignment_group"), ("owner_id", "owner")):
        if name in given and getattr(problem, name) != given[name]:
            changed.append((kind, getattr(problem, name), given[name], None))
            setattr(problem, name, given[name])
    if "ci_ids" in given:
        wanted = list(dict.fromkeys(given["ci_ids"]))
        if sorted(wanted) != sorted(problem.ci_ids):
            cis = cmdb_service.get_many(session=session, ci_ids=wanted)
            changed.append(("ci_ids", problem.ci_ids, sorted(wanted), None))
            for link in [link for link in problem.ci_links if link.ci_id not in wanted]:
                problem.ci_links.remove(link)
            kept = set(problem.ci_ids)
            problem.ci_links.extend(
                ProblemCI(ci_id=ci.id, ci=ci) for ci in cis if ci.id not in kept
            )
    if "root_cause_ci_id" in given and problem.root_cause_ci_id != given["root_cause_ci_id"]:
        if given["root_cause_ci_id"] is not None:
            _known_ci(session, given["root_cause_ci_id"], "root_cause_ci_id")
        changed.append(("root_cause_ci", problem.root_cause_ci_id, given["root_cause_ci_id"], None))
        problem.root_cause_ci_id = given["root_cause_ci_id"]
    if (
        "caused_by_change_id" in given
        and problem.caused_by_change_id != given["caused_by_change_id"]
    ):
        change_id = given["caused_by_change_id"]
        number = _change_number(session, change_id) if change_id is not None else None
        changed.append(
            ("caused_by_change", problem.caused_by_change_id, number, {"change_id": change_id})
        )
        problem.caused_by_change_id = change_id
    levels = False
    for name in ("impact", "urgency"):
        if name in given and getattr(problem, name) != given[name]:
            changed.append((name, getattr(problem, name), given[name], None))
            setattr(problem, name, given[name])
            levels = True
    if levels:
        priority = priority_for(impact=problem.impact, urgency=problem.urgency)
        if priority != problem.priority:
            changed.append(
                ("priority", problem.priority, priority, {"reason": "impact x urgency matrix"})
            )
            problem.priority = priority
    if not changed and not custom_changes:
        return problem
    _finish(problem, now)
    session.flush()
    for field, old, new, extra in changed:
        kind = (
            EventKind.assigned
            if field in ("assignment_group", "owner")
            else EventKind.priority_changed
            if field == "priority"
            else EventKind.field_changed
        )
        _record(session, problem, kind, actor, now, field=field, old=old, new=new, data=extra)
    for custom in custom_changes:
        _record(
            session,
            problem,
            EventKind.field_changed,
            actor,
            now,
            field=custom.event_field,
            old=custom_fields.event_text(custom.old),
            new=custom_fields.event_text(custom.new),
            data={"old": custom.old, "new": custom.new},
        )
    session.refresh(problem)  # the related rows (owner, team, CIs) of the ids just set
    return problem


# ---------------------------------------------------------------------------------- workflow


def transition(
    *,
    session: Session,
    problem: Problem,
    target: ProblemState | str,
    expected_version: int,
    actor: User,
    reason: str | None = None,
    now: datetime | None = None,
) -> Problem:
    """Move the problem; an illegal move is a 409 naming the allowed ones, a move without what
    it needs (root cause, fix notes, a reason to close unresolved) a 422 naming the fields."""
    now = _now(now)
    target = ProblemState(target)
    problem = lock(session=session, problem=problem)
    check_version(current=problem.version, expected=expected_version, what=problem.number)
    current = problem.state
    if not workflow.is_allowed(current, target):
        raise InvalidTransition(current, target.value, workflow.allowed_from(current))
    missing = [name for name in workflow.REQUIRES.get(target, ()) if not getattr(problem, name)]
    if target == ProblemState.closed and current != ProblemState.resolved and not reason:
        missing.append("reason")
    if missing:
        raise ProblemIncomplete(
            f"{problem.number} cannot move to {target.value} without: {', '.join(missing)}",
            missing=missing,
        )
    problem.state = target.value
    if target == ProblemState.resolved:
        problem.resolved_at = now
    if target == ProblemState.fix_in_progress and current == ProblemState.resolved:
        problem.resolved_at = None  # reopened: the fix did not hold
    if target == ProblemState.closed:
        problem.closed_at = now
        if current != ProblemState.resolved:
            problem.close_reason = reason
    _finish(problem, now)
    session.flush()
    _record(
        session,
        problem,
        EventKind.state_changed,
        actor,
        now,
        field="state",
        old=current,
        new=target.value,
        data={"reason": reason} if reason else None,
    )
    return problem


def publish_known_error(
    *,
    session: Session,
    problem: Problem,
    expected_version: int,
    actor: User,
    workaround: str | None = None,
    now: datetime | None = None,
) -> Problem:
    """Publish the problem as a known error: a root cause and a workaround agents can apply."""
    now = _now(now)
    problem = lock(session=session, problem=problem)
    check_version(current=problem.version, expected=expected_version, what=problem.number)
    _ensure_open(problem)
    if workaround is not None and workaround != problem.workaround:
        _record(session, problem, EventKind.field_changed, actor, now, field="workaround",
                old=problem.workaround, new=workaround)  # fmt: skip
        problem.workaround = workaround
    missing = [name for name in ("root_cause", "workaround") if not getattr(problem, name)]
    if missing:
        raise ProblemIncomplete(
            f"A known error needs a known root cause and a workaround; missing: "
            f"{', '.join(missing)}",
            missing=missing,
        )
    if not problem.known_error:
        problem.known_error = True
        problem.known_error_at = now
        _record(session, problem, EventKind.field_changed, actor, now, field="known_error",
                old=False, new=True, data={"workaround": problem.workaround})  # fmt: skip
    _finish(problem, now)
    session.flush()
    return problem


def retract_known_error(
    *,
    session: Session,
    problem: Problem,
    expected_version: int,
    actor: User,
    now: datetime | None = None,
) -> Problem:
    now = _now(now)
    problem = lock(session=session, problem=problem)
    check_version(current=problem.version, expected=expected_version, what=problem.number)
    if problem.known_error:
        problem.known_error = False
        problem.known_error_at = None
        _record(session, problem, EventKind.field_changed, actor, now, field="known_error",
                old=True, new=False)  # fmt: skip
        _finish(problem, now)
        session.flush()
    return problem


# ------------------------------------------------------------------------- incident links


def note_incident(
    *,
    session: Session,
    problem: Problem,
    incident_id: int,
    incident_number: str,
    linked: bool,
    actor: User | None,
    now: datetime | None = None,
) -> None:
    """Log on the problem that an incident was linked or unlinked (the incident domain
    records its side). Links do not change the problem's version."""
    _record(
        session,
        problem,
        EventKind.field_changed,
        actor,
        _now(now),
        field="incident",
        old=None if linked else incident_number,
        new=incident_number if linked else None,
        data={"incident_id": incident_id, "action": "linked" if linked else "unlinked"},
    )


def is_open(problem: Problem) -> bool:
    return ProblemState(problem.state) in OPEN_STATES


# ------------------------------------------------------------------------------------ lists


def _filtered(
    statement: Select[Any],
    filters: ProblemFilters,
    *,
    session: Session,
    custom: Mapping[str, list[str]] | None = None,
) -> Select[Any]:
    """``statement`` narrowed to the list's filters and the ``cf.<name>`` filters ``custom``."""
    statement = statement.where(
        *custom_fields.filter_clauses(
            session=session,
            record_type=RecordType.problem,
            column=Problem.custom_fields,
            params=custom or {},
        )
    )
    if filters.state:
        statement = statement.where(Problem.state.in_([state.value for state in filters.state]))
    if filters.priority:
        statement = statement.where(Problem.priority.in_(filters.priority))
    for column, value in (
        (Problem.assignment_group_id, filters.assignment_group_id),
        (Problem.owner_id, filters.owner_id),
        (Problem.known_error, filters.known_error),
    ):
        if value is not None:
            statement = statement.where(column == value)
    if filters.root_cause_category is not None:
        statement = statement.where(Problem.root_cause_category == filters.root_cause_category)
    for column, value in ((Problem.service, filters.service), (Problem.category, filters.category)):
        if value:
            statement = statement.where(func.lower(column) == value.strip().lower())
    if filters.ci_id is not None:
        statement = statement.where(
            or_(
                Problem.root_cause_ci_id == filters.ci_id,
                Problem.id.in_(
                    select(ProblemCI.problem_id).where(ProblemCI.ci_id == filters.ci_id)
                ),
            )
        )
    if filters.opened_from is not None:
        statement = statement.where(Problem.opened_at >= filters.opened_from)
    if filters.opened_to is not None:
        statement = statement.where(Problem.opened_at < filters.opened_to)
    return statement


def search(
    *,
    session: Session,
    filters: ProblemFilters,
    params: PageParams,
    custom: Mapping[str, list[str]] | None = None,
) -> Page[Any]:
    """One page of problems matching ``filters`` and the ``cf.<name>`` filters ``custom``; with
    ``q``, best matches first. ``params.sort`` may name custom fields (``cf.<name>``)."""
    statement = _filtered(select(Problem), filters, session=session, custom=custom)
    default_sort: tuple[Any, ...] = DEFAULT_SORT
    text = (filters.q or "").strip()
    if text:
        query = textsearch.web_query(SEARCH_CONFIG, text)
        statement = statement.where(
            or_(
                Problem.search_vector.op("@@")(query),
                custom_fields.search_vector(SEARCH_CONFIG, Problem.custom_fields).op("@@")(query),
            )
        )
        default_sort = (textsearch.rank(Problem.search_vector, query).desc(), *DEFAULT_SORT)
    sortable = SORTABLE | custom_fields.sortable(
        session=session,
        record_type=RecordType.problem,
        column=Problem.custom_fields,
        sort=params.sort,
    )
    return paginate(session, statement, params, sortable=sortable, default_sort=default_sort)


def history(*, session: Session, problem: Problem, params: PageParams) -> Page[Any]:
    return events.history(
        session=session, entity_type=EntityType.problem, entity_id=problem.id, params=params
    )


# ----------------------------------------------------------- known errors, for the knowledge base


def match_known_errors(
    *,
    session: Session,
    text: str,
    shared_words: bool,
    limit: int,
    service: str | None = None,
    category: str | None = None,
    count: bool = True,
) -> tuple[list[tuple[Problem, float, str | None]], int]:
    """Published known errors matching ``text`` (as a web search, or sharing at least two of its
    words with ``shared_words``: ``textsearch.shared_words_query``), best first;
    with no text, every one, newest first. Up to ``limit`` (problem, rank, safe snippet) and
    the number matching in all (without ``count``, just the hits')."""
    statement = select(Problem).where(Problem.known_error)
    for column, value in ((Problem.service, service), (Problem.category, category)):
        if value:
            statement = statement.where(func.lower(column) == value.strip().lower())
    text = text.strip()
    query = None
    if text:
        if shared_words:
            query = textsearch.shared_words_query(session, SEARCH_CONFIG, text)
            if query is None:
                return [], 0
        else:
            query = textsearch.web_query(SEARCH_CONFIG, text)
        statement = statement.where(Problem.search_vector.op("@@")(query))
    total = None
    if count:
        matching = statement.with_only_columns(Problem.id).subquery()
        total = session.scalar(select(func.count()).select_from(matching)) or 0
    if total == 0 or limit <= 0:
        return [], total or 0
    newest = (Problem.known_error_at.desc(), Problem.id)
    if query is None:
        found = session.scalars(statement.order_by(*newest).limit(limit).options(lazyload("*")))
        found = found.all()
        return [(problem, 0.0, None) for problem in found], len(found) if total is None else total
    document = func.concat_ws(
        " ", Problem.symptom, Problem.root_cause, Problem.workaround, Problem.description
    )
    rank = textsearch.rank(Problem.search_vector, query)
    ranked = statement.with_only_columns(Problem.id, rank.label("rank"))
    ranked = ranked.order_by(rank.desc(), *newest).limit(limit).subquery()
    # A hit is read for its own columns: not its owner, team and CIs (loaded by default).
    rows = session.execute(
        select(Problem, ranked.c.rank, textsearch.headline(SEARCH_CONFIG, document, query))
        .join(ranked, ranked.c.id == Problem.id)
        .order_by(ranked.c.rank.desc(), *newest)
        .options(lazyload("*"))
    ).all()
    hits = [(problem, float(rank), textsearch.safe_snippet(raw)) for problem, rank, raw in rows]
    return hits, len(hits) if total is None else total
