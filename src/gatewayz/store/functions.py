"""SQL functions spelled differently by SQLite and PostgreSQL."""

from typing import Any

from sqlalchemy import Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import GenericFunction


class byte_length(GenericFunction[int]):
    """The length of a text value in bytes of UTF-8, not in characters."""

    type = Integer()
    inherit_cache = True


@compiles(byte_length, "postgresql")
def _octet_length(element: byte_length, compiler: Any, **kw: Any) -> str:
    return f"octet_length({compiler.process(element.clauses, **kw)})"


@compiles(byte_length, "sqlite")
def _blob_length(element: byte_length, compiler: Any, **kw: Any) -> str:
    return f"length(CAST({compiler.process(element.clauses, **kw)} AS BLOB))"
