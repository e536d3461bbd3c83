from alembic import context
from sqlalchemy import create_engine, pool, text

from operational.core.db import SCHEMA, admin_database_url
from operational.core.roles import OWNER
from operational.models import Base

config = context.config
target_metadata = Base.metadata


def include_name(name, type_, parent_names):
    if type_ == "schema":
        return name == SCHEMA
    return True


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url") or admin_database_url()
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        # Whatever the administrative role, what migrations make belongs to the schema owner
        # (operational/core/roles.py; `itsm db migrate` has made it).
        connection.execute(text(f"set role {OWNER}"))
        connection.execute(text(f"create schema if not exists {SCHEMA}"))
        connection.commit()
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table_schema=SCHEMA,
            include_schemas=True,
            include_name=include_name,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
