"""The default engine: the charging steps in the day's own DuckDB connection."""

from __future__ import annotations

import duckdb

from flexbatch.errors import FlexbatchError
from flexbatch.ingest.usage_input import register_raw_events, unreadable_file
from flexbatch.storage.publish import DayStage
from flexbatch.transform.charging import charging_result, compute_day, register_day
from flexbatch.transform.contract import ChargingInputs, ChargingResult, ChargingState
from flexbatch.transform.month_state import register_month_state


class DuckDBEngine:
    name = "duckdb"
    jvm_session = None

    def charging(
        self,
        con: duckdb.DuckDBPyConnection,
        inputs: ChargingInputs,
        state: ChargingState,
        stage: DayStage,
    ) -> ChargingResult:
        try:
            register_day(con, inputs)
            register_month_state(con, state)
            input_files = register_raw_events(con, inputs.inputs, inputs.listing)
            try:
                tables, counts = compute_day(con, stage.scratch)
            except duckdb.Error as exc:  # a damaged usage file is the input's fault: exit 2
                damaged = unreadable_file(con, inputs.inputs, inputs.listing, exc)
                if damaged is None:
                    raise
                raise damaged from exc
        except FlexbatchError as exc:  # name a file of a remote IN where it lives, not
            store = inputs.inputs  # its local copy
            local, shown = str(store.local("")), store.display("")
            if local == shown or local not in str(exc):
                raise
            raise type(exc)(str(exc).replace(local, shown)) from exc
        return charging_result(con, tables, counts, input_files)
