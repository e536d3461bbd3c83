from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Sequence,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from operational.auth.models import Team, User
from operational.core.db import SCHEMA, Base, sql_values
from operational.core.surveys import SURVEY_CHECKS, SurveyColumns
from operational.customfields.models import custom_fields_object
from operational.customfields.models import search_expression as custom_search_expression
from operational.incidents.enums import Channel, HoldReason, IncidentState

# Full-text search configuration of the generated search columns and of the queries against them.
SEARCH_CONFIG = "english"

incident_number_seq = Sequence("incident_number_seq", schema=SCHEMA, metadata=Base.metadata)


class Incident(Base):
    """One incident, native or imported. Its history is in the event log (entity 'incident')."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # INC0001234, from incident_number_seq; imported tickets keep their own id in external_id.
    number: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)

    requester_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    channel: Mapped[str] = mapped_column(String(32), default=Channel.portal.value)

    category: Mapped[str | None] = mapped_column(String(120), index=True)
    subcategory: Mapped[str | None] = mapped_column(String(120))
    service: Mapped[str | None] = mapped_column(String(200), index=True)
    configuration_item: Mapped[str | None] = mapped_column(String(200))
    location: Mapped[str | None] = mapped_column(String(200))

    impact: Mapped[int] = mapped_column(SmallInteger)
    urgency: Mapped[int] = mapped_column(SmallInteger)
    priority: Mapped[int] = mapped_column(SmallInteger, index=True)
    priority_overridden: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default="false"
    )
    priority_override_reason: Mapped[str | None] = mapped_column(Text)
    # What a requester (no incident:write) proposed when raising it; agents set impact and
    # urgency (docs/incidents.md, "What requesters may set").
    suggested_impact: Mapped[int | None] = mapped_column(SmallInteger)
    suggested_urgency: Mapped[int | None] = mapped_column(SmallInteger)

    assignment_group_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)

    state: Mapped[str] = mapped_column(String(32), default=IncidentState.new.value, index=True)
    hold_reason: Mapped[str | None] = mapped_column(String(32))
    resolution_code: Mapped[str | None] = mapped_column(String(120))
    resolution_notes: Mapped[str | None] = mapped_column(Text)

    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )

    # Optimistic concurrency: updates must name the version they read (If-Match), else 412.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    reopen_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reassignment_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    first_assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    source_system: Mapped[str] = mapped_column(
        String(64), default="native", server_default="native"
    )
    external_id: Mapped[str | None] = mapped_column(String(200))
    # The source tool's own SLA verdict (e.g. ServiceNow made_sla), kept beside ours.
    source_made_sla: Mapped[bool | None] = mapped_column(Boolean)
    problem_ref: Mapped[str | None] = mapped_column(String(64))
    change_ref: Mapped[str | None] = mapped_column(String(64))
    ci_id: Mapped[int | None] = mapped_column(
        ForeignKey("configuration_items.id", ondelete="SET NULL"), index=True
    )
    caused_by_change_id: Mapped[int | None] = mapped_column(
        ForeignKey("changes.id", ondelete="SET NULL"), index=True
    )
    # The problem behind the incident (operational.problems links it, see incidents/links.py).
    problem_id: Mapped[int | None] = mapped_column(
        ForeignKey("problems.id", ondelete="SET NULL"), index=True
    )

    # Facts for first-contact resolution and MTTR (definitions in docs/incidents.md).
    first_assignment_group_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    first_assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    escalated: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    requester_replied_before_resolution: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default="false"
    )

    # Custom field values by name, written only through this service after
    # customfields.service.validate (docs/custom-fields.md).
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")

    # Kept by PostgreSQL itself; comments have their own vector (see docs/incidents.md). The
    # custom fields' string values weigh least.
    search_vector: Mapped[str] = mapped_column(
        TSVECTOR,
        Computed(
            f"setweight(to_tsvector('{SEARCH_CONFIG}'::regconfig, coalesce(number, '')), 'A')"
            f" || setweight(to_tsvector('{SEARCH_CONFIG}'::regconfig, coalesce(title, '')), 'A')"
            f" || setweight(to_tsvector('{SEARCH_CONFIG}'::regconfig, coalesce(description, '')),"
            " 'B')"
            f" || setweight({custom_search_expression(SEARCH_CONFIG)}, 'C')",
            persisted=True,
        ),
        deferred=True,
    )

    requester: Mapped[User | None] = relationship(foreign_keys=[requester_id], lazy="joined")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id], lazy="joined")
    assignment_group: Mapped[Team | None] = relationship(
        foreign_keys=[assignment_group_id], lazy="joined"
    )

    __table_args__ = (
        UniqueConstraint("source_system", "external_id"),
        CheckConstraint(f"state in ({sql_values(IncidentState)})", name="known_state"),
        CheckConstraint(
            f"hold_reason is null or hold_reason in ({sql_values(HoldReason)})",
            name="known_hold_reason",
        ),
        CheckConstraint(f"channel in ({sql_values(Channel)})", name="known_channel"),
        CheckConstraint("impact between 1 and 3", name="impact_range"),
        CheckConstraint("urgency between 1 and 3", name="urgency_range"),
        CheckConstraint("priority between 1 and 5", name="priority_range"),
        CheckConstraint(
            "suggested_impact is null or suggested_impact between 1 and 3",
            name="suggested_impact_range",
        ),
        CheckConstraint(
            "suggested_urgency is null or suggested_urgency between 1 and 3",
            name="suggested_urgency_range",
        ),
        Index("ix_incidents_search_vector", "search_vector", postgresql_using="gin"),
        custom_fields_object(),
        Index(
            "ix_incidents_custom_fields",
            "custom_fields",
            postgresql_using="gin",
            postgresql_ops={"custom_fields": "jsonb_path_ops"},
        ),
        # dbt's incremental models find the incidents created since their last run through it
        # (BRIN: rows are inserted in created_at order, so it costs writes next to nothing).
        Index("ix_incidents_created_at", "created_at", postgresql_using="brin"),
    )


class IncidentComment(Base):
    __tablename__ = "incident_comments"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Public comments are seen by the requester; work notes (is_public false) by agents only.
    is_public: Mapped[bool] = mapped_column(Boolean)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    search_vector: Mapped[str] = mapped_column(
        TSVECTOR,
        Computed(f"to_tsvector('{SEARCH_CONFIG}'::regconfig, body)", persisted=True),
        deferred=True,
    )

    author: Mapped[User | None] = relationship(lazy="joined")

    __table_args__ = (
        Index("ix_incident_comments_incident_id_created_at", "incident_id", "created_at"),
        Index("ix_incident_comments_search_vector", "search_vector", postgresql_using="gin"),
    )


class CsatSurvey(SurveyColumns, Base):
    """A satisfaction survey opened when an incident is resolved, answered once: by its requester
    signed in, or by whoever holds its one-time token (docs/incidents.md, "Satisfaction")."""

    __tablename__ = "csat_surveys"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    incident: Mapped[Incident] = relationship(lazy="joined")

    __table_args__ = tuple(
        CheckConstraint(condition, name=name) for name, condition in SURVEY_CHECKS.items()
    )
