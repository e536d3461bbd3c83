"""The service catalog, requests (REQ), their items (RITM), approvals and fulfilment tasks
(SCTASK). Histories are in the event log (entities catalog_item, request, request_item,
request_task); docs/requests.md describes the lifecycle."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    Sequence,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from operational.auth.models import Team, User
from operational.core.db import SCHEMA, Base, sql_values
from operational.core.surveys import SURVEY_CHECKS, SurveyColumns
from operational.customfields.models import custom_fields_object
from operational.requests.enums import (
    ApprovalRule,
    ApprovalState,
    ClockState,
    ItemState,
    RequestState,
    StageState,
    TaskState,
)

request_number_seq = Sequence("request_number_seq", schema=SCHEMA, metadata=Base.metadata)
request_item_number_seq = Sequence("request_item_number_seq", schema=SCHEMA, metadata=Base.metadata)
request_task_number_seq = Sequence("request_task_number_seq", schema=SCHEMA, metadata=Base.metadata)


def _now_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class CatalogCategory(Base):
    __tablename__ = "catalog_categories"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=100, server_default="100")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = _now_column()


class CatalogItem(Base):
    """An orderable item, as it stands now. Every change is a new version
    (``CatalogItemVersion``); an order records the version it was placed against."""

    __tablename__ = "catalog_items"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("catalog_categories.id"), index=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3), default="EUR", server_default="EUR")
    fulfilment_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    # The delivery target, in business minutes of the calendar (null: 24x7 UTC).
    delivery_minutes: Mapped[int] = mapped_column(Integer)
    calendar_id: Mapped[int | None] = mapped_column(ForeignKey("sla_calendars.id"))
    # Who may order it: any of these roles or members of any of these teams (both empty: all).
    orderable_roles: Mapped[list[str]] = mapped_column(
        ARRAY(String(32)), default=list, server_default="{}"
    )
    orderable_team_ids: Mapped[list[int]] = mapped_column(
        ARRAY(BigInteger), default=list, server_default="{}"
    )
    # JSON Schema of the order form; the approval policy and fulfilment plan (schemas.py).
    form_schema: Mapped[dict[str, Any]] = mapped_column(JSONB)
    approval_policy: Mapped[dict[str, Any]] = mapped_column(JSONB)
    fulfilment_plan: Mapped[dict[str, Any]] = mapped_column(JSONB)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = _now_column()

    category: Mapped[CatalogCategory] = relationship(lazy="joined")

    __table_args__ = (
        CheckConstraint("delivery_minutes > 0", name="delivery_positive"),
        CheckConstraint("price is null or price >= 0", name="price_not_negative"),
    )


class CatalogItemVersion(Base):
    """What an item was at one version: everything an order placed against it relied on."""

    __tablename__ = "catalog_item_versions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("catalog_items.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("item_id", "version"),)


class Request(Base):
    """One order (REQ…): one or more request items, one per line."""

    __tablename__ = "requests"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    justification: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(32), default=RequestState.open.value, index=True)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Custom field values by name (record type "request"), written only through this service
    # after customfields.service.validate (docs/custom-fields.md).
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    source_system: Mapped[str] = mapped_column(
        String(64), default="native", server_default="native"
    )
    external_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = _now_column()

    requester: Mapped[User] = relationship(foreign_keys=[requester_id], lazy="joined")
    items: Mapped[list["RequestItem"]] = relationship(
        back_populates="request", lazy="selectin", order_by="RequestItem.line"
    )

    __table_args__ = (
        UniqueConstraint("source_system", "external_id"),
        CheckConstraint(f"state in ({sql_values(RequestState)})", name="known_state"),
        custom_fields_object(),
        Index(
            "ix_requests_custom_fields",
            "custom_fields",
            postgresql_using="gin",
            postgresql_ops={"custom_fields": "jsonb_path_ops"},
        ),
    )


class RequestItem(Base):
    """One line of a request (RITM…): a catalog item at a version, its answers, its approvals,
    its fulfilment and its delivery clock."""

    __tablename__ = "request_items"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), index=True
    )
    line: Mapped[int] = mapped_column(SmallInteger)
    catalog_item_id: Mapped[int] = mapped_column(ForeignKey("catalog_items.id"), index=True)
    item_version: Mapped[int] = mapped_column(Integer)
    item_name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    answers: Mapped[dict[str, Any]] = mapped_column(JSONB)
    cost: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    state: Mapped[str] = mapped_column(String(32), index=True)
    fulfilment_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When it ended for good: delivered, rejected or cancelled.
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    # Order to end of approval, and end of approval to delivery, in calendar and business
    # minutes; business fulfilment leaves out the time spent waiting for the requester.
    approval_wait_minutes: Mapped[float | None] = mapped_column(Float)
    approval_wait_business_minutes: Mapped[float | None] = mapped_column(Float)
    fulfilment_minutes: Mapped[float | None] = mapped_column(Float)
    fulfilment_business_minutes: Mapped[float | None] = mapped_column(Float)
    # The delivery clock, replayed from the item's log by the SLA engine's timeline.
    sla_calendar_id: Mapped[int | None] = mapped_column(ForeignKey("sla_calendars.id"))
    sla_target_minutes: Mapped[int] = mapped_column(Integer)
    sla_state: Mapped[str] = mapped_column(String(16), default=ClockState.running.value)
    sla_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sla_elapsed_minutes: Mapped[float] = mapped_column(Float, default=0.0)
    sla_paused_minutes: Mapped[float] = mapped_column(Float, default=0.0)
    sla_breached_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sla_next_alert_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sla_computed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    source_system: Mapped[str] = mapped_column(
        String(64), default="native", server_default="native"
    )
    external_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = _now_column()

    request: Mapped[Request] = relationship(back_populates="items", lazy="joined")
    fulfilment_team: Mapped[Team | None] = relationship(lazy="joined")

    __table_args__ = (
        UniqueConstraint("source_system", "external_id"),
        UniqueConstraint("request_id", "line"),
        CheckConstraint(f"state in ({sql_values(ItemState)})", name="known_state"),
        CheckConstraint(f"sla_state in ({sql_values(ClockState)})", name="known_sla_state"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_request_items_sla_next_alert_at", "sla_next_alert_at"),
    )


class ApprovalStage(Base):
    """One stage of a request item's approval policy, as the order instantiated it."""

    __tablename__ = "request_approval_stages"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    request_item_id: Mapped[int] = mapped_column(
        ForeignKey("request_items.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(SmallInteger)
    name: Mapped[str] = mapped_column(String(120))
    rule: Mapped[str] = mapped_column(String(16))
    quorum: Mapped[int | None] = mapped_column(SmallInteger)
    state: Mapped[str] = mapped_column(String(16))
    # Why it was skipped (its condition), or how it was decided.
    note: Mapped[str | None] = mapped_column(Text)
    reminder_minutes: Mapped[int | None] = mapped_column(Integer)
    escalation_minutes: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    approvals: Mapped[list["Approval"]] = relationship(
        back_populates="stage", lazy="selectin", order_by="Approval.id"
    )

    __table_args__ = (
        UniqueConstraint("request_item_id", "position"),
        CheckConstraint(f"state in ({sql_values(StageState)})", name="known_state"),
        CheckConstraint(f"rule in ({sql_values(ApprovalRule)})", name="known_rule"),
    )


class Approval(Base):
    """One approver's part in a stage. A delegate decides on the approver's behalf."""

    __tablename__ = "request_approvals"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    stage_id: Mapped[int] = mapped_column(
        ForeignKey("request_approval_stages.id", ondelete="CASCADE")
    )
    request_item_id: Mapped[int] = mapped_column(
        ForeignKey("request_items.id", ondelete="CASCADE"), index=True
    )
    approver_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    comment: Mapped[str | None] = mapped_column(Text)
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Since then ``escalated_to`` (the approver's manager, or an escalation rule's person) may
    # decide in the approver's place too.
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    escalated_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The worker's scan index: the next reminder or escalation while pending.
    next_alert_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)

    stage: Mapped[ApprovalStage] = relationship(back_populates="approvals", lazy="joined")
    item: Mapped[RequestItem] = relationship(lazy="joined")
    approver: Mapped[User] = relationship(foreign_keys=[approver_id], lazy="joined")
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id], lazy="joined")
    escalated_to: Mapped[User | None] = relationship(foreign_keys=[escalated_to_id], lazy="joined")

    __table_args__ = (
        UniqueConstraint("stage_id", "approver_id"),
        CheckConstraint(f"state in ({sql_values(ApprovalState)})", name="known_state"),
    )


