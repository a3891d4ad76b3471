"""A published day's charging replayed from its raw events, for ``explain``.

The job's own steps run again (``sql/ingest``, ``sql/transform``: the same quarantine,
duplicates, subjects, month state and tier positions), on the day's files of IN read by
``register_raw_events`` and the month state of OUT, then the ``sql/audit/explain_*``
steps lay the explained charge rows' subjects and events out on their positions. With a
``Focus`` only one account's events of one (product, meter) are kept, which is every event
a charge row of that account can depend on (positions run across its scopes); the rows
sharing an ``event_id`` with those are kept too, so duplicates are decided as the job did.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date

import duckdb

from flexbatch.ingest.job_config import JobConfig
from flexbatch.ingest.usage_input import register_raw_events
from flexbatch.job.day import register_context
from flexbatch.storage.literal import sql_string
from flexbatch.storage.stores import Store
from flexbatch.transform.charging import STEPS, VIEWS, run_charging_step
from flexbatch.transform.month_state import register_history
from flexbatch.transform.sql_steps import run_step

logger = logging.getLogger(__name__)

# After the job's STEPS, in dependency order.
AUDIT_STEPS = (
    "explain_recomputed",
    "explain_segments",
    "explain_subjects",
    "explain_quantities",
)


@dataclass(frozen=True)
class Focus:
    """The events a charge row of this account, product and meter can depend on."""

    account_id: str
    product_code: str
    meter: str


def _narrow(con: duckdb.DuckDBPyConnection, focus: Focus) -> None:
    """Keep the focus's rows of ``raw_events`` and every row sharing an event_id with
    one of them (literals, not a join, so DuckDB pushes the filter into the scan)."""
    con.execute("alter view raw_events rename to raw_events_day")
    con.execute(
        f"""
        create temp view raw_events as
        select *
        from raw_events_day
        where event_id in (
            select event_id
            from raw_events_day
            where account_id = {sql_string(focus.account_id)}
              and product_code = {sql_string(focus.product_code)}
              and meter = {sql_string(focus.meter)}
        )"""
    )


def trace_day(
    con: duckdb.DuckDBPyConnection,
    inputs: Store,
    output: Store,
    config: JobConfig,
    day: date,
    focus: Focus | None,
) -> None:
    """Replay ``day`` into ``con``, which must hold ``explain_charges`` (the published
    charge rows to explain, with the columns of ``charges``); leaves the job's step
    tables and the ``explain_*`` steps behind."""
    started = time.perf_counter()
    register_context(con, day, None)  # the charging steps: no credit state
    con.register("plan_versions", config.plan_versions)
    con.register("plan_tiers", config.plan_tiers)
    register_history(con, output, day)
    register_raw_events(con, inputs, day)
    if focus is not None:
        _narrow(con, focus)
    for step in STEPS:
        run_charging_step(con, step)
    for step in AUDIT_STEPS:
        run_step(con, step, view=step in VIEWS)
    logger.info("replayed %s in %.3fs", day, time.perf_counter() - started)
