"""The notifications service: the only writer of the outbox, the templates, the webhooks and
the preferences.

Other domains reach it through one function, ``enqueue``, called by their flows in the
transaction of the change they tell of: a rolled-back change sends nothing, and a committed one
is never forgotten, whatever happens to the process afterwards. The dispatcher
(``dispatcher.py``) sends what ``enqueue`` wrote.
"""

import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Any

from jinja2 import TemplateSyntaxError
from sqlalchemy import Select, any_, select
from sqlalchemy.orm import Session

from operational.auth.models import Team, User
from operational.core import encryption
from operational.core.config import Settings, get_settings
from operational.core.pagination import Page, PageParams, paginate
from operational.notifications import rendering
from operational.notifications.channels import FORMATTERS, addresses
from operational.notifications.channels.base import Envelope
from operational.notifications.channels.mail import thread_headers
from operational.notifications.enums import (
    PRIVATE_EVENT_TYPES,
    ChannelKind,
    Delivery,
    EventType,
    MessageState,
    WebhookFormat,
)
from operational.notifications.exceptions import (
    InvalidTemplate,
    MessageNotFound,
    NotDeadLettered,
    UnsafeWebhookUrl,
    WebhookNotFound,
)
from operational.notifications.models import (
    DefaultPreference,
    MailTemplate,
    OutboxMessage,
    Preference,
    Webhook,
)

DEFAULT_DELIVERY = Delivery.mail


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def new_key() -> str:
    return secrets.token_hex(16)


# --------------------------------------------------------------------------- the one entry point


