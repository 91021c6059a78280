"""GET / (what this server is), GET /health (the process is alive) and GET /ready (the
database answers; where rate limits are counted)."""

from fastapi import APIRouter
from sqlalchemy import text
from starlette.responses import JSONResponse

from gatewayz import __version__
from gatewayz.api.deps import EngineDep, LimiterDep

router = APIRouter(tags=["health"])


@router.get("/")
@router.head("/", include_in_schema=False)
async def root() -> dict[str, str]:
    """The gateway's name and version, and where its documentation is (clients such as Claude
    Code probe `HEAD /` before their first call)."""
    return {
        "name": "Gatewayz",
        "version": __version__,
        "docs": "/docs",
        "dashboard": "/ui/",
        "openapi": "/openapi.json",
        "health": "/health",
    }


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready")
async def ready(limiter: LimiterDep, engine: EngineDep) -> JSONResponse:
    """Ready when the database answers; a lost Redis only moves rate limits into memory."""
    rate_limits = limiter.state()
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        return JSONResponse(
            {
                "status": "unavailable",
                "database": f"unreachable ({type(exc).__name__})",
                "rate_limits": rate_limits,
            },
            status_code=503,
        )
    return JSONResponse({"status": "ready", "database": "ok", "rate_limits": rate_limits})
