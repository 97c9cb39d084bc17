"""Alembic's environment for the server's database.

`triage.server.migrate` runs it with a connection that already holds the migration
lock (config.attributes["connection"]). Developers may also run `alembic` from the
repository root (alembic.ini), e.g. to write the next revision:

    alembic -x db=sqlite:///tmp/dev.db upgrade head
    alembic -x db=sqlite:///tmp/dev.db revision --autogenerate -m "what changes"
"""

from __future__ import annotations

import os

from alembic import context
from sqlmodel import SQLModel

from triage.server import models, models_webhooks, models_workspace  # noqa: F401  (registers the tables)

config = context.config
target_metadata = SQLModel.metadata


def _url() -> str:
    from triage.server.db import normalise_url

    given = context.get_x_argument(as_dictionary=True).get("db")
    url = given or os.environ.get("TRIAGE_SERVER_DB") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("say which database: alembic -x db=URL ... (or set TRIAGE_SERVER_DB)")
    return normalise_url(url)


def _configure(**kw) -> None:
    context.configure(target_metadata=target_metadata, compare_type=True, **kw)


if context.is_offline_mode():
    url = _url()
    _configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
    else:  # a developer's `alembic ...`: take the lock like the server does
        from triage.server.db import Database

        db = Database(_url())
        try:
            with db.migration_lock() as conn:
                _configure(connection=conn, render_as_batch=db.is_sqlite)
                with context.begin_transaction():
                    context.run_migrations()
        finally:
            db.dispose()
