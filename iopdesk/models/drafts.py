"""Unsaved form work kept for the person who typed it (intake, sign-in sheet marks)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from iopdesk.models.base import UTCDateTime, utcnow


class FormDraft(SQLModel, table=True):
    """What a user had typed into a form when they signed out, were locked out or closed the
    app: kept in the encrypted database (never in a file beside it), one per user and form,
    offered back the next time that user opens the same form, deleted once used."""

    __tablename__ = "form_draft"
    __table_args__ = (Index("ux_form_draft_user_form", "user_id", "form", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id")
    form: str = Field(max_length=80)  # e.g. "intake", "signin:1234"
    data_json: str
    saved_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
