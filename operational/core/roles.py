"""The database roles and what each may do, applied by ``itsm db migrate`` (docs/security.md,
"Database roles").

- ``itsm_owner`` (never logs in) owns schema ``operational`` and all in it; migrations run as it.
- ``itsm_app`` (the API, worker, ingest, exports) reads and writes ``operational`` but only reads
  and appends to the event log; as a member of ``itsm_auditor`` it reads the compliance marts.
- ``itsm_dbt`` reads ``operational`` but its secrets, and owns ``staging``, ``intermediate``,
  ``marts`` and ``personal``.
- ``itsm_analyst`` reads ``marts``; ``itsm_auditor`` reads ``marts`` and ``personal`` (personal
  data: the access review). Both log in only once ``itsm db analyst-url`` / ``auditor-url`` ran.

Roles are cluster-wide: every database on a server shares them. Privileges are per database.
The administrative connection (``ITSM_DATABASE_URL``, or the embedded server's superuser) sets it
all up. ``prepare`` runs before the migrations: roles, memberships, database privileges, schemas
and their owners. ``grant`` runs after them: the privileges on tables, and the defaults for tables
made later. What the administrative role may not do is collected, not attempted twice, and
reported as the exact statements a database administrator must run (``MissingPrivileges``).
"""

import logging
import secrets
from collections.abc import Iterable
from pathlib import Path

import psycopg
from psycopg import errors, sql
from sqlalchemy.engine import make_url

from operational.core.keys import read_or_create

logger = logging.getLogger("operational.roles")

OWNER = "itsm_owner"
APP = "itsm_app"
DBT = "itsm_dbt"
ANALYST = "itsm_analyst"
AUDITOR = "itsm_auditor"
LOGIN_ROLES = (APP, DBT)
ALL_ROLES = (OWNER, APP, DBT, ANALYST, AUDITOR)

OPERATIONAL = "operational"
STAGING, INTERMEDIATE, MARTS, PERSONAL = "staging", "intermediate", "marts", "personal"
DBT_SCHEMAS = (STAGING, INTERMEDIATE, MARTS, PERSONAL)

# Tables the runtime role may only read and append to: no UPDATE, no DELETE.
APPEND_ONLY_TABLES = ("events", "audit_seals", "audit_seal_heads")
# Tables dbt may not read at all, and columns of the others it may not read.
TABLES_HIDDEN_FROM_DBT = ("alembic_version", "refresh_tokens", "mfa_recovery_codes")
# The outbox's bodies and payloads hold one-time survey links; webhooks, their signing keys.
COLUMNS_HIDDEN_FROM_DBT = {
    "users": ("mfa_secret",),
    "notification_webhooks": ("secret",),
    "notification_outbox": ("body_text", "body_html", "payload"),
}


class MissingPrivileges(Exception):
    """The administrative role could not set up the roles; ``statements`` are what is missing."""

    def __init__(self, user: str, statements: list[str]):
        self.statements = statements
        listing = "\n".join(f"    {statement};" for statement in statements)
        super().__init__(
            f"The database role {user!r} may not set up the platform's roles. A database "
            f"administrator (a superuser, or a role with CREATEROLE that owns the database) must "
            f"run, in this database:\n{listing}\nthen run `itsm db migrate` again."
        )


# --- connecting as a role ------------------------------------------------------------------------


def password_file(home: Path, role: str) -> Path:
    """``itsm_app`` → ``<home>/app.password`` (the analyst's predates: ``analyst.password``)."""
    return home / f"{role.removeprefix('itsm_')}.password"


def role_password(home: Path, role: str) -> str:
    """The role's password, generated on first use and kept under ``home`` (mode 0600)."""
    return read_or_create(password_file(home, role), lambda: secrets.token_urlsafe(24))


def role_url(url: str, role: str, *, home: Path) -> str:
    """``url`` (any driver) connecting as ``role`` with its stored password instead."""
    parsed = make_url(url)
    if parsed.username == role:
        return url
    parsed = parsed.set(username=role, password=role_password(home, role))
    return parsed.render_as_string(hide_password=False)


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# --- applying ------------------------------------------------------------------------------------


class _Applier:
    """Runs statements on an autocommit connection, each on its own; the ones refused for want
    of privilege are collected. Concurrent set-ups (several databases of one server migrating
    at once, as the tests do) may race for a role: losing the race counts as done."""

    def __init__(self, connection: psycopg.Connection):
        self.connection = connection
        self.missing: list[str] = []

    def holds(self, query: sql.Composable | str, *params: object) -> bool:
        return bool(self.connection.execute(query, params).fetchone()[0])

    def run(self, statement: sql.Composable) -> None:
        for attempt in range(3):
            try:
                with self.connection.transaction():
                    self.connection.execute(statement)
                return
            except errors.InsufficientPrivilege:
                self.missing.append(statement.as_string(self.connection))
                return
            except (errors.DuplicateObject, errors.UniqueViolation):
                return  # another set-up made it a moment ago
            except errors.InternalError_:
                if attempt == 2:  # "tuple concurrently updated": retry after the other one
                    raise

    def ensure(self, satisfied: bool, statement: sql.Composable) -> None:
        if not satisfied:
            self.run(statement)


