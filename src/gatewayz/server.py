"""The process `gatewayz serve` becomes once the schema is ready: uvicorn serving the gateway.

`serve` replaces itself with this module (`python -P -m gatewayz.server HOST PORT WORKERS`,
the same process) so that the serving process, and each worker it starts, holds none of what
only the command needed (Alembic and the migrations, Typer): about 12 MB less resident memory
per process at start.
"""

import sys

import uvicorn

from gatewayz.settings import load_settings, log_options
from gatewayz.telemetry.logs import configure_logging
from gatewayz.telemetry.metrics import multiprocess_dir


def serve(host: str, port: int, workers: int) -> None:
    """Serve the app the environment configures (see `app.app_from_environment`)."""
    settings = load_settings()
    configure_logging(settings.log_level, **log_options(settings))
    with multiprocess_dir(workers, settings.environ):
        uvicorn.run(
            "gatewayz.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=settings.log_level,
            log_config=None,
            access_log=False,
            loop="uvloop",
            http="httptools",
            timeout_graceful_shutdown=30,
        )


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
