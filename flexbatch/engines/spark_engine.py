"""``--engine spark``: the event-sized steps of a day on Apache Spark.

The steps from validation to the charge positions (``charging.STEPS``) read every event of
the day; here they run as Spark SQL, transpiled by sqlglot from the same ``sql/`` files
DuckDB runs — one copy of the logic. What they leave is account-sized (usage per account
and meter, charges per account and tier, the day's new subjects, quarantined rows), so it
comes back to the driver as Arrow, as the same ``ChargingResult`` the DuckDB engine
returns, and the rest of the day (credit ledger, balances, forecast, alerts, validation,
publication) runs exactly as with ``--engine duckdb``.

This module (pyspark, sqlglot) is imported only for ``--engine spark``: the base install
does not need it (``pip install 'flexbatch[spark]'``).
"""

from __future__ import annotations

import logging
import os
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from functools import cache

import duckdb
import polars as pl
import pyarrow as pa
import sqlglot
from sqlglot import exp

from flexbatch.engines.pyspark_quiet import DataFrame, SparkSession
from flexbatch.errors import AuditError
from flexbatch.ingest.usage_input import EMPTY_RAW_EVENTS, REQUIRED_COLUMNS, file_signature
from flexbatch.resources import sql_text
from flexbatch.schemas import OUTPUT_MODELS
from flexbatch.settings import Settings
from flexbatch.storage.literal import hadoop_literal
from flexbatch.storage.publish import DayStage
from flexbatch.storage.stores import FileInfo, Store
from flexbatch.tables import key_columns
from flexbatch.transform.charging import (
    LEDGER_RELATIONS,
    OUTPUTS,
    STEPS,
    VIEWS,
    charging_result,
    day_counts,
    output_frames,
    register_day,
)
from flexbatch.transform.contract import ChargingInputs, ChargingResult, ChargingState
from flexbatch.transform.month_state import COLUMNS as HISTORY_COLUMNS
from flexbatch.transform.month_state import SUBJECTS, empty_history

logger = logging.getLogger(__name__)

# Tables that grow with the day's distinct subjects, not with accounts: on an OUT given as
# a URI, Spark writes them into the day's generation itself (never through the driver),
# checked first by one aggregate per table instead of Pandera: rules every row must
# satisfy, besides the model's columns, types and non-null columns.
# The key's uniqueness is checked by ``_check`` from the registry (``key_columns``).
SPARK_WRITTEN = {
    "usage_by_user_daily": (
        "events >= 1",
        "quantity_sum >= 0",
        *(f"length({c}) >= 1" for c in key_columns("usage_by_user_daily")),
    ),
    "_state/subjects": (),
}

# Session settings the SQL relies on for DuckDB's answers (decimals exact, timestamps
# naive UTC); a cluster's spark-submit --conf cannot change these.
REQUIRED_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    # decimal(38,6) x decimal(38,6) keeps its 12 decimals (or fails) instead of rounding
    "spark.sql.decimalOperations.allowPrecisionLoss": "false",
    "spark.sql.ansi.enabled": "true",  # overflow is an error, never a silent null
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
    # Spark has no nanosecond timestamps: such columns are read as their int64 and
    # truncated to microseconds below, as DuckDB's cast to TIMESTAMP does
    "spark.sql.legacy.parquet.nanosAsLong": "true",
    # the Parquet the driver writes: microsecond timestamps, zstd
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.parquet.compression.codec": "zstd",
}
# Defaults for a local run; under spark-submit its own settings are used instead.
LOCAL_DEFAULTS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}


def spark_session(settings: Settings) -> SparkSession:
    """The session to run on: under spark-submit, the one it configured (its --master and
    --conf); else ``FLEXBATCH_SPARK_MASTER`` (default ``local[*]``) with the local
    defaults. The settings the SQL relies on (REQUIRED_CONF) are set either way."""
    builder = SparkSession.builder.appName("flexbatch")
    if "PYSPARK_GATEWAY_PORT" not in os.environ:  # not started by spark-submit
        builder = builder.master(settings.spark_master)
        builder = builder.config("spark.driver.memory", settings.spark_driver_memory)
        for key, value in LOCAL_DEFAULTS.items():
            builder = builder.config(key, value)
    for key, value in REQUIRED_CONF.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    for key, value in REQUIRED_CONF.items():  # a session that already existed
        spark.conf.set(key, value)
    if not spark.sparkContext.getConf().contains("spark.sql.shuffle.partitions"):
        # Spark's 200 suits terabytes; two tasks per core keeps every core busy without
        # paying for hundreds of tiny tasks per stage (adaptive execution merges the rest)
        partitions = 2 * spark.sparkContext.defaultParallelism
        spark.conf.set("spark.sql.shuffle.partitions", str(partitions))
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _spark_hash(node: exp.Expression) -> exp.Expression:
    """DuckDB's 64-bit hash() becomes Spark's xxhash64(): Spark's hash() is 32 bits, and
    the dedupe pre-check wants few collisions (any would still be ranked exactly)."""
    if isinstance(node, exp.Anonymous) and node.name.lower() == "hash":
        return exp.Anonymous(this="xxhash64", expressions=node.expressions)
    return node


