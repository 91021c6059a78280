"""The batch writer's rows as JSON values and back, exactly: each row is stored with its
sink and the name of its type; integers stay integers and datetimes keep their UTC offset
(pydantic validates every field on the way back)."""

from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter


class RowCodec:
    """Encodes and decodes the rows of the sinks it was given, by their declared types."""

    def __init__(self, row_types: Mapping[str, tuple[type, ...]]) -> None:
        self._adapters: dict[str, dict[str, TypeAdapter[Any]]] = {
            sink: {kind.__name__: TypeAdapter(kind) for kind in kinds}
            for sink, kinds in row_types.items()
        }
        self._types = {sink: frozenset(kinds) for sink, kinds in row_types.items()}

    def accepts(self, sink: str, row: Any) -> bool:
        return type(row) in self._types.get(sink, ())

    def encode(self, sink: str, row: Any) -> list[Any]:
        """`[sink, type name, fields]`, all JSON values."""
        name = type(row).__name__
        return [sink, name, self._adapters[sink][name].dump_python(row, mode="json")]

    def decode(self, value: list[Any]) -> tuple[str, Any]:
        """The (sink, row) that `encode` was given."""
        sink, name, data = value
        return sink, self._adapters[sink][name].validate_python(data)
