"""The caller's own provider keys: GET /user/provider-keys, PUT and DELETE
/user/provider-keys/{provider}. A key is never shown again, only a hint of it."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, SecretStr

from gatewayz.accounts import audit, provider_keys
from gatewayz.accounts.auth import Principal, current_principal
from gatewayz.accounts.key_store import Actor
from gatewayz.accounts.provider_keys import ProviderKeyError, ProviderKeyInfo
from gatewayz.api.admin_params import Text
from gatewayz.api.deps import EngineDep, ProviderKeyringDep, ServicesDep
from gatewayz.errors import InvalidRequest, NotFound
from gatewayz.providers.table import merged_specs
from gatewayz.settings import Settings
from gatewayz.store.times import iso

router = APIRouter(prefix="/user/provider-keys", tags=["provider keys"])
Caller = Annotated[Principal, Depends(current_principal)]
ProviderName = Annotated[Text, Path(description="A provider's name, as in GET /v1/providers.")]


class NewProviderKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_key: SecretStr


@router.get("")
async def list_provider_keys(engine: EngineDep, caller: Caller) -> dict[str, Any]:
    """The caller's provider keys: provider, hint and times, never the keys."""
    keys = await provider_keys.list_keys(engine, caller.user_id)
    return {"data": [_view(info) for info in keys]}


@router.put("/{provider}")
async def put_provider_key(
    request: Request,
    services: ServicesDep,
    response: Response,
    caller: Caller,
    provider: ProviderName,
    body: NewProviderKey,
) -> dict[str, Any]:
    """Store the caller's key for `provider` (201) or replace it (200); from now on the
    caller's calls to that provider carry it."""
    _known_provider(services.settings, provider)
    try:
        api_key = provider_keys.checked_key(body.api_key.get_secret_value())
    except ProviderKeyError as exc:
        raise InvalidRequest(str(exc), param=exc.param) from None
    info, created = await provider_keys.put_key(
        services.engine, services.secret_box, _actor(request, caller), provider, api_key
    )
    services.provider_keyring.remember(caller.user_id, provider, api_key)
    response.status_code = 201 if created else 200
    return _view(info)


@router.delete("/{provider}")
async def delete_provider_key(
    request: Request,
    engine: EngineDep,
    provider_keyring: ProviderKeyringDep,
    caller: Caller,
    provider: ProviderName,
) -> dict[str, Any]:
    """Remove the caller's key for `provider`: their calls use the gateway's key again."""
    if not await provider_keys.delete_key(engine, _actor(request, caller), provider):
        raise NotFound("provider: you have no key stored for this provider.", param="provider")
    provider_keyring.forget(caller.user_id, provider)
    return {"provider": provider, "deleted": True}


def _known_provider(settings: Settings, provider: str) -> None:
    """400 naming `provider` unless the operator lets users bring their own key for it."""
    specs = merged_specs(settings.providers)
    if provider in provider_keys.own_key_providers(specs):
        return
    spec = next((spec for spec in specs if spec.name == provider), None)
    if spec is not None and spec.auth not in ("bearer", "header"):
        raise InvalidRequest(
            f"provider: '{provider}' does not take an API key, so it cannot use your own.",
            param="provider",
        )
    if spec is not None:
        raise InvalidRequest(
            f"provider: '{provider}' does not take your own key: the gateway's operator has "
            "not allowed own keys for it (own_keys).",
            param="provider",
        )
    raise InvalidRequest(  # the name is not echoed: it may be a key pasted in the wrong place
        "provider: not a known provider (see GET /v1/providers for their names).",
        param="provider",
    )


def _actor(request: Request, caller: Principal) -> Actor:
    return Actor(caller.user_id, caller.key_id, audit.source_ip(request))


def _view(info: ProviderKeyInfo) -> dict[str, Any]:
    return {
        "provider": info.provider,
        "hint": info.hint,
        "created_at": iso(info.created_at),
        "updated_at": iso(info.updated_at),
    }
