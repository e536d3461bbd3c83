from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from operational.auth.dependencies import require
from operational.auth.models import User
from operational.cmdb import service
from operational.cmdb.dependencies import CurrentCI, CurrentCIClass
from operational.cmdb.enums import (
    MAX_IMPACT_DEPTH,
    CIStatus,
    Criticality,
    Environment,
    ImpactDirection,
    RelationshipType,
)
from operational.cmdb.schemas import (
    CIBrief,
    CIClassCreate,
    CIClassRead,
    CIClassUpdate,
    CICreate,
    CIPage,
    CIRead,
    CIUpdate,
    ImpactItem,
    ImpactPage,
    ImpactStep,
    RelationshipCreate,
    RelationshipPage,
    RelationshipRead,
)
from operational.core.concurrency import ExpectedVersion, set_etag
from operational.core.db import DbSession
from operational.core.openapi import problems
from operational.core.pagination import PageQuery
from operational.events.schemas import EventPage, EventRead

router = APIRouter(tags=["cmdb"])


# --- classes -----------------------------------------------------------------------------------


@router.get(
    "/ci-classes", dependencies=[require("ci:read")], summary="CI classes and their schemas"
)
def list_classes(session: DbSession) -> list[CIClassRead]:
    return [CIClassRead.model_validate(item) for item in service.list_classes(session=session)]


@router.post("/ci-classes", status_code=status.HTTP_201_CREATED, summary="Add a CI class")
def create_class(
    data: CIClassCreate, session: DbSession, user: Annotated[User, require("ci:write")]
) -> CIClassRead:
    return CIClassRead.model_validate(service.create_class(session=session, data=data, actor=user))


@router.get("/ci-classes/{name}", dependencies=[require("ci:read")], summary="One CI class")
def get_class(ci_class: CurrentCIClass) -> CIClassRead:
    return CIClassRead.model_validate(ci_class)


@router.patch(
    "/ci-classes/{name}",
    summary="Change a CI class; a new schema must accept the class's existing CIs",
)
def update_class(
    user: Annotated[User, require("ci:write")],
    ci_class: CurrentCIClass,
    data: CIClassUpdate,
    session: DbSession,
) -> CIClassRead:
    updated = service.update_class(session=session, ci_class=ci_class, data=data, actor=user)
    return CIClassRead.model_validate(updated)


# --- configuration items -----------------------------------------------------------------------


@router.get(
    "/cis",
    dependencies=[require("ci:read")],
    summary="Search configuration items",
    responses=problems(404),  # the class filtered on does not exist
)
def list_cis(
    session: DbSession,
    page: PageQuery,
    q: Annotated[str | None, Query(description="Part of the name, any case")] = None,
    ci_class: Annotated[str | None, Query(description="Class name, e.g. server")] = None,
    ci_status: Annotated[list[CIStatus], Query(alias="status")] = (),
    environment: Annotated[list[Environment], Query()] = (),
    owner_team_id: int | None = None,
    criticality: Annotated[list[Criticality], Query()] = (),
    attr: Annotated[
        list[str],
        Query(description="key=value on the attributes, repeatable: attr=os=linux&attr=cpu=8"),
    ] = (),
    attributes: Annotated[
        str | None, Query(description='A JSON object the attributes contain: {"os":"linux"}')
    ] = None,
) -> CIPage:
    found = service.search(
        session=session,
        params=page,
        q=q,
        ci_class=ci_class,
        status=[item.value for item in ci_status],
        environment=[item.value for item in environment],
        owner_team_id=owner_team_id,
        criticality=[int(item) for item in criticality],
        attr=attr,
        attributes=attributes,
    )
    return found.map(CIRead.model_validate)


@router.post(
    "/cis",
    status_code=status.HTTP_201_CREATED,
    summary="Add a configuration item",
    responses=problems(404),  # its class does not exist
)
def create_ci(
    data: CICreate,
    session: DbSession,
    response: Response,
    user: Annotated[User, require("ci:write")],
) -> CIRead:
    ci = service.create(session=session, data=data, actor=user)
    set_etag(response, ci.version)
    response.headers["Location"] = f"/api/v1/cis/{ci.id}"
    return CIRead.model_validate(ci)


# GET /cis/{ci_id} (a CI with its open incidents and upcoming changes) is served by the changes
# router: it gathers from domains above the CMDB, which the CMDB does not import.