def _role_exists(apply: _Applier, role: str) -> bool:
    return apply.holds("select count(*) from pg_roles where rolname = %s", role)


def _is_member(apply: _Applier, member: str, role: str) -> bool:
    return apply.holds(
        "select pg_has_role(%s, oid, 'MEMBER') from pg_roles where rolname = %s", member, role
    )


def _can_log_in(url: str) -> bool:
    try:
        with psycopg.connect(_libpq(url), connect_timeout=10):
            return True
    except psycopg.OperationalError:
        return False


def prepare(admin_url: str, *, home: Path) -> None:
    """Before the migrations: roles, memberships, database privileges, schemas and owners.

    Raises MissingPrivileges, naming the statements to run, when the administrative role may not
    do it all itself.
    """
    with psycopg.connect(_libpq(admin_url), autocommit=True) as connection:
        apply = _Applier(connection)
        user, database, superuser = connection.execute(
            "select current_user, current_database(), rolsuper "
            "from pg_roles where rolname = current_user"
        ).fetchone()
        for role in ALL_ROLES:
            if role in LOGIN_ROLES:
                options = _statement("login password {}", sql.Literal(role_password(home, role)))
            else:
                options = sql.SQL("nologin")
            apply.ensure(
                _role_exists(apply, role),
                _statement("create role {} {}", sql.Identifier(role), options),
            )
        if apply.missing:  # without the roles nothing below can be granted
            raise MissingPrivileges(user, apply.missing)

        memberships = [(OWNER, user)] if not superuser else []
        # The owner administers dbt's schemas too, so that migrations may grant on them.
        memberships += [(DBT, OWNER), (AUDITOR, APP), ("pg_read_all_stats", DBT)]
        for role, member in memberships:
            apply.ensure(
                _is_member(apply, member, role),
                sql.SQL("grant {} to {}").format(sql.Identifier(role), sql.Identifier(member)),
            )
        _grant_database(apply, database)
        for role in LOGIN_ROLES:
            _ensure_login(apply, admin_url, role, home)
        owners = {OPERATIONAL: OWNER} | dict.fromkeys(DBT_SCHEMAS, DBT)
        for schema, owner in owners.items():
            found = connection.execute(
                "select pg_get_userbyid(nspowner) from pg_namespace where nspname = %s", (schema,)
            ).fetchone()
            if found is None:
                apply.run(
                    sql.SQL("create schema if not exists {} authorization {}").format(
                        sql.Identifier(schema), sql.Identifier(owner)
                    )
                )
            elif found[0] != owner:
                apply.run(
                    sql.SQL("alter schema {} owner to {}").format(
                        sql.Identifier(schema), sql.Identifier(owner)
                    )
                )
            _hand_over_objects(apply, schema, owner)
        if apply.missing:
            raise MissingPrivileges(user, apply.missing)


def _grant_database(apply: _Applier, database: str) -> None:
    wanted = {
        OWNER: ("CREATE",),
        APP: ("CONNECT", "TEMPORARY"),
        DBT: ("CONNECT", "CREATE"),
        ANALYST: ("CONNECT",),
        AUDITOR: ("CONNECT",),
    }
    for role, privileges in wanted.items():
        for privilege in privileges:
            apply.ensure(
                apply.holds(
                    "select has_database_privilege(%s, current_database(), %s)", role, privilege
                ),
                sql.SQL("grant {} on database {} to {}").format(
                    sql.SQL(privilege), sql.Identifier(database), sql.Identifier(role)
                ),
            )


def _ensure_login(apply: _Applier, admin_url: str, role: str, home: Path) -> None:
    # Trust or the right password logs in; otherwise give the role login and its password.
    apply.ensure(
        _can_log_in(role_url(admin_url, role, home=home)),
        _statement(
            "alter role {} with login password {}",
            sql.Identifier(role),
            sql.Literal(role_password(home, role)),
        ),
    )


def enable_login(admin_url: str, role: str, *, home: Path) -> str:
    """Let ``role`` log in with its stored password (unless it already can); its URL."""
    with psycopg.connect(_libpq(admin_url), autocommit=True) as connection:
        apply = _Applier(connection)
        _ensure_login(apply, admin_url, role, home)
        if apply.missing:
            raise MissingPrivileges(connection.info.user, apply.missing)
    return role_url(admin_url, role, home=home)


def grant_database_privileges(admin_url: str) -> None:
    """The database-wide privileges alone: a database made from a template (tests) has the
    template's tables and their grants, but not the template's database privileges."""
    with psycopg.connect(_libpq(admin_url), autocommit=True) as connection:
        apply = _Applier(connection)
        _grant_database(apply, connection.info.dbname)
        if apply.missing:
            raise MissingPrivileges(connection.info.user, apply.missing)


