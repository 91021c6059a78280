"""The `limits:` section of the config file, and `gatewayz limits set`."""

import os
from pathlib import Path

import pytest

from gatewayz.limits.settings import LimitValues
from gatewayz.settings import ConfigError, load_settings
from tests.cli.test_commands import Home


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("GATEWAYZ_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gatewayz.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_limits_are_read_from_the_config_file(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        """
limits:
  key: {rpm: 60, concurrency: 4}
  user: {rpm: 600, rpd: 10000, tpm: 200000}
  plans:
    free: {rpm: 20, tpm: 40000}
    pro: {rpm: 3000}
  default_plan: free
  address: {rpm: 120}
""",
    )
    limits = load_settings(config=path).limits
    assert limits.key == LimitValues(rpm=60, concurrency=4)
    # a user on the default plan: the plan's limits, the user defaults for the rest
    assert limits.plan(None) == LimitValues(rpm=20, rpd=10000, tpm=40000)
    assert limits.plan("pro") == LimitValues(rpm=3000, rpd=10000, tpm=200000)
    assert limits.address.rpm == 120
    assert "/v1/models" in limits.address.paths


def test_no_limits_by_default() -> None:
    limits = load_settings().limits
    assert limits.plan(None) == LimitValues() == limits.key
    assert (limits.address.rpm, limits.address.rpd) == (None, None)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("limits: {default_plan: gold}", "default_plan 'gold' is not one of `plans`"),
        ("limits: {key: {rpm: 0}}", "limits.key.rpm"),
        ("limits: {user: {rph: 5}}", "limits.user.rph"),
    ],
)
def test_a_wrong_limit_is_refused_naming_the_field(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError, match=r"gatewayz\.yaml") as refused:
        load_settings(config=config(tmp_path, text))
    assert named in str(refused.value)


def test_the_cli_sets_and_clears_limits_of_a_user_and_a_key(tmp_path: Path) -> None:
    home = Home(tmp_path)
    home.ok("users", "create", "dev@example.com")
    home.ok("keys", "create", "dev@example.com")
    user = home.ok("limits", "set", "--user", "dev@example.com", "--rpm", "30", "--tpm", "9000")
    assert "rpm 30, rpd default, tpm 9000, concurrency default" in user.stderr
    home.ok("limits", "set", "--user", "dev@example.com", "--tpm", "default", "--rpd", "500")
    home.ok("limits", "set", "--key", "1", "--concurrency", "2")
    rows = home.query(
        "SELECT user_id, key_id, rpm, rpd, tpm, concurrency FROM rate_limits ORDER BY id"
    )
    assert rows == [(1, None, 30, 500, None, None), (None, 1, None, None, None, 2)]


WRONG_COMMANDS = [
    (("--rpm", "5"), "give exactly one of --user EMAIL or --key KEY_ID"),
    (("--user", "dev@example.com", "--key", "1", "--rpm", "5"), "give exactly one of"),
    (("--user", "dev@example.com"), "give at least one of --rpm"),
    (("--user", "dev@example.com", "--rpm", "0"), "--rpm must be a whole number"),
    (("--user", "dev@example.com", "--rpm", "lots"), "--rpm must be a whole number"),
    (("--user", "nobody@example.com", "--rpm", "5"), "no user nobody@example.com"),
    (("--key", "99", "--rpm", "5"), "no API key with id 99"),
]


def test_wrong_limit_commands_fail_with_one_line(tmp_path: Path) -> None:
    home = Home(tmp_path)
    home.ok("users", "create", "dev@example.com")
    for args, error in WRONG_COMMANDS:
        result = home.run("limits", "set", *args)
        assert result.returncode == 1, args
        assert result.stderr.strip().splitlines() == [result.stderr.strip()], args
        assert error in result.stderr, args
    assert home.query("SELECT count(*) FROM rate_limits") == [(0,)]
