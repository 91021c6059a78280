"""Settings: env GATEWAYZ_* over an optional YAML file, errors naming file and field."""

import os
import stat
from pathlib import Path

import pytest

from gatewayz.settings import (
    ConfigError,
    Settings,
    load_settings,
    secret_path,
    secret_source,
    server_secret,
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No GATEWAYZ_* variable from the caller's shell; relative paths land in tmp_path."""
    for name in list(os.environ):
        if name.startswith("GATEWAYZ_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _config(tmp_path: Path, text: str, name: str = "gatewayz.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


PROVIDER = """
providers:
  - name: local
    protocol: openai
    base_url: http://127.0.0.1:8080/v1
    auth: none
    models:
      - {id: llama, input_price_per_mtok: 0.1, output_price_per_mtok: 0.2}
"""


def test_defaults_run_on_a_bare_machine() -> None:
    settings = load_settings()
    assert settings.database_url.startswith("sqlite")
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.providers == []


def test_body_limits_default_to_32_mib_for_model_calls_and_1_mib_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defaults = load_settings()
    assert (defaults.max_body_bytes, defaults.max_other_body_bytes) == (32 << 20, 1 << 20)
    monkeypatch.setenv("GATEWAYZ_MAX_BODY_BYTES", "1000")
    assert load_settings().max_body_bytes == 1000
    monkeypatch.setenv("GATEWAYZ_MAX_OTHER_BODY_BYTES", "0")
    with pytest.raises(ConfigError, match="max_other_body_bytes"):
        load_settings()


def test_yaml_file_given_as_config(tmp_path: Path) -> None:
    path = _config(tmp_path, "port: 9001\nlog_level: WARNING\n" + PROVIDER)
    settings = load_settings(config=path)
    assert settings.port == 9001
    assert settings.log_level == "warning"
    [provider] = settings.providers
    assert provider.name == "local"
    assert str(provider.models[0].input_price_per_mtok) == "0.1"


def test_yaml_file_named_by_gatewayz_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAYZ_CONFIG", str(_config(tmp_path, "port: 9002\n")))
    assert load_settings().port == 9002


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _config(tmp_path, "port: 9001\ndatabase_url: sqlite+aiosqlite:///file.db\n")
    monkeypatch.setenv("GATEWAYZ_PORT", "9100")
    settings = load_settings(config=path)
    assert settings.port == 9100
    assert settings.database_url == "sqlite+aiosqlite:///file.db"


def test_an_empty_file_means_defaults(tmp_path: Path) -> None:
    assert load_settings(config=_config(tmp_path, "# nothing yet\n")).port == 8000


def _config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(config=path)
    message = str(caught.value)
    assert str(path) in message, "the error must name the file"
    assert "\n" not in message, "the error must fit on one line"
    return message


def test_unknown_top_level_key_is_rejected(tmp_path: Path) -> None:
    message = _config_error(_config(tmp_path, "port: 9000\nprot: 9001\n"))
    assert "prot" in message


def test_provider_without_base_url_names_the_field(tmp_path: Path) -> None:
    message = _config_error(_config(tmp_path, "providers:\n  - name: mine\n    protocol: openai\n"))
    assert "providers.0.base_url" in message


def test_unknown_provider_field_names_the_field(tmp_path: Path) -> None:
    text = PROVIDER.replace("auth: none", "auth: none\n    colour: red")
    assert "providers.0.colour" in _config_error(_config(tmp_path, text))


def test_invalid_value_names_the_field(tmp_path: Path) -> None:
    assert "port" in _config_error(_config(tmp_path, "port: lots\n"))


def test_invalid_environment_value_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAYZ_PORT", "lots")
    message = _config_error(_config(tmp_path, "port: 9000\n"))
    assert "port (from GATEWAYZ_PORT)" in message


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    message = _config_error(_config(tmp_path, "port: 9000\nproviders: [\n  - name: x\n"))
    assert "not valid YAML" in message
    assert "line 3" in message


def test_a_list_at_the_top_level_is_rejected(tmp_path: Path) -> None:
    assert "mapping" in _config_error(_config(tmp_path, "- port: 9000\n"))


def test_missing_file_is_reported(tmp_path: Path) -> None:
    assert "cannot read" in _config_error(tmp_path / "absent.yaml")


# --- the server secret ------------------------------------------------------------


def test_secret_file_is_created_once_readable_only_by_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "state" / "gatewayz.secret"
    settings = Settings(secret_file=path)
    first = server_secret(settings)
    assert len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == first
    assert server_secret(Settings(secret_file=path)) == first


def test_default_secret_file_is_beside_the_sqlite_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    url = f"sqlite+aiosqlite:///{home / 'gatewayz.db'}"
    secret = server_secret(load_settings(database_url=url))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert server_secret(load_settings(database_url=url)) == secret
    assert (home / "gatewayz.secret").read_bytes() == secret
    assert not (elsewhere / "gatewayz.secret").exists()
    assert secret_source(load_settings(database_url=url)) == str(home / "gatewayz.secret")


def test_default_database_keeps_its_secret_in_the_working_directory(tmp_path: Path) -> None:
    secret = server_secret(load_settings())
    assert (tmp_path / "gatewayz.secret").read_bytes() == secret


def test_a_server_database_has_one_secret_file_per_database(tmp_path: Path) -> None:
    environ = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    url = "postgresql+asyncpg://app:hunter2@db.internal:5433/gatewayz"
    path = secret_path(load_settings(database_url=url, environ=environ))
    assert path == tmp_path / "config/gatewayz/secrets/postgresql-db.internal-5433-gatewayz.secret"
    other = secret_path(
        load_settings(database_url=url.replace("/gatewayz", "/other"), environ=environ)
    )
    assert other != path
    assert "hunter2" not in str(path)


def test_gatewayz_secret_wins_over_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "gatewayz.secret"
    path.write_bytes(b"from-file")
    monkeypatch.setenv("GATEWAYZ_SECRET", "from-env")
    monkeypatch.setenv("GATEWAYZ_SECRET_FILE", str(path))
    assert server_secret(load_settings()) == b"from-env"
    assert path.read_bytes() == b"from-file"


def test_gatewayz_secret_creates_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAYZ_SECRET", "from-env")
    assert server_secret(load_settings()) == b"from-env"
    assert not (tmp_path / "gatewayz.secret").exists()


def test_secret_never_appears_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAYZ_SECRET", "hunter2-very-secret")
    settings = load_settings()
    assert "hunter2-very-secret" not in repr(settings)
    assert "hunter2-very-secret" not in str(settings.model_dump())
