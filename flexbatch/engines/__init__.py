"""Where the event-sized SQL steps of a day run: DuckDB (embedded, the default) or Spark.

Both fulfil one contract, :class:`Engine`: given the day's connection (holding
``run_context``, ``plan_versions`` and ``plan_tiers``), IN, OUT and the day's stage, run
the charging steps and leave in the connection everything the credit ledger reads; return
the number of input files, the output frames the driver publishes, and the row counts. A
table the engine wrote into the stage itself is not among the frames.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import duckdb
import polars as pl

from flexbatch.errors import ConfigError
from flexbatch.settings import Settings

if TYPE_CHECKING:
    from flexbatch.storage.publish import DayStage
    from flexbatch.storage.stores import Store
    from flexbatch.transform.charging import DayCounts

ENGINES = ("duckdb", "spark")


class Engine(Protocol):
    name: str
    #: the Spark session whose JVM reaches Hadoop URIs, or None
    jvm_session: object | None

    def compute_day(
        self,
        con: duckdb.DuckDBPyConnection,
        inputs: Store,
        output: Store,
        day: date,
        stage: DayStage,
    ) -> tuple[int, dict[str, pl.LazyFrame | Path], DayCounts]: ...


def make_engine(name: str, settings: Settings | None = None) -> Engine:
    """The engine called ``name``; Spark only when asked for (the base install has no
    pyspark: a one-line error then says how to get it)."""
    if name == "duckdb":
        from flexbatch.engines.duckdb_engine import DuckDBEngine

        return DuckDBEngine()
    if name != "spark":
        raise ConfigError(f"engine {name!r} is unknown; fix: use one of {', '.join(ENGINES)}")
    try:
        from flexbatch.engines.spark_engine import SparkEngine
    except ImportError as exc:
        raise ConfigError(
            f"--engine spark needs {exc.name or 'pyspark'}, which is not installed; "
            "fix: pip install 'flexbatch[spark]'"
        ) from exc
    return SparkEngine(settings or Settings())
