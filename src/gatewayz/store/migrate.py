"""Schema upgrades through Alembic, callable from the CLI, the server and tests."""

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_sync(database_url: str) -> None:
    """Apply every pending migration; must run where no event loop is running."""
    command.upgrade(alembic_config(database_url), "head")


async def upgrade(database_url: str) -> None:
    """Apply every pending migration from async code (in a worker thread)."""
    await asyncio.to_thread(upgrade_sync, database_url)


async def pending_revisions(engine: AsyncEngine, database_url: str) -> list[str]:
    """The migrations not yet applied to the database (all of them for an empty one)."""
    script = ScriptDirectory.from_config(alembic_config(database_url))
    async with engine.connect() as conn:
        current = await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_heads()
        )
    applied = set()
    for head in current:
        applied.update(rev.revision for rev in script.iterate_revisions(head, "base"))
    return [rev.revision for rev in script.walk_revisions() if rev.revision not in applied]