# Objects made before the roles existed (by whoever migrated or ran dbt) go to the schema's owner.
_OBJECT_KINDS = {"r": "table", "p": "table", "v": "view", "m": "materialized view", "S": "sequence"}


def _hand_over_objects(apply: _Applier, schema: str, owner: str) -> None:
    # Tables first: their own sequences and indexes follow them.
    for kinds in (("r", "p", "v", "m"), ("S",)):
        rows = apply.connection.execute(
            "select c.relname, c.relkind from pg_class c "
            "join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = %s and c.relkind = any(%s) "
            "and pg_get_userbyid(c.relowner) <> %s order by c.relname",
            (schema, list(kinds), owner),
        ).fetchall()
        for name, kind in rows:
            apply.run(
                sql.SQL("alter {} {}.{} owner to {}").format(
                    sql.SQL(_OBJECT_KINDS[kind]),
                    sql.Identifier(schema),
                    sql.Identifier(name),
                    sql.Identifier(owner),
                )
            )
    functions = apply.connection.execute(
        "select p.oid::regprocedure::text from pg_proc p "
        "join pg_namespace n on n.oid = p.pronamespace "
        "where n.nspname = %s and pg_get_userbyid(p.proowner) <> %s",
        (schema, owner),
    ).fetchall()
    for (signature,) in functions:
        apply.run(
            sql.SQL("alter function {} owner to {}").format(
                sql.SQL(signature), sql.Identifier(owner)
            )
        )


def _names(*names: str) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(name) for name in names)


def _statement(template: str, *parts: sql.Composable) -> sql.Composed:
    return sql.SQL(template).format(*parts)


def _operational_tables(connection: psycopg.Connection) -> list[str]:
    rows = connection.execute(
        "select tablename from pg_tables where schemaname = %s and tablename <> 'alembic_version' "
        "order by tablename",
        (OPERATIONAL,),
    )
    return [name for (name,) in rows]


def _columns(connection: psycopg.Connection, table: str) -> list[str]:
    rows = connection.execute(
        "select column_name from information_schema.columns "
        "where table_schema = %s and table_name = %s order by ordinal_position",
        (OPERATIONAL, table),
    )
    return [name for (name,) in rows]


def grant(admin_url: str) -> None:
    """After the migrations: each role's privileges on the tables, stated whole in one
    transaction (so a table a migration added gets them too), and for dbt's schemas the
    defaults that cover the tables dbt makes later."""
    with psycopg.connect(_libpq(admin_url)) as connection, connection.transaction():
        run = connection.execute
        run(_statement("set local role {}", sql.Identifier(OWNER)))
        tables = _operational_tables(connection)

        def on(names: Iterable[str]) -> sql.Composable:
            return sql.SQL(", ").join(sql.Identifier(OPERATIONAL, name) for name in names)

        schema, app, dbt = sql.Identifier(OPERATIONAL), sql.Identifier(APP), sql.Identifier(DBT)
        run(_statement("revoke all on schema {} from public", schema))
        run(_statement("grant usage on schema {} to {}", schema, _names(APP, DBT)))
        run(_statement("revoke all on all tables in schema {} from {}", schema, _names(APP, DBT)))

        # The runtime role reads and writes, but only reads and appends to the event log.
        writable = [name for name in tables if name not in APPEND_ONLY_TABLES]
        appended = [name for name in tables if name in APPEND_ONLY_TABLES]
        run(_statement("grant select, insert, update, delete on {} to {}", on(writable), app))
        if appended:
            run(_statement("grant select, insert on {} to {}", on(appended), app))
        run(_statement("grant usage, select on all sequences in schema {} to {}", schema, app))

        # dbt reads everything but the secrets.
        readable = [name for name in tables if name not in TABLES_HIDDEN_FROM_DBT]
        whole = [name for name in readable if name not in COLUMNS_HIDDEN_FROM_DBT]
        run(_statement("grant select on {} to {}", on(whole), dbt))
        for table, hidden in COLUMNS_HIDDEN_FROM_DBT.items():
            if table in readable:
                shown = [name for name in _columns(connection, table) if name not in hidden]
                run(_statement("grant select ({}) on {} to {}", _names(*shown), on([table]), dbt))

        # dbt's schemas: the marts for analysts and auditors, personal data for auditors only.
        readers = {STAGING: (), INTERMEDIATE: (), MARTS: (ANALYST, AUDITOR), PERSONAL: (AUDITOR,)}
        for name, roles in readers.items():
            layer = sql.Identifier(name)
            run(_statement("revoke all on schema {} from public", layer))
            if roles:
                run(_statement("grant usage on schema {} to {}", layer, _names(*roles)))
                run(
                    _statement(
                        "grant select on all tables in schema {} to {}", layer, _names(*roles)
                    )
                )
                run(
                    _statement(
                        "alter default privileges for role {} in schema {} "
                        "grant select on tables to {}",
                        dbt,
                        layer,
                        _names(*roles),
                    )
                )
