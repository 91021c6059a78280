"""`gatewayz doctor`: what this gateway would run with, and whether each part answers."""

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import aiohttp
import typer
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.engine import make_url

from gatewayz.cli.common import ConfigOption, command, settings_from
from gatewayz.providers.demo import CHAT_MODEL, DemoAdapter, demo_provider
from gatewayz.providers.demo import NAME as DEMO
from gatewayz.providers.table import enabled_providers, merged_specs, why_disabled
from gatewayz.settings import Settings, secret_path, secret_source
from gatewayz.store.engine import create_engine
from gatewayz.store.migrate import pending_revisions

_MARKS = {"ok": "ok  ", "warn": "warn", "fail": "FAIL", "info": "    "}


@dataclass
class _Report:
    failures: int = 0

    def say(self, mark: str, topic: str, detail: str) -> None:
        self.failures += mark == "fail"
        typer.echo(f"[{_MARKS[mark]}] {topic:<10} {detail}")


@command
def doctor(
    config: ConfigOption = None,
    url: Annotated[
        str | None, typer.Option(help="A running gateway to check too, e.g. http://127.0.0.1:8000")
    ] = None,
    key: Annotated[
        str | None, typer.Option(help="An API key for a test call through the running gateway.")
    ] = None,
) -> None:
    """Check the database, the server secret, the providers, Redis and the demo model."""
    settings = settings_from(config)
    report = _Report()
    asyncio.run(_check(settings, report, url, key))
    if report.failures:
        raise typer.Exit(1)


async def _check(settings: Settings, report: _Report, url: str | None, key: str | None) -> None:
    await _database(settings, report)
    _secret(settings, report)
    _providers(settings, report)
    await _redis(settings, report)
    await _demo(settings, report)
    if url:
        await _running(url, key, report)


async def _database(settings: Settings, report: _Report) -> None:
    url = make_url(settings.database_url)
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        report.say("warn", "database", f"{shown}: no database yet: the first start creates it")
        return
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        pending = await pending_revisions(engine, settings.database_url)
    except Exception as exc:
        report.say("fail", "database", f"{shown}: cannot connect ({type(exc).__name__}: {exc})")
        return
    finally:
        await engine.dispose()
    if pending:
        detail = f"{shown}: {len(pending)} migrations to apply (`gatewayz db upgrade`, or serve)"
        report.say("warn", "database", detail)
    else:
        report.say("ok", "database", f"{shown}: schema up to date")


def _secret(settings: Settings, report: _Report) -> None:
    if settings.secret is not None:
        report.say("ok", "secret", "from GATEWAYZ_SECRET")
        return
    path = secret_path(settings)
    if path.exists():
        report.say("ok", "secret", f"{secret_source(settings)}")
    else:
        report.say("warn", "secret", f"{path} does not exist yet: the first start creates it")


def _providers(settings: Settings, report: _Report) -> None:
    enabled = enabled_providers(settings.providers, settings.environ)
    names = {provider.name for provider in enabled}
    for provider in enabled:
        declared = len(provider.spec.models)
        models = f"{declared} declared models" if declared else "models from its list"
        report.say("ok", "provider", f"{provider.name} ({provider.spec.protocol}, {models})")
    if settings.demo_provider:
        report.say(
            "ok", "provider", f"{DEMO} (built in, free; off with GATEWAYZ_DEMO_PROVIDER=false)"
        )
    for spec in merged_specs(settings.providers):
        if spec.name not in names:
            report.say(
                "info", "provider", f"{spec.name} off: {why_disabled(spec, settings.environ)}"
            )
    if not enabled and not settings.demo_provider:
        report.say("fail", "provider", "no provider is enabled: no model can be called")


async def _redis(settings: Settings, report: _Report) -> None:
    if not settings.redis_url:
        report.say("info", "redis", "not configured: rate limits are counted in each process")
        return
    shown = make_url(settings.redis_url).render_as_string(hide_password=True)
    client = Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        await client.ping()
    except Exception as exc:
        report.say("fail", "redis", f"{shown}: unreachable ({type(exc).__name__})")
    else:
        report.say("ok", "redis", f"{shown}: answers")
    finally:
        await client.aclose()


async def _demo(settings: Settings, report: _Report) -> None:
    if not settings.demo_provider:
        report.say("info", "demo", "off")
        return
    body = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Hello!"}]}
    reply = await DemoAdapter().chat(demo_provider(), body)
    usage = reply.data["usage"]
    text = reply.data["choices"][0]["message"]["content"]
    detail = f"{text[:48]}... ({usage['prompt_tokens']} + {usage['completion_tokens']} tokens)"
    report.say("ok", "demo", detail)


async def _running(url: str, key: str | None, report: _Report) -> None:
    base = url.rstrip("/")
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        try:
            async with session.get(f"{base}/ready") as ready:
                status, detail = ready.status, (await ready.text())[:120]
        except (aiohttp.ClientError, TimeoutError) as exc:
            report.say("fail", "server", f"{url}: unreachable ({type(exc).__name__})")
            return
        report.say("ok" if status == 200 else "fail", "server", f"{base}/ready: {status} {detail}")
        if key is None:
            return
        body = {"model": f"{DEMO}/{CHAT_MODEL}", "messages": [{"role": "user", "content": "Hi"}]}
        headers = {"Authorization": f"Bearer {key}"}
        async with session.post(
            f"{base}/v1/chat/completions", json=body, headers=headers
        ) as answer:
            if answer.status == 200:
                served = answer.headers.get("x-gatewayz-provider", "?")
                report.say("ok", "call", f"{DEMO}/{CHAT_MODEL} answered (served by {served})")
            else:
                report.say("fail", "call", f"{answer.status}: {(await answer.text())[:200]}")
