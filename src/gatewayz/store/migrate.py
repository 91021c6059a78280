"""Schema upgrades through Alembic, callable from the CLI, the server and tests."""

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

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
