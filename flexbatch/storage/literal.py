"""No path is a pattern: every reader that globs gets paths with their glob characters
escaped, so a folder ``in[1]`` never reads ``in1`` and a file ``events[1].parquet`` is read
as itself.

DuckDB's ``read_parquet`` globs every string it is given (a list too): ``[``, ``*`` and
``?`` become one-character classes (``[[]``, ``[*]``, ``[?]``). Hadoop's glob (Spark's
``read.parquet`` and ``FileSystem.globStatus``) escapes with a backslash.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

DUCKDB_GLOB_CHARS = "[*?"
HADOOP_GLOB_CHARS = "[]{}*?\\"


def duckdb_literal(path: str | Path) -> str:
    """``path`` as a DuckDB glob that matches exactly that path."""
    return "".join(f"[{c}]" if c in DUCKDB_GLOB_CHARS else c for c in str(path))


def hadoop_literal(path: str) -> str:
    """``path`` (a URI or a folder) as a Hadoop glob that matches exactly that path."""
    scheme, sep, rest = path.partition("://")
    if not sep:
        scheme, rest = "", path
    escaped = "".join(f"\\{c}" if c in HADOOP_GLOB_CHARS else c for c in rest)
    return f"{scheme}{sep}{escaped}"


def sql_string(text: str | Path) -> str:
    """A SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def sql_string_list(values: Iterable[object]) -> str:
    """A SQL list literal of quoted strings: ['a', 'b''c']."""
    return "[" + ", ".join(sql_string(str(v)) for v in values) + "]"


def duckdb_files(paths: Iterable[str | Path]) -> str:
    """A SQL list of exact files for DuckDB's ``read_parquet``."""
    return sql_string_list(duckdb_literal(p) for p in paths)
