"""The charging stage's contract: ``engine.charging(inputs, state, stage) -> ChargingResult``.

An engine (DuckDB or Spark, ``flexbatch/engines``) takes the day's inputs and the month
state and returns the day's published charging tables and the two relations the credit
ledger is handed (``charges`` and ``usage_alerts``). Nothing passes between the stages
through a connection: the result's relations are Arrow tables, owned by no connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pyarrow as pa

from flexbatch.ingest.usage_input import DayListing
from flexbatch.storage.stores import FileInfo, Store


@dataclass(frozen=True)
class DayCounts:
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    duplicates: int


@dataclass(frozen=True)
class ChargingInputs:
    """The day: its usage files (IN's partition, listed once) and the rate plans."""

    inputs: Store  # IN
    listing: DayListing  # the usage files the day reads (and records, and reports unread)
    plan_versions: pl.DataFrame  # ingest/rate_plans.py: one row per plan version
    plan_tiers: pl.DataFrame  # one row per plan version and tier
    previous_day: date | None  # the last processed day before it (run_context)

    @property
    def day(self) -> date:
        return self.listing.day


@dataclass(frozen=True)
class ChargingState:
    """The month state (``transform/month_state.py``): the files of the month's earlier
    ``charges`` (tier positions, peaks, daily users) and ``_state/subjects`` partitions."""

    output: Store  # OUT
    charges_history: tuple[FileInfo, ...]
    subjects_history: tuple[FileInfo, ...]


@dataclass(frozen=True)
class ChargingResult:
    """What charging hands on.

    ``tables``        the published charging tables by path (``tables.produced_by
                      ("charging")``) but those the engine wrote into the stage itself:
                      sorted LazyFrames, or sorted Parquet files (``sql_steps.sorted_lazy``)
    ``charges``       the day's charges, the ledger's input: account_id, scope_id,
                      product_code, plan_id, tier, transaction_id, credits DECIMAL(38, 6),
                      … (the columns of the published ``charges``)
    ``usage_alerts``  the day's ``user_limit_exceeded`` alerts (``sql/transform/
                      usage_alerts.sql``): account_id, kind, severity, message, amount
                      DECIMAL(38, 6), ref (= plan_id); one row per account and plan
    ``counts``        rows read, accepted, quarantined, duplicates
    ``input_files``   the usage files read (``len(listing.files)``)
    ``charge_rows``, ``credits``  the charges' row count and sum (0 when none)
    """

    tables: dict[str, pl.LazyFrame | Path]
    charges: pa.Table
    usage_alerts: pa.Table
    counts: DayCounts
    input_files: int
    charge_rows: int
    credits: Decimal
