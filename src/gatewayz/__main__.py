from gatewayz.cli import app

app()
