"""Mail templates: Jinja2 in a sandbox (admins write the overrides), plain text as written and
HTML auto-escaped, so a comment's ``<script>`` arrives as text.

Each event type has a built-in mail (``templates/defaults.yaml``); an admin's override in
``notification_templates`` replaces it whole. An override that fails to render (it names
something that is not there in a way Jinja2 refuses) falls back to the built-in one, logged:
a template mistake must not stop mail.
"""

import logging
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml
from jinja2 import Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy.orm import Session

from operational.notifications.enums import EventType
from operational.notifications.models import MailTemplate

logger = logging.getLogger("operational.notifications")

SUBJECT_MAX_LENGTH = 300


@dataclass(frozen=True)
class TemplateSource:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


_TEXT = SandboxedEnvironment(autoescape=False, keep_trailing_newline=True)
_HTML = SandboxedEnvironment(autoescape=True, keep_trailing_newline=True)


@lru_cache
def defaults() -> dict[EventType, TemplateSource]:
    """The built-in templates, by event type."""
    source = resources.files("operational.notifications").joinpath("templates", "defaults.yaml")
    raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    return {
        EventType(name): TemplateSource(subject=t["subject"], text=t["text"], html=t["html"])
        for name, t in raw.items()
    }


def check(source: TemplateSource) -> None:
    """Raise ``jinja2.TemplateSyntaxError`` when any part does not parse."""
    _TEXT.parse(source.subject)
    _TEXT.parse(source.text)
    _HTML.parse(source.html)


def one_line(value: str) -> str:
    """A header value: one line, no control characters, bounded."""
    cleaned = " ".join(value.split())
    return cleaned[:SUBJECT_MAX_LENGTH]


@lru_cache(maxsize=256)
def _compiled(kind: str, source: str) -> Template:
    """Compiling is most of a render's cost: each template source is compiled once."""
    return (_HTML if kind == "html" else _TEXT).from_string(source)


def render_source(source: TemplateSource, context: dict[str, Any]) -> Rendered:
    return Rendered(
        subject=one_line(_compiled("text", source.subject).render(context)),
        text=_compiled("text", source.text).render(context),
        html=_compiled("html", source.html).render(context),
    )


def source_for(*, session: Session, event_type: EventType) -> tuple[TemplateSource, bool]:
    """The template in force and whether it is an admin's override."""
    override = session.get(MailTemplate, str(event_type))
    if override is not None:
        return (
            TemplateSource(
                subject=override.subject, text=override.body_text, html=override.body_html
            ),
            True,
        )
    return defaults()[event_type], False


def render(*, session: Session, event_type: EventType, context: dict[str, Any]) -> Rendered:
    """The mail of ``event_type`` for ``context``; the ticket number is always in the subject."""
    source, overridden = source_for(session=session, event_type=event_type)
    try:
        rendered = render_source(source, context)
    except TemplateError:
        if not overridden:
            raise
        logger.exception(
            "template override failed; using the built-in one",
            extra={"event_type": str(event_type)},
        )
        rendered = render_source(defaults()[event_type], context)
    number = context.get("ticket_number")
    if number and number not in rendered.subject:
        rendered = Rendered(
            subject=one_line(f"[{number}] {rendered.subject}"),
            text=rendered.text,
            html=rendered.html,
        )
    return rendered
