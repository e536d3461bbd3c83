"""The one Settings object. Every knob is an environment variable prefixed ``ITSM_``."""

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from operational.core.keys import (
    AUDIT_KEY_FILE,
    SECRET_KEY_FILE,
    TOTP_KEY_FILE,
    resolve_audit_key,
    resolve_secret_key,
    resolve_totp_keys,
)

# Rows: impact 1..3 (high..low); columns: urgency 1..3; cells: priority 1..5 (docs/incidents.md).
PriorityMatrix = Annotated[
    list[Annotated[list[Annotated[int, Field(ge=1, le=5)]], Field(min_length=3, max_length=3)]],
    Field(min_length=3, max_length=3),
]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ITSM_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    home: Path = Field(default=Path(".itsm"), description="Embedded database, inbox and exports.")
    database_url: str | None = Field(
        default=None, description="Any PostgreSQL; unset means the embedded server under home."
    )
    database_name: str = Field(default="itsm", description="Database on the embedded server.")

    # Both keys are resolved at start-up (operational/core/keys.py): configured, else the
    # install's own under home, made on first use. Never None once the settings are built.
    secret_key: SecretStr | None = Field(default=None, description="Signs access tokens.")
    totp_key: SecretStr | None = Field(
        default=None, description="Fernet keys (comma-separated) encrypting TOTP secrets."
    )
    audit_key: SecretStr | None = Field(
        default=None, description="Signs the audit trail's seals (HMAC-SHA256)."
    )
    audit_seal_minutes: int = Field(
        default=60, ge=0, description="Minutes between audit seals by the worker (0: none)."
    )
    access_token_minutes: int = 15
    refresh_token_days: int = 14
    # However often a login's refresh token is rotated, the login ends this long after it began.
    refresh_family_days: int = Field(default=30, ge=1)
    password_min_length: int = 12
    mfa_required_roles: list[str] = Field(default_factory=list)
    totp_issuer: str = "ITSM"

    login_max_failures_per_account: int = 5
    login_max_failures_per_client: int = 20
    login_failure_window_minutes: int = 15
    login_lockout_minutes: int = 15

    log_level: str = "INFO"
    log_json: bool = True
    # uvicorn's JSON line per request in `itsm serve` (false: none, for a proxy in front that
    # writes its own). Measured at about 0.15 ms of CPU a line, a quarter of a read by id's.
    access_log: bool = True
    api_base_url: str = "http://127.0.0.1:8000"
    # Dashboards (docs/dashboards.md): the read-only analyst role's URL, set by `itsm dashboards`.
    marts_url: str | None = Field(default=None, description="Connection the dashboards read with.")
    # ... and the auditor role's URL, for the personal data (the access review) only.
    personal_marts_url: str | None = Field(
        default=None, description="Connection the dashboards read schema personal with."
    )
    dashboards_cache_seconds: int = Field(default=300, ge=0, description="TTL of mart queries.")
    # Pipelines (docs/pipelines.md): how often the schedule refreshes the marts; the freshness
    # checks warn when a mart is older than three refresh intervals.
    marts_refresh_minutes: int = Field(default=15, ge=1, le=1440, description="Marts refresh.")

    # Incidents (docs/incidents.md). The matrix is JSON in the environment: [[1,2,3],...].
    incident_priority_matrix: PriorityMatrix = Field(
        default_factory=lambda: [[1, 2, 3], [2, 3, 4], [3, 4, 5]]
    )
    incident_reopen_window_days: float = Field(default=7, ge=0)
    incident_auto_close_days: float = Field(default=7, gt=0)
    csat_survey_valid_days: float = Field(default=14, gt=0)
    # Knowledge (docs/knowledge.md): how many articles and known errors a new ticket suggests.
    knowledge_suggestions: int = Field(default=5, ge=0, le=20)

    # Input limits (docs/security.md, "Input limits"): a larger request body is a 413; an inbox
    # file over the size is moved to failed/ unread.
    max_request_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    ingest_max_file_bytes: int = Field(default=2 * 1024**3, ge=1)
    # Imports (docs/ingest.md): `itsm ingest`'s default date format, also the inbox's; the inbox
    # runs unattended, so by default it keeps the good rows of a file whatever its reject rate.
    ingest_date_format: str | None = Field(
        default=None,
        description="Date format for files whose dates do not say it ('dd/MM/yyyy HH:mm').",
    )
    inbox_max_reject_rate: float = Field(
        default=100.0,
        ge=0,
        le=100,
        description="Percent of rejected rows that fails an inbox file.",
    )

    # SLA worker (docs/sla.md, "Worker"): warnings, breaches, escalations and auto-close run in a
    # thread of `itsm serve` unless run_worker is false; off by default under the test suite.
    run_worker: bool = Field(default=True, description="Run the SLA worker inside itsm serve.")
    worker_interval_seconds: float = Field(
        default=15, gt=0, le=30, description="Seconds between SLA scans (at most 30)."
    )

    # Request approvals (docs/requests.md, "Reminders and escalation"): business minutes an
    # approver may wait before the worker reminds them, unless the catalog item's policy says;
    # 0: no reminder (nor escalation) unless the policy sets a period.
    approval_reminder_minutes: int = Field(
        default=480, ge=0, le=525_600, description="Approval reminder period (business minutes)."
    )

    # Inbound mail (docs/inbound.md): `itsm mail serve` (and `itsm up`) listen for SMTP here.
    inbound_mail_enabled: bool = Field(default=True, description="Start the SMTP listener in up.")
    inbound_mail_host: str = Field(default="127.0.0.1", description="SMTP listener's interface.")
    inbound_mail_port: int = Field(default=8025, ge=1, le=65535, description="SMTP port.")
    inbound_mail_domain: str = Field(
        default="itsm.example", description="Our Message-IDs' domain (<INC...@domain>)."
    )
    # Mail from these addresses is ours (notifications going round): never a ticket.
    inbound_mail_own_addresses: list[str] = Field(default_factory=list)
    inbound_mail_unknown_senders: Literal["refuse", "create"] = Field(
        default="refuse", description="Unknown sender: refuse the mail or create a requester."
    )
    inbound_mail_max_bytes: int = Field(default=25 * 1024**2, ge=1024, description="Whole mail.")
    inbound_attachment_max_bytes: int = Field(
        default=10 * 1024**2, ge=1, description="One attachment; larger ones are not kept."
    )
    # Loop guard: at most this many mails from one sender per ticket (or new tickets) per hour.
    inbound_mail_loop_limit: int = Field(default=10, ge=1)

    # Live updates (docs/inbound.md, "Live updates"): a stream ends after max seconds (the
    # client reconnects with Last-Event-ID); heartbeats keep proxies from closing it. Under the
    # test suite a stream ends after 1 s unless set (the RBAC matrix calls every route).
    stream_heartbeat_seconds: float = Field(default=15, gt=0, le=300)
    stream_max_seconds: float = Field(default=3600, gt=0)
    stream_replay_limit: int = Field(default=1000, ge=0, le=10_000)

    # Notifications (docs/notifications.md): the outbox's mail server and webhook rules. Mail is
    # sent only when mail_host is set; messages wait in the outbox until then.
    mail_host: str | None = Field(default=None, description="SMTP server; unset: mail waits.")
    mail_port: int = Field(default=587, ge=1, le=65535)
    mail_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="STARTTLS on a plain port, TLS from the start, or none."
    )
    mail_user: str | None = None
    mail_password: SecretStr | None = None
    mail_from: str = Field(default="itsm@localhost", description="From address of every mail.")
    # The domain of the Message-IDs (<ticket.token@domain>); default: mail_from's domain.
    mail_domain: str | None = None
    mail_timeout_seconds: float = Field(default=30, gt=0, le=300)
    # Delivery: how often a message is tried before it is dead-lettered, and the back-off.
    notifications_max_attempts: int = Field(default=8, ge=1, le=50)
    notifications_backoff_seconds: float = Field(default=30, gt=0)
    notifications_backoff_max_seconds: float = Field(default=6 * 3600, gt=0)
    # Hour (UTC, 0-23) after which the daily digests of the previous day's held messages go out.
    notifications_digest_hour: int = Field(default=7, ge=0, le=23)
    # Webhooks to loopback, link-local and private addresses are refused unless this is true.
    webhooks_allow_private: bool = False
    webhook_timeout_seconds: float = Field(default=10, gt=0, le=120)

    @property
    def message_id_domain(self) -> str:
        """The right-hand side of every Message-ID the platform writes."""
        if self.mail_domain:
            return self.mail_domain
        return self.mail_from.rpartition("@")[2] or "localhost"

    # The signed-in user's snapshot (docs/auth.md, "Speed"); 0 looks the user up on every request.
    auth_cache_seconds: float = Field(
        default=5, ge=0, le=60, description="Seconds a process may reuse the token's user."
    )

    # GET /api/v1/incidents/{id} and plain list pages answered below FastAPI's dependencies when
    # they can be exactly (docs/incidents.md, "Fast reads"); false sends all through the route.
    incident_fast_reads: bool = True

    # Connections (docs/operations.md, "Connections"): per API worker process, the request pool
    # of db_pool_size + db_max_overflow connections; as many requests run at once, the others
    # wait their turn in the event loop instead of timing out on the pool. The SLA worker thread
    # and the auth listener have their own connections outside it.
    db_pool_size: int = Field(default=10, ge=1, le=100, description="Pooled connections.")
    db_max_overflow: int = Field(default=5, ge=0, le=100, description="Extra connections.")

    # Lists of big tables (incidents) count exactly up to this many matches, then estimate
    # (docs/incidents.md, "Lists"): the response's total_is_estimate says which.
    exact_total_limit: int = Field(
        default=1_000, ge=0, description="Matches counted exactly before the total is estimated."
    )

    # Bulk updates (docs/bulk.md): at most bulk_max_records per call; more than
    # bulk_background_threshold run in the worker as a job (202), fewer within the request.
    bulk_max_records: int = Field(
        default=1_000, ge=1, le=100_000, description="Records one bulk update may name or match."
    )
    bulk_background_threshold: int = Field(
        default=100, ge=0, description="Above this many records a bulk update runs in the worker."
    )

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    # The key files the keys were read from (None: configured, or the test suite's built-ins).
    _key_files: dict[str, Path | None] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _resolve_keys(self) -> "Settings":
        def configured(value: SecretStr | None) -> str | None:
            return value.get_secret_value() if value is not None else None

        from_home = self.environment != "test"
        self._key_files = {
            "secret_key": self.home / SECRET_KEY_FILE
            if from_home and self.secret_key is None
            else None,
            "totp_key": self.home / TOTP_KEY_FILE if from_home and self.totp_key is None else None,
            "audit_key": self.home / AUDIT_KEY_FILE
            if from_home and self.audit_key is None
            else None,
        }

        where = {"environment": self.environment, "home": self.home}
        self.secret_key = SecretStr(
            resolve_secret_key(configured=configured(self.secret_key), **where)
        )
        keys = resolve_totp_keys(configured=configured(self.totp_key), **where)
        self.totp_key = SecretStr(",".join(keys))
        self.audit_key = SecretStr(
            resolve_audit_key(configured=configured(self.audit_key), **where)
        )
        return self

    @model_validator(mode="after")
    def _no_background_worker_under_tests(self) -> "Settings":
        if self.environment == "test" and "run_worker" not in self.model_fields_set:
            self.run_worker = False
        if self.environment == "test" and "stream_max_seconds" not in self.model_fields_set:
            self.stream_max_seconds = 1
        return self

    @property
    def secret_key_file(self) -> Path | None:
        """The file the secret key came from; None when ITSM_SECRET_KEY set it."""
        return self._key_files.get("secret_key")

    @property
    def totp_key_file(self) -> Path | None:
        """The file the TOTP keys came from; None when ITSM_TOTP_KEY set them."""
        return self._key_files.get("totp_key")

    @property
    def uses_embedded_database(self) -> bool:
        return not self.database_url


@lru_cache
def get_settings() -> Settings:
    return Settings()