@router.patch("/cis/{ci_id}", summary="Change a CI (If-Match: the ETag you read)")
def update_ci(
    user: Annotated[User, require("ci:write")],
    ci: CurrentCI,
    data: CIUpdate,
    expected_version: ExpectedVersion,
    session: DbSession,
    response: Response,
) -> CIRead:
    updated = service.update(
        session=session, ci_id=ci.id, data=data, expected_version=expected_version, actor=user
    )
    set_etag(response, updated.version)
    return CIRead.model_validate(updated)


@router.get("/cis/{ci_id}/history", dependencies=[require("ci:read")], summary="The CI's event log")
def ci_history(ci: CurrentCI, session: DbSession, page: PageQuery) -> EventPage:
    found = service.history(session=session, ci_id=ci.id, params=page)
    return found.map(EventRead.model_validate)


@router.get(
    "/cis/{ci_id}/impact",
    dependencies=[require("ci:read")],
    summary="Every CI affected by (downstream) or relied on by (upstream) this one, with paths",
)
def ci_impact(
    ci: CurrentCI,
    session: DbSession,
    page: PageQuery,
    direction: ImpactDirection = ImpactDirection.downstream,
    depth: Annotated[int, Query(ge=1, le=MAX_IMPACT_DEPTH)] = 5,
) -> ImpactPage:
    found, names, types = service.impact(
        session=session, ci_id=ci.id, direction=direction, depth=depth, params=page
    )
    items = []
    for reached in found.items:
        steps = [ImpactStep(ci_id=reached.path[0], name=names[reached.path[0]])]
        steps += [
            ImpactStep(
                ci_id=ci_id,
                name=names[ci_id],
                relationship_id=relationship_id,
                relationship_type=types[relationship_id],
            )
            for ci_id, relationship_id in zip(reached.path[1:], reached.via, strict=True)
        ]
        items.append(
            ImpactItem(ci=CIBrief.model_validate(reached.ci), depth=reached.depth, path=steps)
        )
    return ImpactPage(
        items=items,
        total=found.total,
        page=found.page,
        size=found.size,
        ci_id=ci.id,
        direction=direction.value,
        depth=depth,
    )


# --- relationships -----------------------------------------------------------------------------


@router.get(
    "/ci-relationships/types",
    dependencies=[require("ci:read")],
    summary="Relationship types: which forbid cycles, which way impact flows",
)
def relationship_types() -> list[dict]:
    return service.relationship_types()


@router.get("/ci-relationships", dependencies=[require("ci:read")], summary="List relationships")
def list_relationships(
    session: DbSession,
    page: PageQuery,
    ci_id: Annotated[int | None, Query(description="Either end is this CI")] = None,
    source_ci_id: int | None = None,
    target_ci_id: int | None = None,
    relationship_type: Annotated[list[RelationshipType], Query(alias="type")] = (),
) -> RelationshipPage:
    found = service.list_relationships(
        session=session,
        params=page,
        ci_id=ci_id,
        source_ci_id=source_ci_id,
        target_ci_id=target_ci_id,
        types=[item.value for item in relationship_type],
    )
    return found.map(RelationshipRead.model_validate)


@router.post(
    "/ci-relationships",
    status_code=status.HTTP_201_CREATED,
    summary="Relate two CIs: source <type> target (409 on a forbidden cycle)",
    responses=problems(404),  # a CI it names does not exist
)
def create_relationship(
    data: RelationshipCreate, session: DbSession, user: Annotated[User, require("ci:write")]
) -> RelationshipRead:
    relationship = service.create_relationship(session=session, data=data, actor=user)
    return RelationshipRead.model_validate(relationship)


@router.get(
    "/ci-relationships/{relationship_id}",
    dependencies=[require("ci:read")],
    summary="One relationship",
)
def get_relationship(relationship_id: int, session: DbSession) -> RelationshipRead:
    relationship = service.get_relationship(session=session, relationship_id=relationship_id)
    return RelationshipRead.model_validate(relationship)


@router.delete(
    "/ci-relationships/{relationship_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a relationship (recorded in both CIs' history)",
)
def delete_relationship(
    relationship_id: int, session: DbSession, user: Annotated[User, require("ci:write")]
) -> Response:
    relationship = service.get_relationship(session=session, relationship_id=relationship_id)
    service.delete_relationship(session=session, relationship=relationship, actor=user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
