"""Where the event-sized SQL steps of a day run: DuckDB (embedded, the default) or Spark.

Both fulfil one contract, :class:`Engine`: ``charging(con, inputs, state, stage)``, the
charging stage of ``transform/contract.py``. Given a fresh DuckDB connection to work in,
the day's inputs (IN's listing, the rate plans), the month state and the day's stage, run
the charging steps and return a ``ChargingResult``: the published frames the driver
writes (a table the engine wrote into the stage itself is not among them), the relations
the credit ledger is handed, and the counts. Nothing is left in the connection for anyone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import duckdb

from flexbatch.errors import ConfigError
from flexbatch.settings import Settings

if TYPE_CHECKING:
    from flexbatch.storage.publish import DayStage
    from flexbatch.transform.contract import ChargingInputs, ChargingResult, ChargingState

ENGINES = ("duckdb", "spark")


class Engine(Protocol):
    name: str
    #: the Spark session whose JVM reaches Hadoop URIs, or None
    jvm_session: object | None

    def charging(
        self,
        con: duckdb.DuckDBPyConnection,
        inputs: ChargingInputs,
        state: ChargingState,
        stage: DayStage,
    ) -> ChargingResult: ...


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
