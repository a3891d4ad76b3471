"""flexbatch: nightly consumption-credit billing over partitioned Parquet usage logs.

As a library (SPEC §11)::

    import flexbatch
    summary = flexbatch.backfill("2026-09-01", "2026-09-30", "data", "/tmp/out")
    flexbatch.sql("select account_id, sum(credits) from charges group by 1", "/tmp/out")

The functions live in :mod:`flexbatch.api` and are loaded on first use, so ``import
flexbatch`` stays fast (no DuckDB, Polars or Pandera until a function is called).
"""

import logging
import sys
import types

from flexbatch.errors import (
    AuditError,
    ConfigError,
    EnvironmentFailure,
    FlexbatchError,
    InputSchemaError,
    LockHeldError,
    MissingPartitionError,
)

__version__ = "0.1.0"

# a library prints nothing unless the application configures logging (no "last resort"
# output of warnings on stderr)
logging.getLogger("flexbatch").addHandler(logging.NullHandler())

_API = (
    "run",
    "backfill",
    "run_since_changed",
    "close",
    "status",
    "sql",
    "explain",
    "simulate",
    "RunSummary",
    "DaySummary",
)

__all__ = [
    *_API,
    "AuditError",
    "ConfigError",
    "EnvironmentFailure",
    "FlexbatchError",
    "InputSchemaError",
    "LockHeldError",
    "MissingPartitionError",
    "__version__",
]


def __getattr__(name: str) -> object:
    if name in _API:
        from flexbatch import api

        return getattr(api, name)
    raise AttributeError(f"module 'flexbatch' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))


class _Package(types.ModuleType):
    """The SQL files ship as the subpackage ``flexbatch.sql``; importing it would set the
    attribute ``flexbatch.sql`` to that subpackage and hide the function ``sql``. The
    attribute is the function; the subpackage stays reachable through ``sys.modules``
    (``importlib.resources.files("flexbatch.sql")``)."""

    @property
    def sql(self) -> object:
        from flexbatch import api

        return api.sql

    @sql.setter
    def sql(self, value: object) -> None:
        pass  # the subpackage being bound on import: sys.modules keeps it


sys.modules[__name__].__class__ = _Package
