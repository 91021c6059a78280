"""The user documentation stays in step with the code it describes."""

from pathlib import Path

from gatewayz.providers.table import builtin_specs

ROOT = Path(__file__).resolve().parent.parent


def test_every_builtin_provider_is_documented_with_its_key_variable() -> None:
    page = (ROOT / "docs" / "providers.md").read_text()
    for spec in builtin_specs():
        assert f"| `{spec.name}` |" in page, spec.name
        if spec.api_key_env:
            assert f"`{spec.api_key_env}`" in page, spec.name


def test_readme_shows_the_commands_a_new_user_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    for command in ("make run", "make test", "gatewayz keys create", "GATEWAYZ_DATABASE_URL"):
        assert command in readme, command
