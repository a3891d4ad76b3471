"""The day's transform: usage rows in, ``usage_daily``, ``charges``, ``quarantine``, the
month state and the usage rules (``user_limit_exceeded``) out. The SQL steps run on
relations the engine registered (``raw_events`` over the day's listing,
``charges_history``/``subjects_history`` over the month state, and ``register_day``'s
plans and run context); ``charging_result`` packs what they leave as the stage's
contract (``transform/contract.py``)."""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl

from flexbatch.ingest.duplicates import repeated_hashes
from flexbatch.ledger.rules import register_rules
from flexbatch.tables import produced_by
from flexbatch.transform.contract import ChargingInputs, ChargingResult, DayCounts
from flexbatch.transform.sql_steps import register_run_context, run_step, sorted_lazy

logger = logging.getLogger(__name__)

# In dependency order; each is sql/<step>.sql materialised as a temp table.
STEPS = (
    "active_plans",
    "checked_events",
    "repeated_hashes",
    "duplicate_rows",  # before out_of_range_rows: a group's range is checked without them
    "out_of_range_rows",
    "accepted_events",  # validation runs in event_groups' scan of them
    "event_groups",
    "user_groups",
    "resource_groups",
    "rejected_rows",  # after: read only when event_groups did not accept every row
    "quarantine",
    "usage_daily",
    "usage_by_user_daily",
    "plan_groups",
    "new_subjects",
    "subjects_state",
    "prior_positions",
    "period_units",
    "tier_units",
    "charges",
    # the usage rules: users per limited plan's period, and the alerts they raise
    "prior_daily_users",
    "user_counts",
    "usage_alerts",
)

# Event-sized steps stay views: materialising ten million rows of strings costs far more
# than each later step scanning the day's Parquet files again (parallel, column-pruned).
# user_groups and resource_groups are filters of the materialised event_groups.
VIEWS = frozenset(
    {"checked_events", "accepted_events", "user_groups", "resource_groups", "plan_groups"}
)

# Event- or subject-sized steps nothing reads once the steps have run (neither an output
# nor a relation handed to the credit ledger): dropped, views first, before the outputs
# are converted, so their memory is free for that and for the ledger (the 100 M-event
# day: 33 M resource groups, 17 M subjects).
INTERMEDIATE = (
    "plan_groups",
    "accepted_events",
    "resource_groups",
    "user_groups",
    "new_subjects",
    "event_groups",
)

# Published tables of this step, from the registry: (step, key order that makes the file
# content deterministic), by the table's folder under OUT.
OUTPUTS = {t.path: (t.name, t.order) for t in produced_by("charging")}


# What charging hands the credit ledger besides the published tables (ChargingResult).
LEDGER_RELATIONS = ("charges", "usage_alerts")


def register_day(con: duckdb.DuckDBPyConnection, inputs: ChargingInputs) -> None:
    """The day's ``run_context``, ``credit_rules`` and rate plans, from ``inputs``, in
    ``con``."""
    register_run_context(con, inputs.day, inputs.previous_day, None)
    register_rules(con)  # the windows and limits the steps read
    con.register("plan_versions", inputs.plan_versions)
    con.register("plan_tiers", inputs.plan_tiers)


def charging_result(
    con: duckdb.DuckDBPyConnection,
    tables: dict[str, pl.LazyFrame | Path],
    counts: DayCounts,
    input_files: int,
) -> ChargingResult:
    """The stage's result from the steps' tables in ``con`` (``charges``, ``usage_alerts``
    fetched as Arrow: no later stage reads ``con``)."""
    ((charge_rows, credits),) = con.execute("select count(*), sum(credits) from charges").fetchall()
    charges, usage_alerts = (con.table(name).to_arrow_table() for name in LEDGER_RELATIONS)
    return ChargingResult(
        tables=tables,
        charges=charges,
        usage_alerts=usage_alerts,
        counts=counts,
        input_files=input_files,
        charge_rows=int(charge_rows),
        credits=credits or Decimal(0),
    )


def compute_day(
    con: duckdb.DuckDBPyConnection, scratch: Path | None = None
) -> tuple[dict[str, pl.LazyFrame | Path], DayCounts]:
    """Run every step; return the output frames (sorted by key when collected, or sorted
    files under ``scratch``: ``sorted_lazy``) and the row counts."""
    rows: dict[str, int | None] = {}
    for step in STEPS:
        started = time.perf_counter()
        rows[step] = run_charging_step(con, step)
        seconds = time.perf_counter() - started
        logger.info(
            "step %-16s %10s rows %8.3fs",
            step,
            "(view)" if rows[step] is None else rows[step],
            seconds,
            extra={"step": step, "rows": rows[step], "seconds": round(seconds, 3)},
        )
    for step in INTERMEDIATE:
        con.execute(f"drop {'view' if step in VIEWS else 'table'} {step}")
    ((rows_read,),) = con.execute("select count(*) from raw_events").fetchall()
    counts = day_counts(
        con, int(rows_read), int(rows["quarantine"] or 0), int(rows["duplicate_rows"] or 0)
    )
    return output_frames(con, scratch=scratch), counts


def run_charging_step(con: duckdb.DuckDBPyConnection, step: str) -> int | None:
    """Run one of ``STEPS`` on DuckDB: its SQL file, or for ``repeated_hashes`` the
    equivalent sort (``ingest/duplicates.py``)."""
    if step == "repeated_hashes":
        return repeated_hashes(con)
    return run_step(con, step, view=step in VIEWS)


def day_counts(
    con: duckdb.DuckDBPyConnection, rows_read: int, quarantined: int, duplicates: int
) -> DayCounts:
    """The day's row counts, accepted rows counted where they arrive (``usage_daily``), so
    that rows_read = accepted + quarantined + duplicates is a check, not an identity."""
    ((accepted,),) = con.execute("select coalesce(sum(events), 0) from usage_daily").fetchall()
    return DayCounts(rows_read, int(accepted), quarantined, duplicates)


def output_frames(
    con: duckdb.DuckDBPyConnection, skip: tuple[str, ...] = (), scratch: Path | None = None
) -> dict[str, pl.LazyFrame | Path]:
    """The published tables of the day but ``skip``, each in its key's order
    (deterministic files): fetched from DuckDB now and sorted by whoever collects them, or
    sorted by DuckDB into a file under ``scratch`` (``sorted_lazy``)."""
    return {
        table: sorted_lazy(con, f"select * from {step}", table, scratch)
        for table, (step, _) in OUTPUTS.items()
        if table not in skip
    }
