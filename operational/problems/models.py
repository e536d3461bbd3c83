"""Problems: the causes behind incidents. A problem's history is in the event log (entity
'problem'); the incidents it explains point at it (``incidents.problem_id``)."""

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
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from operational.auth.models import Team, User
from operational.cmdb.models import ConfigurationItem
from operational.core.db import SCHEMA, Base, sql_values
from operational.customfields.models import custom_fields_object, custom_fields_search_index
from operational.problems.enums import ProblemState, RootCauseCategory

# Problems are searched (and suggested beside articles) in English, like incidents.
SEARCH_CONFIG = "english"

problem_number_seq = Sequence("problem_number_seq", schema=SCHEMA, metadata=Base.metadata)


def _weighted(column: str, weight: str) -> str:
    return (
        f"setweight(to_tsvector('{SEARCH_CONFIG}'::regconfig, coalesce({column}, '')), '{weight}')"
    )


class Problem(Base):
    __tablename__ = "problems"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # PRB0001234, from problem_number_seq; imported problems keep their own id in external_id.
    number: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    service: Mapped[str | None] = mapped_column(String(200), index=True)
    category: Mapped[str | None] = mapped_column(String(120), index=True)

    impact: Mapped[int] = mapped_column(SmallInteger)
    urgency: Mapped[int] = mapped_column(SmallInteger)
    priority: Mapped[int] = mapped_column(SmallInteger, index=True)

    assignment_group_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    state: Mapped[str] = mapped_column(String(32), default=ProblemState.new.value, index=True)
    close_reason: Mapped[str | None] = mapped_column(Text)

    # Root cause analysis (docs/problems.md): each change is an event.
    symptom: Mapped[str | None] = mapped_column(Text)
    root_cause: Mapped[str | None] = mapped_column(Text)
    root_cause_category: Mapped[str | None] = mapped_column(String(32))
    five_whys: Mapped[list[str]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    contributing_factors: Mapped[list[str]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    root_cause_ci_id: Mapped[int | None] = mapped_column(
        ForeignKey("configuration_items.id", ondelete="SET NULL")
    )
    caused_by_change_id: Mapped[int | None] = mapped_column(
        ForeignKey("changes.id", ondelete="SET NULL"), index=True
    )
    fix_notes: Mapped[str | None] = mapped_column(Text)
    # Custom field values by name, written only through this service after
    # customfields.service.validate (docs/custom-fields.md).
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")

    # Known error: a known root cause with a workaround, published to the agents.
    workaround: Mapped[str | None] = mapped_column(Text)
    known_error: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    known_error_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    root_cause_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Optimistic concurrency: updates must name the version they read (If-Match), else 412.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    source_system: Mapped[str] = mapped_column(
        String(64), default="native", server_default="native"
    )
    external_id: Mapped[str | None] = mapped_column(String(200))

    search_vector: Mapped[str] = mapped_column(
        TSVECTOR,
        Computed(
            " || ".join(
                (
                    _weighted("number", "A"),
                    _weighted("title", "A"),
                    _weighted("symptom", "B"),
                    _weighted("root_cause", "B"),
                    _weighted("workaround", "B"),
                    _weighted("description", "C"),
                )
            ),
            persisted=True,
        ),
        deferred=True,
    )

    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id], lazy="joined")
    assignment_group: Mapped[Team | None] = relationship(lazy="joined")
    root_cause_ci: Mapped[ConfigurationItem | None] = relationship(lazy="joined")
    ci_links: Mapped[list["ProblemCI"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ProblemCI.ci_id"
    )

    __table_args__ = (
        UniqueConstraint("source_system", "external_id"),
        CheckConstraint(f"state in ({sql_values(ProblemState)})", name="known_state"),
        CheckConstraint(
            "root_cause_category is null or root_cause_category in "
            f"({sql_values(RootCauseCategory)})",
            name="known_root_cause_category",
        ),
        CheckConstraint("impact between 1 and 3", name="impact_range"),
        CheckConstraint("urgency between 1 and 3", name="urgency_range"),
        CheckConstraint("priority between 1 and 5", name="priority_range"),
        CheckConstraint(
            "not known_error or (workaround is not null and known_error_at is not null)",
            name="known_error_has_workaround",
        ),
        Index("ix_problems_search_vector", "search_vector", postgresql_using="gin"),
        custom_fields_object(),
        Index(
            "ix_problems_custom_fields",
            "custom_fields",
            postgresql_using="gin",
            postgresql_ops={"custom_fields": "jsonb_path_ops"},
        ),
        # A search's "own words OR custom fields' words" is two index scans, not a table scan.
        custom_fields_search_index("problems", SEARCH_CONFIG),
    )

    @property
    def ci_ids(self) -> list[int]:
        return [link.ci_id for link in self.ci_links]

    @property
    def cis(self) -> list[ConfigurationItem]:
        return [link.ci for link in self.ci_links]


class ProblemCI(Base):
    """An affected CI of a problem."""

    __tablename__ = "problem_cis"

    problem_id: Mapped[int] = mapped_column(
        ForeignKey("problems.id", ondelete="CASCADE"), primary_key=True
    )
    ci_id: Mapped[int] = mapped_column(ForeignKey("configuration_items.id"), primary_key=True)

    ci: Mapped[ConfigurationItem] = relationship(lazy="joined")

    __table_args__ = (Index("ix_problem_cis_ci_id", "ci_id"),)
