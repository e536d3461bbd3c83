"""The web UI's own tables: browser sessions and saved queue filters (docs/ui.md, "Sessions")."""

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from operational.core.db import Base


class UiSession(Base):
    """One browser's session. ``id`` is the SHA-256 of the cookie's random value (the table
    never holds a usable cookie); ``state`` is the session (tokens, CSRF token, who, pending
    steps, messages) as JSON, encrypted with the install's TOTP key (Fernet)."""

    __tablename__ = "ui_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(Text)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class UiSavedFilter(Base):
    __tablename__ = "ui_saved_filters"

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    query: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
