"""TOTP secrets are encrypted at rest: by enrolment, by the migration for secrets stored before
it, and again under a new key by ``itsm keys rotate-totp``."""

from datetime import UTC, datetime, timedelta

import psycopg
import pyotp
import pytest
from alembic import command
from pydantic import SecretStr
from typer.testing import CliRunner

from operational.auth.models import User
from operational.core import encryption, keys
from operational.core.config import get_settings
from operational.core.db import libpq_url, session_scope
from operational.core.migrate import alembic_config, upgrade
from operational.inbound import service as inbound_service
from operational.inbound.models import InboundSource
from operational.inbound.schemas import InboundSourceCreate
from operational.notifications import service as notifications_service
from operational.notifications.enums import EventType, WebhookFormat
from operational.notifications.models import Webhook
from tests.auth.conftest import bearer
from tests.conftest import assert_problem
from tests.factories import DEFAULT_PASSWORD, Factory


def test_enrolment_stores_the_secret_encrypted(client, factory, login, session):
    user = factory.user()
    token = login(user.email).json()["access_token"]

    secret = client.post(
        "/api/v1/auth/mfa/enroll", json={"password": DEFAULT_PASSWORD}, headers=bearer(token)
    ).json()["secret"]

    stored = session.get(User, user.id).mfa_secret
    assert secret not in stored
    assert encryption.decrypt(stored) == secret


def test_a_secret_no_configured_key_opens_is_a_503_not_a_500(
    client, factory, login, mfa_user, configure
):
    user, secret = mfa_user()
    configure(totp_key=SecretStr(keys.new_totp_key()))  # the install's key was replaced

    refused = login(user.email, totp_code=pyotp.TOTP(secret).now())

    assert "restore the key" in assert_problem(refused, 503, "mfa-unavailable")["detail"]


def test_the_migration_encrypts_the_secrets_stored_before_it(fresh_database):
    url = fresh_database("totp")
    command.downgrade(alembic_config(url), "0007_refresh_indexes")
    issued = datetime(2026, 3, 1, 9, tzinfo=UTC)
    with psycopg.connect(libpq_url(url), autocommit=True) as admin:
        user_id = admin.execute(
            "insert into operational.users (email, display_name, mfa_secret, mfa_enabled) "
            "values ('old@example.com', 'Old', 'JBSWY3DPEHPK3PXP', true) returning id"
        ).fetchone()[0]
        for token, at in (("first", issued), ("second", issued + timedelta(days=3))):
            admin.execute(
                "insert into operational.refresh_tokens (user_id, family_id, token_hash, "
                "issued_at, expires_at) values (%s, 'aaaaaaaa-0000-0000-0000-000000000001', "
                "%s, %s, %s)",
                (user_id, token, at, at + timedelta(days=14)),
            )

    upgrade(url)

    with psycopg.connect(libpq_url(url)) as admin:
        stored = admin.execute("select mfa_secret from operational.users").fetchone()[0]
        started = admin.execute(
            "select distinct family_started_at from operational.refresh_tokens"
        ).fetchall()
    assert stored != "JBSWY3DPEHPK3PXP"
    assert encryption.decrypt(stored) == "JBSWY3DPEHPK3PXP"
    assert started == [(issued,)]  # the family began with its first token

    command.downgrade(alembic_config(url), "0007_refresh_indexes")
    with psycopg.connect(libpq_url(url)) as admin:
        plain = admin.execute("select mfa_secret from operational.users").fetchone()[0]
    assert plain == "JBSWY3DPEHPK3PXP"


def test_rotating_the_totp_key_reencrypts_every_secret(committed_database, install):
    from operational.cli import app as cli

    old_key = install.totp_key.get_secret_value()
    with session_scope() as session:
        secret = encryption.encrypt("JBSWY3DPEHPK3PXP", settings=install)
        admin = Factory(session).user(mfa_secret=secret, mfa_enabled=True, roles=("admin",))
        _, hook_secret = notifications_service.create_webhook(
            session=session,
            name="receiver",
            url="https://8.8.8.8/hook",
            format=WebhookFormat.generic,
            event_types=[EventType.incident_resolved],
            actor=admin,
        )
        _, source_secret = inbound_service.create_source(
            session=session, data=InboundSourceCreate(name="monitoring"), actor=admin
        )

    rotated = CliRunner().invoke(cli, ["keys", "rotate-totp"])

    assert rotated.exit_code == 0, rotated.output
    assert "1 TOTP secret(s)" in rotated.output
    assert "1 outbound webhook secret(s) and 1 inbound source secret(s)" in rotated.output
    new_key = install.totp_key_file.read_text().strip()
    assert new_key != old_key and keys.split_keys(new_key) == [new_key]
    assert install.totp_key_file.stat().st_mode & 0o777 == 0o600
    get_settings.cache_clear()
    with session_scope() as session:
        stored = session.query(User).filter(User.mfa_secret.is_not(None)).one().mfa_secret
        hook = session.query(Webhook).one().secret
        source = session.query(InboundSource).one().secret_encrypted
    # Under the new key alone; the old key opens none of them.
    for stored_secret, plain in (
        (stored, "JBSWY3DPEHPK3PXP"),
        (hook, hook_secret),
        (source, source_secret),
    ):
        assert encryption.decrypt(stored_secret) == plain
        with pytest.raises(encryption.UndecryptableSecret):
            encryption.decrypt(stored_secret, settings=install)


def test_rotating_the_secret_key_replaces_the_file(committed_database, install):
    from operational.cli import app as cli

    before = install.secret_key.get_secret_value()

    rotated = CliRunner().invoke(cli, ["keys", "rotate-secret"])

    assert rotated.exit_code == 0, rotated.output
    get_settings.cache_clear()
    after = get_settings()
    assert after.secret_key.get_secret_value() != before
    assert after.secret_key_file.stat().st_mode & 0o777 == 0o600
