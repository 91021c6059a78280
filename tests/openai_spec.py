"""Validate JSON against a schema of OpenAI's published OpenAPI spec (copy in tests/specs).

The spec still carries OpenAPI 3.0 ``nullable`` keywords, which JSON Schema ignores; they are
rewritten to ``anyOf: [{type: "null"}, <schema>]`` so that valid ``null`` values pass.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).resolve().parent / "specs" / "openai-openapi.yaml"
_SPEC_URI = "urn:openai-openapi"


def _rewrite_nullable(node: Any) -> Any:
    if isinstance(node, list):
        return [_rewrite_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    rewritten = {key: _rewrite_nullable(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        return {"anyOf": [{"type": "null"}, rewritten]}
    return rewritten


@functools.cache
def _registry() -> Registry:
    with SPEC_PATH.open(encoding="utf-8") as spec_file:
        spec = yaml.load(spec_file, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    resource = Resource.from_contents(_rewrite_nullable(spec), default_specification=DRAFT202012)
    return Registry().with_resource(_SPEC_URI, resource)


@functools.cache
def _validator(schema_name: str) -> Draft202012Validator:
    schema = {"$ref": f"{_SPEC_URI}#/components/schemas/{schema_name}"}
    return Draft202012Validator(schema, registry=_registry())


def validate(schema_name: str, instance: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``instance`` matches the named spec schema."""
    _validator(schema_name).validate(instance)