class Delegation(Base):
    """From ``starts_at`` to ``ends_at``, ``delegate`` may decide ``delegator``'s approvals."""

    __tablename__ = "approval_delegations"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    delegator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    delegate_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now_column()

    delegator: Mapped[User] = relationship(foreign_keys=[delegator_id], lazy="joined")
    delegate: Mapped[User] = relationship(foreign_keys=[delegate_id], lazy="joined")

    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("delegate_id <> delegator_id", name="not_to_oneself"),
    )


class RequestTask(Base):
    """One task of an item's fulfilment plan (SCTASK…), for one team."""

    __tablename__ = "request_tasks"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    request_item_id: Mapped[int] = mapped_column(
        ForeignKey("request_items.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(SmallInteger)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    assignment_group_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    close_notes: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    source_system: Mapped[str] = mapped_column(
        String(64), default="native", server_default="native"
    )
    external_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    item: Mapped[RequestItem] = relationship(lazy="joined")
    assignment_group: Mapped[Team | None] = relationship(lazy="joined")
    assignee: Mapped[User | None] = relationship(lazy="joined")

    __table_args__ = (
        UniqueConstraint("source_system", "external_id"),
        UniqueConstraint("request_item_id", "position"),
        CheckConstraint(f"state in ({sql_values(TaskState)})", name="known_state"),
    )


class RequestSurvey(SurveyColumns, Base):
    """The satisfaction survey opened when a request closes, answered once by token."""

    __tablename__ = "request_csat_surveys"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), index=True
    )
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    request: Mapped[Request] = relationship(lazy="joined")

    __table_args__ = tuple(
        CheckConstraint(condition, name=name) for name, condition in SURVEY_CHECKS.items()
    )
