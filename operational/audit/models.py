from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from operational.core.db import Base


class Seal(Base):
    """A signed root over every record's chain head at one moment (docs/security.md,
    "Audit trail"). Append-only, like the event log; seals form a chain of their own through
    ``previous_signature``."""

    __tablename__ = "audit_seals"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sealed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    chain_count: Mapped[int] = mapped_column(BigInteger)
    event_count: Mapped[int] = mapped_column(BigInteger)  # the sum of the heads' seq
    root: Mapped[str] = mapped_column(String(64))
    previous_signature: Mapped[str | None] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(64))  # HMAC-SHA256 with the audit key
    key_id: Mapped[str] = mapped_column(String(16))


class SealHead(Base):
    """A chain head that a seal recorded: only the chains whose head moved since the seal
    before it (the heads of seal N are those of seal N-1 updated by seal N's rows)."""

    __tablename__ = "audit_seal_heads"

    seal_id: Mapped[int] = mapped_column(ForeignKey("audit_seals.id"), primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    entity_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
