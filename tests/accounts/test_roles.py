"""Roles in the store: custom roles, their permissions reaching callers, role assignment."""

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import roles
from gatewayz.accounts import users as accounts
from gatewayz.accounts.auth import Authenticator
from gatewayz.errors import Conflict, InvalidRequest, NotFound

SECRET = b"server-secret"


async def _create(engine: AsyncEngine, name: str, permissions: list[str]) -> roles.Role:
    async with engine.begin() as conn:
        return await roles.create_role(conn, name, f"{name} staff", permissions)


async def _assign(engine: AsyncEngine, user_id: int, role: str) -> str:
    async with engine.begin() as conn:
        return await roles.assign_role(conn, user_id, role)


async def _names(engine: AsyncEngine) -> dict[str, roles.Role]:
    async with engine.connect() as conn:
        return {role.name: role for role in await roles.list_roles(conn)}


async def test_builtin_roles_are_listed_first_with_their_holders(engine: AsyncEngine) -> None:
    await accounts.create_user(engine, "a@example.com", role="admin")
    await accounts.create_user(engine, "u@example.com")
    await _create(engine, "support", ["users:read"])
    listed = await _names(engine)
    assert list(listed) == ["admin", "user", "support"]
    assert listed["admin"].permissions == frozenset(roles.PERMISSIONS)
    assert (listed["admin"].holders, listed["user"].holders, listed["support"].holders) == (1, 1, 0)
    assert listed["user"].permissions == frozenset()
    assert listed["support"].description == "support staff"


async def test_an_unknown_permission_is_refused_by_name_and_nothing_is_stored(
    engine: AsyncEngine,
) -> None:
    with pytest.raises(InvalidRequest, match="unknown permission 'users:delete'") as refused:
        await _create(engine, "support", ["users:read", "users:delete"])
    assert refused.value.param == "permissions"
    assert "support" not in await _names(engine)


@pytest.mark.parametrize("name", ["admin", "user"])
async def test_a_builtin_name_cannot_be_taken(engine: AsyncEngine, name: str) -> None:
    with pytest.raises(Conflict, match="built-in"):
        await _create(engine, name, [])


async def test_names_are_unique_and_checked(engine: AsyncEngine) -> None:
    await _create(engine, "support", [])
    with pytest.raises(Conflict, match="already exists"):
        await _create(engine, "support", ["audit:read"])
    with pytest.raises(InvalidRequest, match="lowercase") as refused:
        await _create(engine, "Has Spaces", [])
    assert refused.value.param == "name"


async def test_a_custom_roles_permissions_reach_its_holders_once_the_cache_is_dropped(
    engine: AsyncEngine,
) -> None:
    await _create(engine, "support", ["users:read"])
    user = await accounts.create_user(engine, "s@example.com")
    key = await accounts.create_key(engine, SECRET, user.id, "k")
    auth = Authenticator(engine, SECRET, cache_seconds=60)
    assert (await auth.authenticate(key)).permissions == frozenset()

    assert await _assign(engine, user.id, "support") == "user"
    assert (await auth.authenticate(key)).permissions == frozenset(), "cached for 60 s"
    auth.forget_all()
    assert (await auth.authenticate(key)).permissions == {"users:read"}

    async with engine.begin() as conn:
        before, after = await roles.update_role(
            conn, "support", permissions=["users:read", "audit:read"]
        )
    assert (before.permissions, after.permissions) == (
        {"users:read"},
        {"users:read", "audit:read"},
    )
    assert after.description == "support staff", "left out: kept"
    auth.forget_all()
    principal = await auth.authenticate(key)
    assert (principal.role, principal.permissions) == ("support", {"users:read", "audit:read"})


async def test_updating_checks_permissions_and_can_clear_the_description(
    engine: AsyncEngine,
) -> None:
    await _create(engine, "support", ["users:read"])
    with pytest.raises(InvalidRequest, match="'everything'"):
        async with engine.begin() as conn:
            await roles.update_role(conn, "support", permissions=["everything"])
    async with engine.begin() as conn:
        _, after = await roles.update_role(conn, "support", description=None)
    assert (after.description, after.permissions) == (None, {"users:read"})
    assert (await _names(engine))["support"].description is None
    with pytest.raises(NotFound):
        async with engine.begin() as conn:
            await roles.update_role(conn, "nobody", description="x")
    with pytest.raises(Conflict, match="built-in"):
        async with engine.begin() as conn:
            await roles.update_role(conn, "admin", permissions=[])


async def test_a_role_cannot_be_deleted_while_users_hold_it(engine: AsyncEngine) -> None:
    await _create(engine, "support", ["users:read"])
    user = await accounts.create_user(engine, "s@example.com")
    await _assign(engine, user.id, "support")
    with pytest.raises(Conflict, match="1 user"):
        async with engine.begin() as conn:
            await roles.delete_role(conn, "support")
    assert "support" in await _names(engine)

    await _assign(engine, user.id, "user")
    async with engine.begin() as conn:
        await roles.delete_role(conn, "support")
    assert "support" not in await _names(engine)
    with pytest.raises(Conflict, match="built-in"):
        async with engine.begin() as conn:
            await roles.delete_role(conn, "user")


async def test_assigning_an_unknown_role_or_to_an_unknown_user_is_refused(
    engine: AsyncEngine,
) -> None:
    user = await accounts.create_user(engine, "u@example.com")
    with pytest.raises(InvalidRequest, match="unknown role 'ghost'") as refused:
        await _assign(engine, user.id, "ghost")
    assert refused.value.param == "role"
    with pytest.raises(NotFound):
        await _assign(engine, user.id + 100, "admin")
    assert (await accounts.get_user(engine, user_id=user.id)).role == "user"


async def test_the_last_admin_cannot_lose_the_role(engine: AsyncEngine) -> None:
    first = await accounts.create_user(engine, "a@example.com", role="admin")
    with pytest.raises(Conflict, match="last admin"):
        await _assign(engine, first.id, "user")
    assert (await accounts.get_user(engine, user_id=first.id)).role == "admin"

    second = await accounts.create_user(engine, "b@example.com")
    assert await _assign(engine, second.id, "admin") == "user"
    assert await _assign(engine, first.id, "user") == "admin"
    with pytest.raises(Conflict, match="last admin"):
        await _assign(engine, second.id, "user")
    assert await _assign(engine, second.id, "admin") == "admin", "admin to admin is no change"


async def test_two_admins_demoting_each_other_at_once_leave_one_admin(
    engine: AsyncEngine,
) -> None:
    first = await accounts.create_user(engine, "a@example.com", role="admin")
    second = await accounts.create_user(engine, "b@example.com", role="admin")
    outcomes = await asyncio.gather(
        _assign(engine, first.id, "user"),
        _assign(engine, second.id, "user"),
        return_exceptions=True,
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "str"]
    held = [(await accounts.get_user(engine, user_id=u.id)).role for u in (first, second)]
    assert sorted(held) == ["admin", "user"]
