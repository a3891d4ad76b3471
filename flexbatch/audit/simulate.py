"""``flexbatch simulate --plans DRAFT.toml --from D1 --to D2`` (SPEC §7): processed history
re-priced under draft rate plans, without touching OUT.

The job itself does the re-pricing, in a scratch folder: a scratch IN whose ``usage/`` is
IN's (a symlink: events are never copied), with IN's grants, transfers and top-up rules
(re-priced charges change balances, so the top-ups they trigger: SPEC §10) and the draft
as ``rate_plans.toml``, and a scratch OUT holding copies of OUT's partitions of the days
before the first recomputed day (the credit state the recomputation continues from).
``pipeline.backfill`` then recomputes from the first processed day of D1's month (tier
positions run per period, so the month is recomputed whole) to D2. OUT is only read.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl

from flexbatch.config import Paths
from flexbatch.errors import ConfigError
from flexbatch.ingest.job_config import CONFIG_FILES, RATE_PLANS
from flexbatch.ingest.rate_plans import load_rate_plans, plan_tables
from flexbatch.job.pipeline import backfill
from flexbatch.resources import sql_text
from flexbatch.serving.views import register_views
from flexbatch.storage.partitions import partition_files
from flexbatch.storage.publish import processed_days
from flexbatch.storage.stores import LocalStore
from flexbatch.tables import TABLES

logger = logging.getLogger(__name__)

DIFF_SUFFIXES = (".csv", ".parquet")


@dataclass(frozen=True)
class Simulation:
    date_from: date
    date_to: date
    recomputed_from: date  # the first day recomputed (the first processed day of D1's month)
    days: int
    seconds: float
    summary: pl.DataFrame  # simulate_summary: per account and currency
    diff: pl.DataFrame  # simulate_diff: per account, scope, product, plan and month


def first_recomputed_day(processed: list[date], date_from: date, date_to: date) -> date:
    """The first processed day of ``date_from``'s month; every day from it to ``date_to``
    must be processed in OUT (ConfigError otherwise)."""
    done = set(processed)
    start = min((d for d in done if date_from.replace(day=1) <= d <= date_from), default=date_from)
    day = start
    while day <= date_to:
        if day not in done:
            raise ConfigError(
                f"simulate: {day} is not a processed day of OUT (simulate recomputes "
                f"{start}..{date_to}); fix: backfill it first, or choose processed days"
            )
        day += timedelta(days=1)
    return start


def _scratch_input(inputs: Path, draft: Path, root: Path) -> Path:
    scratch = root / "in"
    scratch.mkdir()
    (scratch / "usage").symlink_to((inputs / "usage").resolve(), target_is_directory=True)
    for name in CONFIG_FILES:
        if name != RATE_PLANS and (inputs / name).is_file():
            shutil.copyfile(inputs / name, scratch / name)
    shutil.copyfile(draft, scratch / RATE_PLANS)
    return scratch


def _scratch_output(out: Path, processed: list[date], before: date, root: Path) -> Path:
    """OUT's partitions of the processed days before ``before``, every table, copied
    (file contents, whatever OUT's layout links); nothing of OUT is opened for writing."""
    scratch = root / "out"
    scratch.mkdir()
    store = LocalStore(out)
    for day in (d for d in processed if d < before):
        for spec in TABLES:
            partition = spec.partition(day)
            if not (out / partition).is_dir():
                continue
            (scratch / partition).mkdir(parents=True)
            for part in partition_files(store, spec.path, day):
                shutil.copyfile(out / part.rel, scratch / part.rel)
    return scratch


# What each side contributes to the comparison: the window's charges and charge entries,
# the balances and forecast of its last day ($from, $to: the window).
SIDE_ROWS = {
    "charges": "select account_id, scope_id, product_code, plan_id, date, credits "
    "from charges where date between $from and $to",
    "credit_ledger": "select account_id, currency, entry_type, amount, date from credit_ledger "
    "where date between $from and $to and entry_type in ('consume', 'overdraft')",
    "balances": "select account_id, currency, available, date from balances where date = $to",
    "forecast": "select account_id, currency, depletion_date, as_of from forecast "
    "where as_of = $to",
    # SPEC §10: top-ups are derived from balances, so re-priced history re-derives them
    "topups": "select account_id, currency, amount, date from topups "
    "where date between $from and $to",
}


def compare(out: Path, scratch_out: Path, date_from: date, date_to: date) -> tuple:
    """(summary, diff) frames of OUT against the scratch OUT over the window; each side is
    read through the views ``flexbatch sql`` reads."""
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        window = {"from": date_from, "to": date_to}
        for side, root in (("actual", out), ("simulated", scratch_out)):
            register_views(con, root)
            for name, select in SIDE_ROWS.items():
                params = {k: v for k, v in window.items() if f"${k}" in select}
                con.execute(f"create temp table {side}_{name} as {select}", params)
        con.execute(
            "create temp table simulate_window as "
            "select cast(? as date) as date_from, cast(? as date) as date_to",
            [date_from, date_to],
        )
        return con.sql(sql_text("simulate_summary")).pl(), con.sql(sql_text("simulate_diff")).pl()
    finally:
        con.close()


def write_diff(diff: pl.DataFrame, path: Path) -> None:
    """CSV with exact decimal text, or Parquet with DECIMAL(38, 6) columns."""
    if path.suffix == ".parquet":
        diff.write_parquet(path)
    else:
        diff.write_csv(path)


def simulate(
    inputs: Path,
    out: Path,
    draft: Path,
    date_from: date,
    date_to: date,
    diff_file: Path | None = None,
) -> Simulation:
    """Re-price ``date_from..date_to`` of OUT under ``draft`` and compare."""
    if date_to < date_from:
        raise ConfigError(f"--to {date_to} is before --from {date_from}; fix: swap the dates")
    if diff_file is not None and diff_file.suffix not in DIFF_SUFFIXES:
        raise ConfigError(f"--diff {diff_file}: unknown format; fix: end it in .csv or .parquet")
    plan_tables(load_rate_plans(draft))  # validated like rate_plans.toml: exit 2 on a fault
    if not out.is_dir():
        raise ConfigError(f"--output {out}: no such folder; fix: run flexbatch run first")
    processed = processed_days(LocalStore(out))
    start = first_recomputed_day(processed, date_from, date_to)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="flexbatch-simulate-") as scratch:
        root = Path(scratch)
        scratch_in = _scratch_input(inputs, draft, root)
        scratch_out = _scratch_output(out, processed, start, root)
        results = backfill(Paths(scratch_in, scratch_out), start, date_to, progress=False)
        summary, diff = compare(out, scratch_out, date_from, date_to)
    if diff_file is not None:
        write_diff(diff, diff_file)
    seconds = time.perf_counter() - started
    logger.info("simulated %s..%s (%d days) in %.2fs", start, date_to, len(results), seconds)
    return Simulation(date_from, date_to, start, len(results), seconds, summary, diff)
