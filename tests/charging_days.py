"""A fast multi-day driver of the charging steps for golden-row tests (the charging
counterpart of ``ledger_days``): each day runs the charging SQL steps (``compute_day``) on
an in-memory DuckDB over the day's usage files of IN and the rate plans, with the month's
earlier charges and subjects as its history, and writes the day's tables as Parquet
partitions of a scratch OUT (the layout ``read_table`` reads). No ledger, no publication
protocol, no runs: a day takes a fraction of a CLI run's time.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl

from flexbatch.ingest.rate_plans import load_rate_plans, plan_tables
from flexbatch.ingest.usage_input import register_raw_events
from flexbatch.job.day import register_context
from flexbatch.schemas import OUTPUT_MODELS
from flexbatch.tables import table
from flexbatch.transform.charging import compute_day
from flexbatch.transform.month_state import COLUMNS, HISTORY_TABLES, empty_history


def _history(con: duckdb.DuckDBPyConnection, days: dict[date, dict], day: date) -> None:
    """``charges_history`` and ``subjects_history``: the tables of ``day``'s month's
    earlier days, with their ``date``, as the job reads them from OUT."""
    for view, path in HISTORY_TABLES:
        frames = [
            frames[path].with_columns(pl.lit(d).alias("date"))
            for d, frames in sorted(days.items())
            if d.replace(day=1) == day.replace(day=1) and d < day
        ]
        con.execute(f"create temp table {view}_empty as {empty_history(view)}")
        if frames:
            con.register(f"{view}_frame", pl.concat(frames, how="diagonal_relaxed"))
            earlier = f"select {COLUMNS[view]} from {view}_frame union all "
        else:
            earlier = ""
        con.execute(f"create temp table {view} as {earlier}select * from {view}_empty")


def charge_days(inp: Path, out: Path, first: date, last: date) -> dict[date, dict]:
    """Days ``first``..``last`` of IN's usage; returns each day's frames by table path
    (each validated by its Pandera model) and writes them under ``out``."""
    versions, tiers = plan_tables(load_rate_plans(inp / "rate_plans.toml"))
    days: dict[date, dict[str, pl.DataFrame]] = {}
    day, previous = first, None
    while day <= last:
        con = duckdb.connect()
        try:
            con.execute("set TimeZone = 'UTC'")
            register_context(con, day, previous)
            con.register("plan_versions", versions)
            con.register("plan_tiers", tiers)
            _history(con, days, day)
            register_raw_events(con, inp, day)
            lazy, _ = compute_day(con)
            frames = {path: frame.collect() for path, frame in lazy.items()}
        finally:
            con.close()
        for path, frame in frames.items():
            OUTPUT_MODELS[path].validate(frame)
            folder = out / table(path).partition(day)
            folder.mkdir(parents=True, exist_ok=True)
            frame.write_parquet(folder / "part-0.parquet")
        days[day] = frames
        day, previous = day + timedelta(days=1), day
    return days
