"""The `gatewayz` command: serve, doctor, db, users, keys, credits, models, limits, secrets,
holds."""

import typer

from gatewayz.cli.accounts import credits_app, keys_app, users_app
from gatewayz.cli.doctor import doctor
from gatewayz.cli.operations import holds_app, limits_app, models_app, secrets_app
from gatewayz.cli.serve import db_app, serve

app = typer.Typer(
    pretty_exceptions_enable=False,
    help="Gatewayz: one gateway in front of every AI inference provider.",
    no_args_is_help=True,
)
app.command()(serve)
app.command()(doctor)
for name, group in (
    ("db", db_app),
    ("users", users_app),
    ("keys", keys_app),
    ("credits", credits_app),
    ("models", models_app),
    ("limits", limits_app),
    ("secrets", secrets_app),
    ("holds", holds_app),
):
    app.add_typer(group, name=name)