@cache
def spark_sql(duckdb_sql: str) -> str:
    """A DuckDB SELECT in Spark's dialect."""
    (tree,) = sqlglot.parse(duckdb_sql, read="duckdb")
    return tree.transform(_spark_hash).sql(dialect="spark")


def _cast(column: str, kind: str) -> str:
    """``usage_input``'s canonical cast of a column of this kind, in Spark SQL."""
    target = {"ts": "timestamp_ntz", "quantity": "double"}.get(column, "string")
    if kind == "null":
        return f"cast(null as {target}) as {column}"
    if kind == "timestamp_ns":  # read as int64 (nanosAsLong), truncated to microseconds
        return f"cast(timestamp_micros(div({column}, 1000)) as timestamp_ntz) as {column}"
    return f"cast({column} as {target}) as {column}"


def _naive_utc(table: pa.Table) -> pa.Table:
    """Spark hands session-zone timestamps to Arrow as UTC-zoned; DuckDB's are naive UTC."""
    fields = [
        pa.field(f.name, pa.timestamp(f.type.unit), f.nullable)
        if pa.types.is_timestamp(f.type) and f.type.tz
        else f
        for f in table.schema
    ]
    return table.cast(pa.schema(fields))


def _spark_type(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Decimal):
        return f"decimal({dtype.precision},{dtype.scale})"
    return {pl.String: "string", pl.Int64: "bigint", pl.Date: "date"}[dtype.base_type()]


def _check(frame: DataFrame, table: str) -> None:
    """The published model's columns and types, its non-null columns, ``SPARK_WRITTEN``'s
    row rules and the key's uniqueness, in one aggregate; AuditError (nothing is
    published) naming the first check that fails."""
    columns = OUTPUT_MODELS[table].to_schema().columns
    expected = [(name, _spark_type(c.dtype.type)) for name, c in columns.items()]
    actual = [(f.name, f.dataType.simpleString()) for f in frame.schema.fields]
    if actual != expected:
        raise AuditError(f"{table}: Spark produced columns {actual}, expected {expected}")
    key = ", ".join(key_columns(table))
    rules = [f"{name} is not null" for name, c in columns.items() if not c.nullable]
    rules += SPARK_WRITTEN[table]
    failing = ", ".join(f"sum(case when {rule} then 0 else 1 end)" for rule in rules)
    frame.createOrReplaceTempView("_checked")
    (row,) = frame.sparkSession.sql(
        f"select {failing}, count(*) - (select count(*) from (select distinct {key} "
        "from _checked)) from _checked"
    ).collect()
    for rule, bad in zip([*rules, f"unique ({key})"], row, strict=True):
        if bad:
            raise AuditError(f"{table}: {bad} rows fail '{rule}'; nothing was published")


