"""The serving process `gatewayz serve` becomes (gatewayz.server)."""

import subprocess
import sys


def test_the_serving_process_holds_none_of_the_schema_tools() -> None:
    # Alembic and the migrations cost every serving process ~20 MB; only the command and
    # GATEWAYZ_AUTO_MIGRATE (which imports them when it runs) need them.
    code = (
        "import sys, gatewayz.server, gatewayz.app\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'typer', 'mako')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