def enqueue(
    *,
    session: Session,
    event_type: EventType | str,
    recipients: Iterable[int | User] = (),
    teams: Iterable[int | Team] = (),
    context: Mapping[str, Any],
    actor: User | None = None,
    webhooks: bool = True,
    webhook_ids: Iterable[int] | None = None,
    now: datetime | None = None,
) -> list[OutboxMessage]:
    """Write the messages that tell of ``event_type`` into the outbox, in the caller's
    transaction; returns them.

    - ``recipients``: users (or their ids). Deactivated users, users without an address and the
      ``actor`` (who did it and knows) get nothing; each other gets what their preference for the
      event type says (mail, a line in tomorrow's digest, or nothing).
    - ``teams``: a team with its own address gets one mail there; otherwise its active members
      count as recipients.
    - ``context``: the template's variables (``ticket_number``, ``ticket_title``, ``ticket_url``
      and the event's own; docs/notifications.md). The ticket number goes in the subject and
      the Message-ID.
    - every active webhook subscribed to the event type gets one message too (``webhooks=False``
      or a private event type such as the CSAT invitation: none); ``webhook_ids``: exactly
      these active webhooks instead, subscribed or not (an automation rule's webhook action).
    """
    event_type = EventType(event_type)
    now = _now(now)
    settings = get_settings()
    context = {
        "event_type": event_type.value,
        "actor_name": actor.display_name if actor else "ITSM",
        **context,
    }
    ticket_number = context.get("ticket_number")
    users, team_addresses = _addressees(session, recipients, teams, actor)
    defaults = _defaults(session)
    chosen = _preferences(session, [user.id for user in users], event_type)
    created: list[OutboxMessage] = []
    rendered_plain: rendering.Rendered | None = None

    def mail(address: str, name: str, user_id: int | None, state: MessageState) -> None:
        nonlocal rendered_plain
        rendered = rendering.render(
            session=session, event_type=event_type, context={**context, "recipient_name": name}
        )
        rendered_plain = rendered_plain or rendered
        key = new_key()
        created.append(
            OutboxMessage(
                idempotency_key=key,
                event_type=event_type.value,
                channel=ChannelKind.mail.value,
                state=state.value,
                recipient_user_id=user_id,
                recipient_address=address,
                ticket_number=ticket_number,
                subject=rendered.subject,
                body_text=rendered.text,
                body_html=rendered.html,
                headers=thread_headers(
                    token=key, domain=settings.message_id_domain, ticket_number=ticket_number
                ),
                next_attempt_at=now,
                created_at=now,
            )
        )

    for user in users:
        delivery = chosen.get(user.id) or defaults.get(event_type) or DEFAULT_DELIVERY
        if event_type == EventType.digest:
            delivery = Delivery.mail
        if delivery == Delivery.none:
            continue
        state = MessageState.held if delivery == Delivery.digest else MessageState.pending
        mail(user.email, user.display_name, user.id, state)
    for address, name in team_addresses:
        mail(address, name, None, MessageState.pending)

    if webhooks and event_type not in PRIVATE_EVENT_TYPES:
        hooks = (
            _subscribed(session, event_type)
            if webhook_ids is None
            else _active(session, webhook_ids)
        )
        if hooks:
            plain = rendered_plain or rendering.render(
                session=session, event_type=event_type, context={**context, "recipient_name": "all"}
            )
            for hook in hooks:
                key = new_key()
                envelope = Envelope(
                    id=key,
                    event_type=event_type.value,
                    occurred_at=now.isoformat(),
                    subject=plain.subject,
                    text=plain.text,
                    ticket_number=ticket_number,
                    url=context.get("ticket_url"),
                    data=_jsonable(dict(context)),
                )
                created.append(
                    OutboxMessage(
                        idempotency_key=key,
                        event_type=event_type.value,
                        channel=ChannelKind.webhook.value,
                        state=MessageState.pending.value,
                        webhook_id=hook.id,
                        ticket_number=ticket_number,
                        subject=plain.subject,
                        body_text=plain.text,
                        payload=FORMATTERS[WebhookFormat(hook.format)].body(envelope),
                        headers={},
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
    session.add_all(created)
    session.flush()
    return created


def _ids(values: Iterable[Any]) -> list[int]:
    return [value if isinstance(value, int) else value.id for value in values if value is not None]


def _addressees(
    session: Session,
    recipients: Iterable[int | User],
    teams: Iterable[int | Team],
    actor: User | None,
) -> tuple[list[Any], list[tuple[str, str]]]:
    user_ids = set(_ids(recipients))
    team_addresses: list[tuple[str, str]] = []
    team_ids = set(_ids(teams))
    if team_ids:
        for team in session.scalars(select(Team).where(Team.id.in_(team_ids))):
            if not team.is_active:
                continue
            if team.email:
                team_addresses.append((team.email, team.name))
            else:
                user_ids.update(member.user_id for member in team.members)
    if actor is not None:
        user_ids.discard(actor.id)
    if not user_ids:
        return [], team_addresses
    # Plain rows, not User entities: their role and team collections would cost two queries.
    users = session.execute(
        select(User.id, User.email, User.display_name)
        .where(User.id.in_(user_ids), User.is_active, User.email.is_not(None))
        .order_by(User.id)
    ).all()
    return list(users), team_addresses


def _defaults(session: Session) -> dict[EventType, Delivery]:
    return {
        EventType(row.event_type): Delivery(row.delivery)
        for row in session.scalars(select(DefaultPreference))
    }


def _preferences(
    session: Session, user_ids: list[int], event_type: EventType
) -> dict[int, Delivery]:
    if not user_ids:
        return {}
    rows = session.scalars(
        select(Preference).where(
            Preference.user_id.in_(user_ids), Preference.event_type == event_type.value
        )
    )
    return {row.user_id: Delivery(row.delivery) for row in rows}


def _subscribed(session: Session, event_type: EventType) -> list[Webhook]:
    return list(
        session.scalars(
            select(Webhook)
            .where(Webhook.is_active, event_type.value == any_(Webhook.event_types))
            .order_by(Webhook.id)
        )
    )


def _active(session: Session, webhook_ids: Iterable[int]) -> list[Webhook]:
    ids = sorted(set(webhook_ids))
    if not ids:
        return []
    return list(
        session.scalars(
            select(Webhook).where(Webhook.is_active, Webhook.id.in_(ids)).order_by(Webhook.id)
        )
    )


# ------------------------------------------------------------------------------ the dispatcher's


def claim_due(*, session: Session, now: datetime, channels: list[str]) -> OutboxMessage | None:
    """The next due pending message of one of ``channels``, locked until the caller's
    transaction ends; messages other dispatchers hold are skipped (``FOR UPDATE SKIP LOCKED``),
    so no two send the same one."""
    return session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.state == MessageState.pending.value,
            OutboxMessage.next_attempt_at <= now,
            OutboxMessage.channel.in_(channels),
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()


def webhook_of(*, session: Session, message: OutboxMessage) -> tuple[str, str] | None:
    """The webhook's URL and (decrypted) secret, or None when it is gone or switched off."""
    if message.webhook_id is None:
        return None
    hook = session.get(Webhook, message.webhook_id)
    if hook is None or not hook.is_active:
        return None
    return hook.url, encryption.decrypt(hook.secret)


def mark_delivered(*, session: Session, message: OutboxMessage, now: datetime) -> None:
    message.attempts += 1
    message.state = MessageState.delivered.value
    message.delivered_at = now
    message.last_error = None
    session.flush()


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure: base x 2^(attempts-1), at most the cap."""
    settings = get_settings()
    seconds = settings.notifications_backoff_seconds * 2 ** (attempts - 1)
    return timedelta(seconds=min(seconds, settings.notifications_backoff_max_seconds))


def mark_failed(
    *, session: Session, message: OutboxMessage, reason: str, permanent: bool, now: datetime
) -> None:
    """Record a failed try: retry after the back-off, or dead-letter the message when it was
    the last try or no retry can help."""
    message.attempts += 1
    message.last_error = reason[:2000]
    if permanent or message.attempts >= get_settings().notifications_max_attempts:
        message.state = MessageState.dead.value
        message.dead_at = now
    else:
        message.next_attempt_at = now + backoff(message.attempts)
    session.flush()


# ---------------------------------------------------------------------------------- digests


def digest_cutoff(now: datetime) -> datetime | None:
    """Today's digest time (UTC) once it has passed, else None: held messages created before it
    go out in one digest per recipient."""
    hour = get_settings().notifications_digest_hour
    cutoff = now.astimezone(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return cutoff if now >= cutoff else None


def users_with_held(*, session: Session, before: datetime, limit: int = 500) -> list[int]:
    return list(
        session.scalars(
            select(OutboxMessage.recipient_user_id)
            .where(
                OutboxMessage.state == MessageState.held.value,
                OutboxMessage.created_at < before,
                OutboxMessage.recipient_user_id.is_not(None),
            )
            .group_by(OutboxMessage.recipient_user_id)
            .order_by(OutboxMessage.recipient_user_id)
            .limit(limit)
        )
    )


def send_digest(
    *, session: Session, user_id: int, before: datetime, now: datetime
) -> OutboxMessage | None:
    """One digest mail of the user's held messages created before ``before``; the held ones
    become ``digested``. Rows another worker holds are skipped (it digests them)."""
    held = list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.state == MessageState.held.value,
                OutboxMessage.recipient_user_id == user_id,
                OutboxMessage.created_at < before,
            )
            .order_by(OutboxMessage.created_at, OutboxMessage.id)
            .with_for_update(skip_locked=True)
        )
    )
    if not held:
        return None
    user = session.get(User, user_id)
    if user is None or not user.is_active or not user.email:
        for message in held:
            message.state = MessageState.dead.value
            message.dead_at = now
            message.last_error = "recipient deactivated before the digest"
        session.flush()
        return None
    items = [
        {
            "subject": message.subject,
            "ticket_number": message.ticket_number,
            "event_type": message.event_type,
            "created_at": message.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        }
        for message in held
    ]
    (digest,) = enqueue(
        session=session,
        event_type=EventType.digest,
        recipients=[user.id],
        context={"items": items},
        webhooks=False,
        now=now,
    )
    for message in held:
        message.state = MessageState.digested.value
        message.digest_id = digest.id
    session.flush()
    return digest


# ------------------------------------------------------------------------- the admins' outbox

MESSAGE_SORTABLE = {
    "id": OutboxMessage.id,
    "created_at": OutboxMessage.created_at,
    "next_attempt_at": OutboxMessage.next_attempt_at,
    "attempts": OutboxMessage.attempts,
}


def list_messages(
    *,
    session: Session,
    params: PageParams,
    state: MessageState | None = None,
    event_type: EventType | None = None,
    ticket_number: str | None = None,
) -> Page[Any]:
    statement: Select[Any] = select(OutboxMessage)
    if state is not None:
        statement = statement.where(OutboxMessage.state == state.value)
    if event_type is not None:
        statement = statement.where(OutboxMessage.event_type == event_type.value)
    if ticket_number is not None:
        statement = statement.where(OutboxMessage.ticket_number == ticket_number)
    return paginate(
        session, statement, params, sortable=MESSAGE_SORTABLE, default_sort=[OutboxMessage.id]
    )


def get_message(*, session: Session, message_id: int) -> OutboxMessage:
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise MessageNotFound(message_id)
    return message


def retry(
    *, session: Session, message: OutboxMessage, now: datetime | None = None
) -> OutboxMessage:
    """Put a dead-lettered message back in the queue with a fresh count of tries (same
    idempotency key: a receiver that got it after all still drops it)."""
    session.refresh(message, with_for_update=True)
    if message.state != MessageState.dead.value:
        raise NotDeadLettered(
            f"Message {message.id} is {message.state}; only dead letters are retried",
            state=message.state,
        )
    message.state = MessageState.pending.value
    message.attempts = 0
    message.dead_at = None
    message.next_attempt_at = _now(now)
    session.flush()
    return message


# ---------------------------------------------------------------------------------- templates


def templates(*, session: Session) -> list[dict[str, Any]]:
    """Every event type's template in force, and whether an admin overrode it."""
    result = []
    for event_type in EventType:
        source, overridden = rendering.source_for(session=session, event_type=event_type)
        result.append(
            {
                "event_type": event_type,
                "subject": source.subject,
                "body_text": source.text,
                "body_html": source.html,
                "overridden": overridden,
            }
        )
    return result


def template(*, session: Session, event_type: EventType) -> dict[str, Any]:
    return next(t for t in templates(session=session) if t["event_type"] == event_type)


def set_template(
    *,
    session: Session,
    event_type: EventType,
    subject: str,
    body_text: str,
    body_html: str,
    actor: User,
    now: datetime | None = None,
) -> dict[str, Any]:
    source = rendering.TemplateSource(subject=subject, text=body_text, html=body_html)
    try:
        rendering.check(source)
    except TemplateSyntaxError as exc:
        raise InvalidTemplate(f"Line {exc.lineno}: {exc.message}") from exc
    row = session.get(MailTemplate, event_type.value, with_for_update=True)
    if row is None:
        row = MailTemplate(event_type=event_type.value)
        session.add(row)
    row.subject, row.body_text, row.body_html = subject, body_text, body_html
    row.updated_at = _now(now)
    row.updated_by_id = actor.id
    session.flush()
    return template(session=session, event_type=event_type)


def reset_template(*, session: Session, event_type: EventType) -> dict[str, Any]:
    row = session.get(MailTemplate, event_type.value)
    if row is not None:
        session.delete(row)
        session.flush()
    return template(session=session, event_type=event_type)


# ----------------------------------------------------------------------------------- webhooks


def _checked_url(url: str) -> str:
    try:
        addresses.check(url, allow_private=get_settings().webhooks_allow_private)
    except addresses.UnsafeUrl as exc:
        raise UnsafeWebhookUrl(str(exc), url=url) from exc
    return url


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def create_webhook(
    *,
    session: Session,
    name: str,
    url: str,
    format: WebhookFormat,
    event_types: list[EventType],
    actor: User,
) -> tuple[Webhook, str]:
    """Register a webhook; returns it and its signing secret (shown this once)."""
    secret = new_secret()
    hook = Webhook(
        name=name,
        url=_checked_url(url),
        format=format.value,
        event_types=sorted({event_type.value for event_type in event_types}),
        secret=encryption.encrypt(secret),
        created_by_id=actor.id,
    )
    session.add(hook)
    session.flush()
    return hook, secret


def get_webhook(*, session: Session, webhook_id: int) -> Webhook:
    hook = session.get(Webhook, webhook_id)
    if hook is None:
        raise WebhookNotFound(webhook_id)
    return hook


def list_webhooks(*, session: Session, params: PageParams) -> Page[Any]:
    return paginate(
        session,
        select(Webhook),
        params,
        sortable={"id": Webhook.id, "name": Webhook.name},
        default_sort=[Webhook.id],
    )


def update_webhook(
    *, session: Session, hook: Webhook, changes: Mapping[str, Any], rotate_secret: bool = False
) -> tuple[Webhook, str | None]:
    """Apply the given fields; a new secret (returned) when ``rotate_secret``."""
    if "url" in changes:
        hook.url = _checked_url(changes["url"])
    if "name" in changes:
        hook.name = changes["name"]
    if "format" in changes:
        hook.format = WebhookFormat(changes["format"]).value
    if "event_types" in changes:
        hook.event_types = sorted({EventType(value).value for value in changes["event_types"]})
    if "is_active" in changes:
        hook.is_active = bool(changes["is_active"])
    secret = None
    if rotate_secret:
        secret = new_secret()
        hook.secret = encryption.encrypt(secret)
    session.flush()
    return hook, secret


def delete_webhook(*, session: Session, hook: Webhook) -> None:
    """Remove a registration and its undelivered messages (delivered ones go with it too)."""
    session.delete(hook)
    session.flush()


# -------------------------------------------------------------------------------- preferences


def preferences(*, session: Session, user: User) -> list[dict[str, Any]]:
    """The user's delivery per event type, and where it comes from (theirs or the default)."""
    defaults = _defaults(session)
    own = {
        row.event_type: Delivery(row.delivery)
        for row in session.scalars(select(Preference).where(Preference.user_id == user.id))
    }
    return [
        {
            "event_type": event_type,
            "delivery": own.get(event_type.value) or defaults.get(event_type, DEFAULT_DELIVERY),
            "is_default": event_type.value not in own,
        }
        for event_type in EventType
        if event_type != EventType.digest
    ]


def set_preference(
    *, session: Session, user: User, event_type: EventType, delivery: Delivery | None
) -> list[dict[str, Any]]:
    """Choose the delivery of one event type; None goes back to the admins' default."""
    row = session.get(Preference, (user.id, event_type.value), with_for_update=True)
    if delivery is None:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(
            Preference(user_id=user.id, event_type=event_type.value, delivery=delivery.value)
        )
    else:
        row.delivery = delivery.value
    session.flush()
    return preferences(session=session, user=user)


def default_preferences(*, session: Session) -> list[dict[str, Any]]:
    defaults = _defaults(session)
    return [
        {"event_type": event_type, "delivery": defaults.get(event_type, DEFAULT_DELIVERY)}
        for event_type in EventType
        if event_type != EventType.digest
    ]


def set_default(
    *, session: Session, event_type: EventType, delivery: Delivery
) -> list[dict[str, Any]]:
    row = session.get(DefaultPreference, event_type.value, with_for_update=True)
    if row is None:
        session.add(DefaultPreference(event_type=event_type.value, delivery=delivery.value))
    else:
        row.delivery = delivery.value
    session.flush()
    return default_preferences(session=session)


def reencrypt_webhook_secrets(*, session: Session, settings: Settings | None = None) -> int:
    """Encrypt every outbound webhook's signing secret again under the newest key (key
    rotation); returns how many. Raises encryption.UndecryptableSecret naming the webhook when
    none of the configured keys opens one."""
    hooks = session.scalars(select(Webhook).order_by(Webhook.id).with_for_update()).all()
    for hook in hooks:
        try:
            hook.secret = encryption.reencrypt(hook.secret, settings=settings)
        except encryption.UndecryptableSecret as exc:
            raise encryption.UndecryptableSecret(f"Webhook {hook.id}: {exc}") from None
    session.flush()
    return len(hooks)
