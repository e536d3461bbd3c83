"""``itsm keys``: the install's own secrets under ITSM_HOME (docs/security.md, "Secrets and
keys")."""

import typer
from pydantic import SecretStr
from rich.console import Console

app = typer.Typer(
    help="Rotate the key that signs access tokens and the key that encrypts secrets at rest.",
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)


def _refuse(message: str) -> typer.Exit:
    err_console.print(f"[red]refused[/]: {message}")
    return typer.Exit(2)


@app.command("rotate-secret")
def rotate_secret() -> None:
    """Replace <ITSM_HOME>/secret.key with a new random key.

    Restart the API afterwards: access tokens signed with the old key are then refused, and
    clients get new ones with their refresh token (refresh tokens are not signed with it).
    """
    from operational.core import keys
    from operational.core.config import get_settings

    path = get_settings().secret_key_file
    if path is None:
        raise _refuse("the secret key comes from ITSM_SECRET_KEY: change it there, then restart")
    keys.replace(path, keys.new_secret_key())
    console.print(f"[green]new secret key[/] in {path}; restart the API to use it")


@app.command("rotate-totp")
def rotate_totp() -> None:
    """Encrypt every secret at rest under a new key: TOTP secrets and webhook secrets.

    The TOTP key also encrypts the outbound webhooks' signing secrets and the inbound webhook
    sources' secrets; all of them move to the new key in one transaction.

    With <ITSM_HOME>/totp.key: a new key is put first in the file, every secret is encrypted
    again under it, then the old keys are dropped. With ITSM_TOTP_KEY: put the new key first in
    that variable (``itsm keys new-totp-key`` makes one), run this, then remove the old ones.
    Run it with the API stopped, or restart the API right after: until then it holds the old
    keys and answers MFA sign-ins with 503.
    """
    from operational.auth import mfa
    from operational.cli.db import ensure_schema
    from operational.core import encryption, keys
    from operational.core.config import get_settings
    from operational.core.db import session_scope
    from operational.core.errors import DomainError
    from operational.inbound import service as inbound_service
    from operational.notifications import service as notifications_service

    ensure_schema(console)
    settings = get_settings()
    path = settings.totp_key_file
    if path is not None:
        newest = keys.new_totp_key()
        both = [newest, *keys.split_keys(settings.totp_key.get_secret_value())]
        # Both keys first: if this stops half-way, every secret still opens.
        keys.replace(path, "\n".join(both))
        settings = settings.model_copy(update={"totp_key": SecretStr(",".join(both))})
    try:
        # One transaction: every secret at rest moves to the new key, or none does.
        with session_scope() as session:
            counts = (
                mfa.reencrypt_secrets(session=session, settings=settings),
                notifications_service.reencrypt_webhook_secrets(session=session, settings=settings),
                inbound_service.reencrypt_source_secrets(session=session, settings=settings),
            )
    except DomainError as error:
        raise _refuse(error.detail) from None
    except encryption.UndecryptableSecret as error:
        raise _refuse(str(error)) from None
    summary = (
        f"[green]{counts[0]} TOTP secret(s)[/], {counts[1]} outbound webhook secret(s) and "
        f"{counts[2]} inbound source secret(s)"
    )
    if path is not None:
        keys.replace(path, newest)
        console.print(f"{summary} encrypted under a new key in {path}")
    else:
        console.print(
            f"{summary} encrypted under the first key of ITSM_TOTP_KEY; "
            "now remove the old key(s) from it"
        )
    console.print("restart the API to use the new key")


@app.command("new-totp-key")
def new_totp_key() -> None:
    """Print a new TOTP key (for ITSM_TOTP_KEY)."""
    from operational.core import keys

    print(keys.new_totp_key())
