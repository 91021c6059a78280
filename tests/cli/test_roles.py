"""`gatewayz users role EMAIL ROLE`, run as a real subprocess against a SQLite database."""

import json
from pathlib import Path

from tests.cli.test_commands import Home, _one_line_error


def test_users_role_changes_the_role_audited_and_refuses_bad_ones(tmp_path: Path) -> None:
    home = Home(tmp_path)
    home.ok("users", "create", "boss@example.com", "--admin")
    home.ok("users", "create", "dev@example.com")

    changed = home.ok("users", "role", "dev@example.com", "admin")
    assert "dev@example.com: role user -> admin" in changed.stderr
    home.ok("users", "role", "boss@example.com", "user")
    assert home.query("SELECT email, role FROM users ORDER BY id") == [
        ("boss@example.com", "user"),
        ("dev@example.com", "admin"),
    ]
    assert "unknown role 'ghost'" in _one_line_error(
        home.run("users", "role", "boss@example.com", "ghost")
    )
    assert "last admin" in _one_line_error(home.run("users", "role", "dev@example.com", "user"))
    assert "no user" in _one_line_error(home.run("users", "role", "who@example.com", "user"))
    events = home.query("SELECT event, actor_user_id, target_id, details FROM audit_logs")
    assert [(e[0], e[1], e[2]) for e in events] == [
        ("role.changed", None, "2"),
        ("role.changed", None, "1"),
    ]
    assert json.loads(events[0][3]) == {"old_role": "user", "new_role": "admin", "via": "cli"}
    assert home.query("SELECT role FROM users WHERE email = 'dev@example.com'") == [("admin",)]
