"""Changes, their CAB decisions, standard-change templates, CAB rules and blackout windows.

A change's history is in the event log (entity 'change'); every CAB decision is there as an
``approval_decided`` event as well as a row of ``change_approvals``.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
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
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from operational.auth.models import Team, User
from operational.changes.enums import (
    ApprovalRule,
    ApprovalStage,
    CabOutcome,
    ChangeState,
    ChangeType,
    Decision,
    ReviewOutcome,
    RiskLevel,
)
from operational.cmdb.enums import Environment
from operational.cmdb.models import ConfigurationItem
from operational.core.db import SCHEMA, Base, sql_values
from operational.customfields.models import custom_fields_object, custom_fields_search_index

change_number_seq = Sequence("change_number_seq", schema=SCHEMA, metadata=Base.metadata)

# The text search configuration of the custom fields' words (ix_changes_custom_fields_search).
CUSTOM_SEARCH_CONFIG = "english"


class ChangeTemplate(Base):
    """A standard change model, pre-approved by the CAB: changes made from it skip the CAB."""

    __tablename__ = "change_templates"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    justification: Mapped[str | None] = mapped_column(Text)
    implementation_plan: Mapped[str | None] = mapped_column(Text)
    backout_plan: Mapped[str | None] = mapped_column(Text)
    test_plan: Mapped[str | None] = mapped_column(Text)
    # Answers to the risk questionnaire, fixed when the CAB approved the model.
    risk_answers: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CabRule(Base):
    """How the CAB decides for one change type. A change copies the rule when it enters a
    CAB round, so editing the rule never changes a vote in progress."""

    __tablename__ = "cab_rules"

    change_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    rule: Mapped[str] = mapped_column(String(16))
    quorum: Mapped[int | None] = mapped_column(SmallInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("change_type in ('normal', 'emergency')", name="cab_change_type"),
        CheckConstraint(f"rule in ({sql_values(ApprovalRule)})", name="known_rule"),
        CheckConstraint(
            "(rule = 'quorum' and quorum >= 1) or (rule <> 'quorum' and quorum is null)",
            name="quorum_with_rule",
        ),
    )


class Change(Base):
    __tablename__ = "changes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # CHG0000123, from change_number_seq; imported changes keep their own id in external_id.
    number: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    change_type: Mapped[str] = mapped_column(String(16), index=True)
    state: Mapped[str] = mapped_column(
        String(16), default=ChangeState.new.value, server_default=ChangeState.new.value, index=True
    )
    template_id: Mapped[int | None] = mapped_column(ForeignKey("change_templates.id"))

    requester_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # Who raised it in this system (the requester is whom it is for); null for imported changes.
    raised_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assignment_group_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    implementer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    justification: Mapped[str | None] = mapped_column(Text)
    implementation_plan: Mapped[str | None] = mapped_column(Text)
    backout_plan: Mapped[str | None] = mapped_column(Text)
    test_plan: Mapped[str | None] = mapped_column(Text)

    planned_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    planned_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    actual_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    actual_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    risk_answers: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    risk_score: Mapped[int | None] = mapped_column(SmallInteger)
    # Custom field values by name, written only through this service after
    # customfields.service.validate (docs/custom-fields.md).
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    risk_level: Mapped[str | None] = mapped_column(String(16))
    # How the score was reached: each factor, its input and its points (see changes/risk.py).
    risk_explanation: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    # The CAB round in progress or last held, with the rule copied when it opened.
    cab_stage: Mapped[str | None] = mapped_column(String(16))
    cab_round: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cab_rule: Mapped[str | None] = mapped_column(String(16))
    cab_quorum: Mapped[int | None] = mapped_column(SmallInteger)
    cab_outcome: Mapped[str | None] = mapped_column(String(16))

    conflict_override_reason: Mapped[str | None] = mapped_column(Text)
    conflict_overridden_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    review_outcome: Mapped[str | None] = mapped_column(String(16))
    review_caused_incidents: Mapped[bool | None] = mapped_column(Boolean)
    review_notes: Mapped[str | None] = mapped_column(Text)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    source_system: Mapped[str] = mapped_column(
        String(64), default="native", server_default="native"
    )
    external_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Optimistic concurrency: updates must name the version they read (If-Match), else 412.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    requester: Mapped[User | None] = relationship(foreign_keys=[requester_id], lazy="joined")
    raised_by: Mapped[User | None] = relationship(foreign_keys=[raised_by_id], lazy="joined")
    implementer: Mapped[User | None] = relationship(foreign_keys=[implementer_id], lazy="joined")
    assignment_group: Mapped[Team | None] = relationship(lazy="joined")
    template: Mapped[ChangeTemplate | None] = relationship(lazy="joined")
    ci_links: Mapped[list["ChangeCI"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ChangeCI.ci_id"
    )
    approvals: Mapped[list["ChangeApproval"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ChangeApproval.id"
    )

    __table_args__ = (
        UniqueConstraint("source_system", "external_id"),
        custom_fields_object(),
        Index(
            "ix_changes_custom_fields",
            "custom_fields",
            postgresql_using="gin",
            postgresql_ops={"custom_fields": "jsonb_path_ops"},
        ),
        # A search (q) is "title or number contains it, or the custom fields' words match it":
        # with an index on each side it reads its matches, not every change (pg_trgm's
        # trigrams serve the substring matches; migration 0030).
        Index(
            "ix_changes_title_trigram",
            "title",
            postgresql_using="gin",
            postgresql_ops={"title": "gin_trgm_ops"},
        ),
        Index(
            "ix_changes_number_trigram",
            "number",
            postgresql_using="gin",
            postgresql_ops={"number": "gin_trgm_ops"},
        ),
        custom_fields_search_index("changes", CUSTOM_SEARCH_CONFIG),
        CheckConstraint(f"change_type in ({sql_values(ChangeType)})", name="known_type"),
        CheckConstraint(f"state in ({sql_values(ChangeState)})", name="known_state"),
        CheckConstraint(
            f"risk_level is null or risk_level in ({sql_values(RiskLevel)})",
            name="known_risk_level",
        ),
        CheckConstraint(
            f"cab_stage is null or cab_stage in ({sql_values(ApprovalStage)})",
            name="known_cab_stage",
        ),
        CheckConstraint(
            f"cab_rule is null or cab_rule in ({sql_values(ApprovalRule)})", name="known_cab_rule"
        ),
        CheckConstraint(
            f"cab_outcome is null or cab_outcome in ({sql_values(CabOutcome)})",
            name="known_cab_outcome",
        ),
        CheckConstraint(
            f"review_outcome is null or review_outcome in ({sql_values(ReviewOutcome)})",
            name="known_review_outcome",
        ),
        CheckConstraint(
            "planned_start is null or planned_end is null or planned_end > planned_start",
            name="planned_window_order",
        ),
        Index("ix_changes_planned_start_planned_end", "planned_start", "planned_end"),
    )

    @property
    def ci_ids(self) -> list[int]:
        return [link.ci_id for link in self.ci_links]

    @property
    def cis(self) -> list[ConfigurationItem]:
        return [link.ci for link in self.ci_links]


class ChangeCI(Base):
    """An affected CI of a change."""

    __tablename__ = "change_cis"

    change_id: Mapped[int] = mapped_column(
        ForeignKey("changes.id", ondelete="CASCADE"), primary_key=True
    )
    ci_id: Mapped[int] = mapped_column(ForeignKey("configuration_items.id"), primary_key=True)

    ci: Mapped[ConfigurationItem] = relationship(lazy="joined")

    __table_args__ = (Index("ix_change_cis_ci_id", "ci_id"),)


class ChangeApproval(Base):
    """One CAB member's decision in one round."""

    __tablename__ = "change_approvals"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    change_id: Mapped[int] = mapped_column(ForeignKey("changes.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(16))
    round: Mapped[int] = mapped_column(Integer)
    approver_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    approver: Mapped[User] = relationship(lazy="joined")

    __table_args__ = (
        UniqueConstraint("change_id", "round", "approver_id"),
        CheckConstraint(f"stage in ({sql_values(ApprovalStage)})", name="known_stage"),
        CheckConstraint(f"decision in ({sql_values(Decision)})", name="known_decision"),
    )


class BlackoutWindow(Base):
    """A period in which no change may be scheduled (unless overridden with a reason).

    ``starts_at``/``ends_at`` are the first occurrence. ``rrule`` (RFC 5545 RRULE, daily or
    coarser) repeats it in ``timezone``, so "Saturdays 22:00-06:00 Europe/Berlin" keeps its local
    time across daylight-saving changes. ``environment`` limits it to CIs of that environment.
    """

    __tablename__ = "blackout_windows"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    rrule: Mapped[str | None] = mapped_column(Text)
    environment: Mapped[str | None] = mapped_column(String(32))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="window_order"),
        CheckConstraint(
            f"environment is null or environment in ({sql_values(Environment)})",
            name="known_environment",
        ),
    )
