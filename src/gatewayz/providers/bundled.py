"""The bundled model catalog (bundled_models.yaml): fallback models, prices and id aliases."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from gatewayz.providers.listing import ListedModel

_BUNDLED = Path(__file__).with_name("bundled_models.yaml")


@dataclass(frozen=True)
class Bundled:
    """Per-provider fallback lists, the alias table, and the date the prices were taken."""

    models: Mapping[str, tuple[ListedModel, ...]] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)
    taken: str | None = None

    def for_provider(self, name: str) -> tuple[ListedModel, ...]:
        return self.models.get(name, ())


def parse_bundled(data: Any) -> Bundled:
    """Validate the YAML document; ValueError names the provider and model that are wrong."""
    if not isinstance(data, dict):
        raise ValueError("the bundled catalog must be a mapping")
    aliases = {str(k).lower(): str(v).lower() for k, v in (data.get("aliases") or {}).items()}
    models: dict[str, tuple[ListedModel, ...]] = {}
    for provider, rows in (data.get("providers") or {}).items():
        try:
            listed = tuple(ListedModel.from_json(dict(row)) for row in rows or ())
        except (ValueError, TypeError) as exc:
            raise ValueError(f"bundled catalog, provider {provider}: {exc}") from exc
        models[str(provider)] = listed
    taken = data.get("taken")
    return Bundled(models=models, aliases=aliases, taken=str(taken) if taken else None)


@cache
def load_bundled() -> Bundled:
    """The catalog shipped with the package (read once)."""
    return parse_bundled(yaml.safe_load(_BUNDLED.read_text(encoding="utf-8")))
