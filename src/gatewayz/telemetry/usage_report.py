"""Usage from the request log, grouped by user, model, key or UTC day.

Requests, tokens and cost (integer units) per group; a day grouping lists every day of the
window, days without calls as zeros.
"""

from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.store.tables import api_keys
from gatewayz.telemetry import stats
from gatewayz.telemetry.log_query import LogFilter, log
from gatewayz.telemetry.stats import Group

Grouping = Literal["user", "model", "key", "day"]


async def usage(
    engine: AsyncEngine, where: LogFilter, group_by: Grouping, limit: int
) -> list[Group]:
    """Totals per group, most costly first (by date for days); at most `limit` groups,
    except days, which are all listed."""
    if group_by == "day":
        return await stats.by_day(engine, where)
    if group_by == "user":
        return await stats.by_user(engine, where, limit)
    if group_by == "model":
        return await stats.grouped(engine, log.model, where, limit)
    return await _by_key(engine, where, limit)


async def _by_key(engine: AsyncEngine, where: LogFilter, limit: int) -> list[Group]:
    """Totals per API key, labelled "name (prefix…)" from the key's row."""
    groups = await stats.grouped(engine, log.key_id, where, limit)
    if not groups:
        return []
    query = select(api_keys.c.id, api_keys.c.name, api_keys.c.display_prefix).where(
        api_keys.c.id.in_([g.key for g in groups])
    )
    async with engine.connect() as conn:
        names = {
            key_id: f"{name} ({prefix}…)" for key_id, name, prefix in await conn.execute(query)
        }
    return [Group(g.key, g.totals, label=names.get(g.key)) for g in groups]
