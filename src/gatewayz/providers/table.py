"""The provider table: built-in rows (builtin.yaml) merged with the operator's config rows."""

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter

from gatewayz.providers.google_credentials import (
    CredentialsError,
    ServiceAccount,
    load_service_account,
)
from gatewayz.providers.spec import ProviderSpec

_BUILTIN = Path(__file__).with_name("builtin.yaml")
_PLACEHOLDER = re.compile(r"\$\{([A-Z0-9_]+)\}")
# Where a call goes and how it is authenticated: a config row naming a built-in provider that
# changes one of these points at an upstream of the operator's choosing (a server that may
# ignore keys), so it takes users' own keys only if the row itself says `own_keys: true`.
_ADDRESS_FIELDS = ("protocol", "base_url", "auth", "auth_header", "auth_prefix", "headers")


@dataclass(frozen=True, slots=True)
class Provider:
    """A provider row with its base URL and key (or service account) resolved."""

    spec: ProviderSpec
    base_url: str
    api_key: str | None = field(repr=False)
    service_account: ServiceAccount | None = None
    user_key: bool = False  # api_key is the calling user's own key, not the operator's

    @property
    def name(self) -> str:
        return self.spec.name

    def request_headers(self) -> dict[str, str]:
        """Headers every request to this provider carries: auth plus fixed extras."""
        headers = dict(self.spec.headers)
        if self.api_key is not None:
            if self.spec.auth == "bearer":
                headers["Authorization"] = f"Bearer {self.api_key}"
            elif self.spec.auth == "header" and self.spec.auth_header:
                headers[self.spec.auth_header] = self.spec.auth_prefix + self.api_key
        return headers


@cache
def _builtin_rows() -> tuple[dict[str, Any], ...]:
    return tuple(yaml.safe_load(_BUILTIN.read_text(encoding="utf-8"))["providers"])


@cache
def builtin_specs() -> tuple[ProviderSpec, ...]:
    return tuple(TypeAdapter(list[ProviderSpec]).validate_python(_builtin_rows()))


def complete_from_builtin(row: Any) -> Any:
    """A config row naming a built-in provider inherits the fields it leaves out; `own_keys`
    too, unless the row changes where calls go or how they authenticate."""
    if not isinstance(row, dict):
        return row
    for builtin in _builtin_rows():
        if builtin["name"] == row.get("name"):
            merged = {**builtin, **row}
            if "own_keys" not in row and _moves(builtin, row):
                merged["own_keys"] = False
            return merged
    return row


def _moves(builtin: dict[str, Any], row: dict[str, Any]) -> bool:
    """Whether `row` gives one of the address fields another value than `builtin` has."""
    fields = ProviderSpec.model_fields
    return any(
        row[name] != builtin.get(name, fields[name].get_default(call_default_factory=True))
        for name in _ADDRESS_FIELDS
        if name in row
    )


def merged_specs(configured: list[ProviderSpec]) -> list[ProviderSpec]:
    """Built-in rows, each replaced by a configured row of the same name; new rows last."""
    by_name = {spec.name: spec for spec in configured}
    merged = [by_name.pop(spec.name, spec) for spec in builtin_specs()]
    return merged + [spec for spec in configured if spec.name in by_name]


def resolve(spec: ProviderSpec, environ: dict[str, str]) -> Provider | None:
    """The usable provider, or None when its key (or key file) or a placeholder is not set."""
    base_url = _base_url(spec, environ)
    if base_url is None:
        return None
    if spec.auth == "google":
        return _with_service_account(spec, base_url, environ)
    if spec.api_key is not None:
        api_key: str | None = spec.api_key.get_secret_value()
    elif spec.api_key_env:
        api_key = environ.get(spec.api_key_env) or None
    else:
        api_key = None
    if api_key is None and spec.auth != "none":
        return None
    return Provider(spec=spec, base_url=base_url, api_key=api_key)


def keyless(spec: ProviderSpec, environ: dict[str, str]) -> Provider | None:
    """The provider without a key, for users who bring their own: None when it does not take
    users' own keys or a placeholder of its base URL is not set."""
    if not spec.own_keys:
        return None
    base_url = _base_url(spec, environ)
    return None if base_url is None else Provider(spec=spec, base_url=base_url, api_key=None)


def _base_url(spec: ProviderSpec, environ: dict[str, str]) -> str | None:
    """The base URL with its placeholders filled in, or None when one is not set."""
    if any(not environ.get(var) for var in _PLACEHOLDER.findall(spec.base_url)):
        return None
    return _PLACEHOLDER.sub(lambda m: environ[m.group(1)], spec.base_url).rstrip("/")


def _with_service_account(
    spec: ProviderSpec, base_url: str, environ: dict[str, str]
) -> Provider | None:
    """An `auth: google` provider, or None when no key file is configured; reads the file."""
    env = spec.credentials_file_env
    path = spec.credentials_file or (environ.get(env) if env else None)
    if not path:
        return None
    try:
        account = load_service_account(path)
    except CredentialsError as exc:
        raise CredentialsError(f"provider {spec.name!r}: {exc}") from None
    return Provider(spec=spec, base_url=base_url, api_key=None, service_account=account)


def why_disabled(spec: ProviderSpec, environ: dict[str, str]) -> str:
    """What a provider row that `resolve` does not enable is missing, in a few words."""
    placeholders = dict.fromkeys(_PLACEHOLDER.findall(spec.base_url))
    missing = [var for var in placeholders if not environ.get(var)]
    if missing:
        return f"{', '.join(missing)} not set (used in its base URL)"
    if spec.auth == "google":
        env = spec.credentials_file_env
        return f"{env} not set (service-account key file)" if env else "no credentials_file"
    if spec.api_key_env:
        return f"{spec.api_key_env} not set"
    return "no api_key or api_key_env"


def enabled_providers(configured: list[ProviderSpec], environ: dict[str, str]) -> list[Provider]:
    providers = (resolve(spec, environ) for spec in merged_specs(configured))
    return [p for p in providers if p is not None]
