"""Run Alembic without an alembic.ini, from the installed (or frozen) package."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine


def config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("iopdesk.migrations")))
    return cfg


def script() -> ScriptDirectory:
    return ScriptDirectory.from_config(config())


def known_revisions() -> set[str]:
    return {rev.revision for rev in script().walk_revisions()}


def revisions(engine: Engine) -> tuple[str | None, str | None]:
    """(current revision of the database, head revision of this code)."""
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, script().get_current_head()


def upgrade(engine: Engine, target: str = "head") -> None:
    cfg = config()
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, target)
        conn.commit()


def downgrade(engine: Engine, target: str) -> None:
    """Back to an earlier revision (tests and support; the app never downgrades a clinic)."""
    cfg = config()
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, target)
        conn.commit()