class SparkEngine:
    """One Spark session for a whole command (a backfill starts the JVM once); it stays up
    for the next command of the same process (tests, notebooks). Each day frees its own
    tables."""

    name = "spark"

    def __init__(self, settings: Settings) -> None:
        self.spark = spark_session(settings)
        self.jvm_session = self.spark  # its JVM reaches Hadoop URIs

    # -- inputs -------------------------------------------------------------------------

    def _from_duckdb(self, con: duckdb.DuckDBPyConnection, name: str) -> None:
        """Copy a small DuckDB relation (plans, run context) into a Spark temp view."""
        table = con.sql(f"select * from {name}").to_arrow_table()
        self.spark.createDataFrame(table).createOrReplaceTempView(name)

    def _raw_events(self, ins: Store, day: date, files: Sequence[FileInfo]) -> DataFrame:
        """The day's files in canonical types, as ``usage_input.raw_events_sql`` reads them:
        one read per type signature, by column name, with the file and row of each event."""
        if not files:
            return self.spark.sql(spark_sql(EMPTY_RAW_EVENTS))
        groups: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for info in files:
            groups[file_signature(info, ins)].append(hadoop_literal(ins.engine_path(info.rel)))
        folder = f"usage/date={day.isoformat()}/"
        frames = []
        for signature, paths in sorted(groups.items()):
            casts = [_cast(c, kind) for c, kind in zip(REQUIRED_COLUMNS, signature, strict=True)]
            frames.append(
                self.spark.read.parquet(*paths).selectExpr(
                    *casts,
                    f"concat('{folder}', _metadata.file_name) as source_file",
                    "_metadata.row_index as source_row",
                )
            )
        raw = frames[0]
        for frame in frames[1:]:
            raw = raw.unionByName(frame)
        return raw

    def _history(self, state: ChargingState) -> None:
        """charges_history and subjects_history straight from OUT's Parquet files."""
        outs = state.output
        for view, table, infos in (
            ("charges_history", "charges", state.charges_history),
            ("subjects_history", SUBJECTS, state.subjects_history),
        ):
            files = [hadoop_literal(outs.engine_path(f.rel)) for f in infos]
            if files:
                frame = (
                    self.spark.read.option("basePath", outs.engine_path(table))
                    .parquet(*files)
                    .selectExpr(*(c.strip() for c in HISTORY_COLUMNS[view].split(",")))
                )
            else:
                frame = self.spark.sql(spark_sql(empty_history(view)))
            frame.createOrReplaceTempView(view)

    # -- the day ------------------------------------------------------------------------

    def _write(self, table: str, stage: DayStage) -> None:
        """Check ``table`` on Spark, then write it, sorted by its key, as one file into the
        day's generation (one file per partition: a reader of the table sees the old day
        or the new one, never a mix of files)."""
        step, order = OUTPUTS[table]
        frame = self.spark.table(step)
        _check(frame, table)
        target = stage.spark_target(table)
        frame.orderBy(*(c.strip() for c in order.split(","))).coalesce(1).write.parquet(target)
        stage.adopt(table)

    def charging(
        self,
        con: duckdb.DuckDBPyConnection,
        inputs: ChargingInputs,
        state: ChargingState,
        stage: DayStage,
    ) -> ChargingResult:
        """Run ``charging.STEPS`` on Spark for the day and bring back to ``con`` (as DuckDB
        temp tables) what the result holds: the published outputs and
        ``LEDGER_RELATIONS``. Where the stage gives a Spark target (an OUT on a Hadoop
        URI) the ``SPARK_WRITTEN`` tables go straight into its generation and are not
        among the result's tables."""
        register_day(con, inputs)
        ins, files = inputs.inputs, inputs.listing.files
        for name in ("run_context", "credit_rules", "plan_versions", "plan_tiers"):
            self._from_duckdb(con, name)
        # raw_events is not kept: like DuckDB's view, each step streams the day's files
        raw = self._raw_events(ins, inputs.day, files)
        raw.createOrReplaceTempView("raw_events")
        self._history(state)
        tables: list[DataFrame] = []
        rows: dict[str, int] = {}
        for step in STEPS:
            started = time.perf_counter()
            frame = self.spark.sql(spark_sql(sql_text(step)))
            if step not in VIEWS:
                # DuckDB's temp table: computed once, now, and read by later steps. (A
                # lazily cached plan was recomputed from the files by every later step.)
                frame = frame.localCheckpoint(eager=True)
                tables.append(frame)
            frame.createOrReplaceTempView(step)
            logger.info("spark step %-20s %8.3fs", step, time.perf_counter() - started)
        rows_read = int(raw.count())
        rows["duplicate_rows"] = self.spark.table("duplicate_rows").count()
        direct = tuple(t for t in SPARK_WRITTEN if stage.spark_target(t) is not None)
        for table in direct:
            started = time.perf_counter()
            self._write(table, stage)
            logger.info("spark write %-18s %8.3fs", table, time.perf_counter() - started)
        collected = [step for table, (step, _) in OUTPUTS.items() if table not in direct]
        wanted = set(collected) | set(LEDGER_RELATIONS)
        for step in sorted(wanted):
            started = time.perf_counter()
            table = _naive_utc(self.spark.table(step).toArrow())
            con.register(f"{step}_arrow", table)
            con.execute(f"create or replace temp table {step} as select * from {step}_arrow")
            con.unregister(f"{step}_arrow")
            rows[step] = table.num_rows
            logger.info(
                "spark collect %-16s %10d rows %8.3fs",
                step,
                rows[step],
                time.perf_counter() - started,
            )
        for frame in tables:  # free the checkpointed blocks (a backfill runs many days)
            frame._jdf.queryExecution().logical().rdd().unpersist(False)
        counts = day_counts(con, rows_read, rows["quarantine"], rows["duplicate_rows"])
        published = output_frames(con, skip=direct, scratch=stage.scratch)
        return charging_result(con, published, counts, len(files))
