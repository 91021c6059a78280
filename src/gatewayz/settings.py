"""One typed Settings object: environment variables GATEWAYZ_* over an optional YAML file.

This is the only module that reads the process environment.
"""

import json
import os
import re
import secrets
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import make_url

from gatewayz.accounts.key_settings import KeySettings
from gatewayz.accounts.provider_keys import ByokSettings
from gatewayz.accounts.web_settings import AccountsSettings
from gatewayz.billing.hold_owners import HoldSettings
from gatewayz.billing.plan_settings import PlanSettings, TrialSettings
from gatewayz.billing.stripe_settings import ReferralSettings, StripeSettings
from gatewayz.billing.worst_case import IMAGE_INPUT_TOKENS, TOOLS_INPUT_TOKENS
from gatewayz.limits.settings import LimitsSettings
from gatewayz.notify.settings import MailSettings
from gatewayz.providers.spec import ProviderSpec
from gatewayz.providers.table import complete_from_builtin, merged_specs, resolve
from gatewayz.routing.settings import RoutingSettings

CONFIG_ENV = "GATEWAYZ_CONFIG"


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file and the field."""


class Settings(BaseSettings):
    """Everything an operator can set, with defaults that run on a bare machine."""

    model_config = SettingsConfigDict(env_prefix="GATEWAYZ_", extra="forbid")

    config: Path | None = None
    database_url: str = "sqlite+aiosqlite:///./gatewayz.db"
    redis_url: str | None = None
    secret: SecretStr | None = None
    secret_file: Path | None = None
    previous_secrets: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "text"] = "auto"
    log_prompts: bool = False
    access_log: bool = True
    otlp_endpoint: str | None = None
    sentry_dsn: SecretStr | None = None
    auto_migrate: bool = True
    providers: list[ProviderSpec] = Field(default_factory=list)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    holds: HoldSettings = Field(default_factory=HoldSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    plans: PlanSettings = Field(default_factory=PlanSettings)
    trial: TrialSettings = Field(default_factory=TrialSettings)
    keys: KeySettings = Field(default_factory=KeySettings)
    accounts: AccountsSettings = Field(default_factory=AccountsSettings)
    stripe: StripeSettings = Field(default_factory=StripeSettings)
    referrals: ReferralSettings = Field(default_factory=ReferralSettings)
    mail: MailSettings = Field(default_factory=MailSettings)
    byok: ByokSettings = Field(default_factory=ByokSettings)
    catalog_ttl_seconds: float = Field(default=3600.0, gt=0)
    catalog_refresh: bool = True
    demo_provider: bool = True
    default_max_output_tokens: int = Field(default=4096, gt=0)
    image_input_tokens: int = Field(default=IMAGE_INPUT_TOKENS, gt=0)
    tools_input_tokens: int = Field(default=TOOLS_INPUT_TOKENS, ge=0)
    auth_cache_seconds: float = Field(default=10.0, ge=0)
    # Largest request body of a model call, as Anthropic's own Messages API allows: room
    # for several images sent as base64 (a third larger than the image itself).
    max_body_bytes: int = Field(default=32 * 1024 * 1024, gt=0)
    # Largest request body of every other endpoint: accounts, administration, the webhook.
    max_other_body_bytes: int = Field(default=1024 * 1024, gt=0)
    log_flush_seconds: float = Field(default=0.05, gt=0)
    # Rows the batch writer stores in one transaction. Under load its batches fill up, and
    # the fewer transactions it needs, the more it keeps up with the calls it settles; the
    # bound keeps a batch's statements within the databases' limits on parameters.
    log_batch_size: int = Field(default=2_000, gt=0, le=5_000)
    log_memory_rows: int = Field(default=20_000, gt=0)
    journal_dir: Path | None = None
    sqlite_busy_timeout_seconds: float = Field(default=30.0, gt=0)
    bootstrap_admin_email: str = "admin@gatewayz.local"
    bootstrap_admin_credits: Decimal = Field(default=Decimal("0"), ge=0)
    environ: dict[str, str] = Field(
        default_factory=lambda: dict(os.environ), exclude=True, repr=False
    )

    @field_validator("previous_secrets", mode="before")
    @classmethod
    def _secret_list(cls, value: Any) -> Any:
        """GATEWAYZ_PREVIOUS_SECRETS: a JSON list, or secrets separated by commas."""
        if not isinstance(value, str):
            return value
        if value.strip().startswith("["):
            return json.loads(value)
        return [part.strip() for part in value.split(",") if part.strip()]

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_log_level(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("providers", mode="before")
    @classmethod
    def _complete_builtin_rows(cls, value: Any) -> Any:
        return [complete_from_builtin(row) for row in value] if isinstance(value, list) else value

    @model_validator(mode="after")
    def _key_files_usable(self) -> "Settings":
        """A service-account key file that is configured must be readable now, at start-up."""
        for spec in merged_specs(self.providers):
            if spec.auth == "google":
                resolve(spec, self.environ)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        init_kwargs = getattr(init_settings, "init_kwargs", {})
        return (init_settings, env_settings, _YamlFileSource(settings_cls, init_kwargs))


class _YamlFileSource(PydanticBaseSettingsSource):
    """Reads the YAML file named by `config=` or GATEWAYZ_CONFIG."""

    def __init__(self, settings_cls: type[BaseSettings], init_kwargs: Mapping[str, Any]) -> None:
        super().__init__(settings_cls)
        self._path = init_kwargs.get("config") or os.environ.get(CONFIG_ENV)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        if not self._path:
            return {}
        return read_config_file(Path(self._path))


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse the YAML config file, with errors that name the file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of setting names")
    return data


def load_settings(**overrides: Any) -> Settings:
    """Build Settings, turning validation errors into one ConfigError naming file and field."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        source = overrides.get("config") or os.environ.get(CONFIG_ENV) or "environment"
        problems = "; ".join(f"{_field(err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"{source}: invalid configuration: {problems}") from exc


def _field(loc: tuple[Any, ...]) -> str:
    """The field's dotted path, and the variable it came from when the environment set it."""
    name = ".".join(str(p) for p in loc) or "(top level)"
    env = f"GATEWAYZ_{str(loc[0]).upper()}" if loc else ""
    return f"{name} (from {env})" if env in os.environ else name


def secret_path(settings: Settings) -> Path:
    """Where the server secret of this database lives: GATEWAYZ_SECRET_FILE if set, else
    `gatewayz.secret` beside a SQLite database file, else one file per database under
    `$XDG_CONFIG_HOME/gatewayz/secrets/` (`~/.config` by default), named after its host,
    port and database (never its password). So every command and server that opens the same
    database finds the same secret, whatever its working directory."""
    if settings.secret_file is not None:
        return settings.secret_file.expanduser().resolve()
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(url.database).expanduser().resolve().with_name("gatewayz.secret")
    base = settings.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    name = "-".join(
        str(part) for part in (url.host or "local", url.port or "", url.database) if part
    )
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{url.get_backend_name()}-{name}")
    return Path(base) / "gatewayz" / "secrets" / f"{slug}.secret"


def log_options(settings: Settings) -> dict[str, Any]:
    """How `configure_logging` writes lines: format, and colour unless NO_COLOR is set."""
    return {"log_format": settings.log_format, "colour": "NO_COLOR" not in settings.environ}


def secret_source(settings: Settings) -> str:
    """Where the server secret comes from, for logs and `gatewayz doctor`."""
    return "GATEWAYZ_SECRET" if settings.secret is not None else str(secret_path(settings))


def server_secret(settings: Settings) -> bytes:
    """GATEWAYZ_SECRET, else a secret created once in a file only its owner can read (see
    `secret_path`)."""
    if settings.secret is not None:
        return settings.secret.get_secret_value().encode()
    path = secret_path(settings)
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_urlsafe(48).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(value)
    return value


def previous_server_secrets(settings: Settings) -> tuple[bytes, ...]:
    """Server secrets used before the current one: what they signed or encrypted still opens."""
    return tuple(secret.get_secret_value().encode() for secret in settings.previous_secrets)
