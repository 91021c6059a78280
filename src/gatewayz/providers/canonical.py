"""Canonical model ids: one name for the same model served by several providers.

`canonical_id` is a pure function: lower-case, drop vendor/org paths and routing variants,
dates, quantisation and deployment suffixes, and spell versions one way (`v3p1` → `3.1`,
`3-5` → `3.5`, `llama3.1` → `llama-3.1`). What these rules miss (Groq's `-instant`,
Cerebras' bare `llama3.1-8b`) is fixed by the explicit alias table in bundled_models.yaml,
looked up for the raw id first and for the normalised id last.
"""

import re
from collections.abc import Mapping

_DATE = re.compile(r"[-@](?:20\d{2}-?[01]\d-?[0-3]\d)$")
_SUFFIXES = (
    "-fp8",
    "-fp16",
    "-bf16",
    "-int4",
    "-int8",
    "-awq",
    "-gptq",
    "-fast",
    "-hf",
    "-free",
    "-latest",
)
_VARIANT_TAGS = frozenset(
    {"free", "beta", "extended", "nitro", "floor", "online", "thinking", "latest", "exacto"}
)
_P_VERSION = re.compile(r"(?<=\d)p(?=\d)")
_LLAMA_V = re.compile(r"\bllama-?v(?=\d)")
_LLAMA_DIGIT = re.compile(r"\bllama(?=\d)")
_SPLIT_VERSION = re.compile(r"(?<=-)(\d)-(\d)(?=-|$)")
_SEPARATORS = re.compile(r"[\s_-]+")


def canonical_id(model_id: str, aliases: Mapping[str, str] | None = None) -> str:
    """The provider-independent id of `model_id` (e.g. `llama-3.1-8b-instruct`)."""
    aliases = aliases or {}
    raw = model_id.strip().lower()
    if raw in aliases:
        return aliases[raw]
    name = raw.rsplit("/", 1)[-1]
    if name in aliases:
        return aliases[name]
    name = _drop_tag(name)
    name = _DATE.sub("", name)
    name = _drop_suffixes(name)
    name = _P_VERSION.sub(".", name)
    name = _LLAMA_V.sub("llama-", name)
    if name.startswith("meta-llama"):
        name = name.removeprefix("meta-")
    name = _LLAMA_DIGIT.sub("llama-", name)
    name = _SPLIT_VERSION.sub(r"\1.\2", name)
    name = _SEPARATORS.sub("-", name).strip("-") or raw
    return aliases.get(name, name)


def _drop_tag(name: str) -> str:
    """`model:free` → `model`; an Ollama size tag `llama3.1:8b` → `llama3.1-8b`."""
    base, sep, tag = name.partition(":")
    if not sep:
        return name
    return base if tag in _VARIANT_TAGS or not tag else f"{base}-{tag}"


def _drop_suffixes(name: str) -> str:
    """Strip quantisation and deployment suffixes; `-instruct-turbo` keeps `-instruct`."""
    changed = True
    while changed:
        changed = False
        if name.endswith("-instruct-turbo"):
            name = name.removesuffix("-turbo")
            changed = True
        for suffix in _SUFFIXES:
            if name.endswith(suffix) and len(name) > len(suffix):
                name = name.removesuffix(suffix)
                changed = True
    return name
