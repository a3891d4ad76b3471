"""The default engine: the charging steps in the day's own DuckDB connection."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from flexbatch.errors import FlexbatchError
from flexbatch.ingest.usage_input import register_raw_events, unreadable_file
from flexbatch.storage.publish import DayStage
from flexbatch.storage.stores import Store
from flexbatch.transform.charging import DayCounts, compute_day
from flexbatch.transform.month_state import register_history


class DuckDBEngine:
    name = "duckdb"
    jvm_session = None

    def compute_day(
        self,
        con: duckdb.DuckDBPyConnection,
        inputs: Store,
        output: Store,
        day: date,
        stage: DayStage,
    ) -> tuple[int, dict[str, pl.LazyFrame | Path], DayCounts]:
        try:
            register_history(con, output, day)
            input_files = register_raw_events(con, inputs, day)
            try:
                frames, counts = compute_day(con, stage.scratch)
            except duckdb.Error as exc:  # a damaged usage file is the input's fault: exit 2
                damaged = unreadable_file(con, inputs, day, exc)
                if damaged is None:
                    raise
                raise damaged from exc
        except FlexbatchError as exc:  # name a file of a remote IN where it lives, not
            local, shown = str(inputs.local("")), inputs.display("")  # its local copy
            if local == shown or local not in str(exc):
                raise
            raise type(exc)(str(exc).replace(local, shown)) from exc
        return input_files, frames, counts
