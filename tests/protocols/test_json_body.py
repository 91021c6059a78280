"""Decoding a client's body: nesting depth and field sizes bounded, the field named."""

from typing import Any

import orjson
import pytest

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.json_body import MAX_DEPTH, decode_object


def nested_body(depth: int, container: str) -> bytes:
    """A body whose objects and arrays nest exactly `depth` levels deep."""
    inner: Any = 1
    for _ in range(depth - 1):
        inner = {"a": inner} if container == "object" else [inner]
    return orjson.dumps({"model": "m", "deep": inner})


@pytest.mark.parametrize("container", ["object", "array"])
def test_nesting_is_bounded_at_max_depth(container: str) -> None:
    assert decode_object(nested_body(MAX_DEPTH, container))["model"] == "m"
    with pytest.raises(InvalidRequest, match=f"nested more than {MAX_DEPTH} levels"):
        decode_object(nested_body(MAX_DEPTH + 1, container))


def test_wide_bodies_are_not_deep() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": [{"t": 1}]}] * 5000}
    assert len(decode_object(orjson.dumps(body))["messages"]) == 5000


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"model": "m" * 257}, "model"),
        ({"model": "m", "user": "u" * 257}, "user"),
        ({"model": "m", "models": ["a"] * 33}, "models"),
        ({"model": "m", "models": ["a", "b" * 257]}, "models.1"),
        ({"model": "m", "metadata": {"k": "v" * 513}}, "metadata.k"),
    ],
)
def test_oversized_fields_name_the_field(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        decode_object(orjson.dumps(fields))
    assert raised.value.param == param
    assert raised.value.message.startswith(f"'{param}'")


def test_fields_at_their_bounds_pass() -> None:
    body = {
        "model": "m" * 256,
        "models": ["a"] * 32,
        "metadata": {"k" * 64: "v" * 512, **{f"k{i}": "v" for i in range(15)}},
    }
    assert decode_object(orjson.dumps(body)) == body
