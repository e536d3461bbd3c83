"""Compliance exports: one row per generated folder, one row per file in it.

Exports are never rewritten. A re-run for the same period adds a new ``version``.
"""

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from operational.core.db import Base


class Export(Base):
    __tablename__ = "exports"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # The period the rows cover, both days inclusive.
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer)
    # Folder name under <ITSM_HOME>/exports/.
    folder: Mapped[str] = mapped_column(String(200), unique=True)
    generated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    generated_by: Mapped[str] = mapped_column(String(200))
    git_commit: Mapped[str | None] = mapped_column(String(64))
    dbt_version: Mapped[str] = mapped_column(String(32))
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    files: Mapped[list["ExportFile"]] = relationship(
        back_populates="export",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="ExportFile.name",
    )

    __table_args__ = (
        UniqueConstraint("period_start", "period_end", "version"),
        CheckConstraint("period_start <= period_end", name="period_order"),
        CheckConstraint("version >= 1", name="positive_version"),
    )


class ExportFile(Base):
    __tablename__ = "export_files"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    export_id: Mapped[int] = mapped_column(ForeignKey("exports.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(16))
    # The mart the file holds; null for the workbook (every mart) and the manifest.
    mart: Mapped[str | None] = mapped_column(String(120))
    row_count: Mapped[int | None] = mapped_column(BigInteger)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))

    export: Mapped[Export] = relationship(back_populates="files")

    __table_args__ = (
        UniqueConstraint("export_id", "name"),
        CheckConstraint(
            "format in ('csv', 'parquet', 'xlsx', 'json', 'jsonl', 'py')", name="known_format"
        ),
    )
