"""The credit ledger engine: one day of SPEC §4 (expire, grant, transfer, burn) and §5
(balances, forecast, alerts) over every account at once.

The contract, in the manner of OpenMeter's ``engine.Run(params) -> result``:

in, the starting state (``register_credit_state``, read from OUT):
    ``slices_prev``     every live grant slice at the end of the previous processed day
                        (``OUT/_state/grants``; remaining may be 0)
    ``balances_prev``   that day's balances; ``burn_history`` the balances of the 29 days
                        before the day (the forecast's burn window); ``depletion_prev``
                        that day's depletion dates (so an alert is raised once)
in, the day (``register_credit_inputs`` and the caller):
    ``charges``         the day's charges (the charging steps)
    ``grants_in``, ``transfers_in``   the validated grants and transfers files
    ``run_context``     day, previous_day, forecast_horizon_days
out (``compute_credit_day``):
    the day's ``credit_ledger``, ``balances``, ``forecast`` and ``alerts`` frames, and the
    new state ``_state/grants`` (the slices at the end of the day): with ``balances`` it is
    all the next day needs. An audit failure raises ``AuditError`` and returns nothing.

Every rule is a step of ``sql/ledger/`` (one SELECT per file, materialised by
``run_step`` as a temp table of its name); the rules several steps share are written once:
the burn order in ``grant_burn_rank``, the product order in ``charges_to_burn``, the band
share and expiry window in ``rules``. Python only sequences the steps: one pass per
transfer of the day (transfers chain: a credit received can be sent on) and one per
product rank (an account's products burn in ascending product_code, each from what the
previous left); each pass is one vectorised statement over all accounts and grants.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl

from flexbatch.errors import AuditError
from flexbatch.ledger.rules import register_rules
from flexbatch.resources import sql_text
from flexbatch.storage.publish import partition_files
from flexbatch.storage.stores import Location, Store, store_of
from flexbatch.tables import empty_select, table
from flexbatch.transform.sql_steps import relation_over_files, run_step, sorted_lazy

logger = logging.getLogger(__name__)

GRANT_STATE = table("grant_state").path  # "_state/grants"
FORECAST_HORIZON_DAYS = 90
BURN_WINDOW_DAYS = 30  # burn_rate is the mean consumption of the trailing 30 days

SLICE_COLUMNS = (
    "account_id, grant_id, currency, priority, expires_on, unit_cost, cost_currency, "
    "effective_on, products, remaining"
)
ENTRY_COLUMNS = (
    "account_id, grant_id, currency, entry_type, amount, product_code, ref, grant_remaining"
)
BALANCE_COLUMNS = (
    "account_id, currency, available, overdraft, overdraft_total, "
    "purchased_total, used_total, expired_total, band, consumed, in_overdraft"
)

# entry_order of each step's entries: the step's place in SPEC §4
EXPIRE, GRANT, TRANSFER, BURN = 1, 2, 3, 4

AUDITS = ("audit_conservation", "audit_charged", "audit_grants_non_negative")


@dataclass(frozen=True)
class CreditCounts:
    entries: int
    transfers: int
    transfers_rejected: int
    burn_rounds: int
    alerts: int


def _day_files(out: Store, table_path: str, day: date | None) -> list[Path]:
    if day is None:
        return []
    return [out.local(f.rel) for f in partition_files(out, table_path, day)]


def _state_table(
    con: duckdb.DuckDBPyConnection, name: str, table_path: str, files: list[Path], columns: str
) -> None:
    """Temp table ``name`` of ``columns`` over ``files``; the published table's typed empty
    form when there are none (the first day, or a day before any activity)."""
    empty = f"select {columns} from ({empty_select(table_path)}) as empty"
    relation_over_files(con, name, files, columns, empty, materialise=True)


def register_credit_state(
    con: duckdb.DuckDBPyConnection, out: Location | Store, day: date, previous_day: date | None
) -> None:
    """The starting state: yesterday's slices and balances, the balances of the burn window
    before the day, and yesterday's depletion dates."""
    out = store_of(out)
    _state_table(
        con, "slices_prev", GRANT_STATE, _day_files(out, GRANT_STATE, previous_day), SLICE_COLUMNS
    )
    _state_table(
        con,
        "balances_prev",
        "balances",
        _day_files(out, "balances", previous_day),
        BALANCE_COLUMNS,
    )
    history = [
        f
        for i in range(1, BURN_WINDOW_DAYS)
        for f in _day_files(out, "balances", day - timedelta(days=i))
    ]
    _state_table(con, "burn_history", "balances", history, BALANCE_COLUMNS)
    _state_table(
        con,
        "depletion_prev",
        "forecast",
        _day_files(out, "forecast", previous_day),
        "distinct account_id, currency, depletion_date",
    )


def register_credit_inputs(
    con: duckdb.DuckDBPyConnection, grants: pl.DataFrame, transfers: pl.DataFrame
) -> None:
    """The day's grants and transfers files as ``grants_in`` and ``transfers_in``; a grant's
    products as ';A;B;' ('' = every product), for a portable LIKE-free test."""
    products = (
        pl.when(pl.col("products").list.len() == 0)
        .then(pl.lit(""))
        .otherwise(pl.lit(";") + pl.col("products").list.join(";") + pl.lit(";"))
    )
    con.register("grants_frame", grants.with_columns(products.alias("products")))
    con.execute("create or replace temp table grants_in as select * from grants_frame")
    con.unregister("grants_frame")
    con.register("transfers_frame", transfers)
    con.execute("create or replace temp table transfers_in as select * from transfers_frame")
    con.unregister("transfers_frame")


def _pass(con: duckdb.DuckDBPyConnection, name: str, column: str, value: int) -> None:
    """One-row temp table ``name`` telling a pass's steps which transfer or rank is theirs."""
    con.execute(
        f"create or replace temp table {name} as select cast(? as bigint) as {column}", [value]
    )


def _entries(con: duckdb.DuckDBPyConnection, step: str, entry_order: int) -> None:
    """Append ``step``'s entries (ENTRY_COLUMNS) to the day's ledger."""
    con.execute(
        f"insert into ledger_entries select {ENTRY_COLUMNS}, {entry_order} as entry_order "
        f"from {step}"
    )


def _draw(con: duckdb.DuckDBPyConnection, step: str) -> None:
    """Take ``step``'s entries out of the slices they draw from."""
    con.execute(f"create or replace temp view posted_entries as select * from {step}")
    run_step(con, "slices_posted")
    con.execute("create or replace temp table slices as select * from slices_posted")


def _expire_and_grant(con: duckdb.DuckDBPyConnection) -> None:
    """Steps 1 and 2: yesterday's expired slices written off, today's grants added."""
    run_step(con, "ledger_expire")
    _entries(con, "ledger_expire", EXPIRE)
    run_step(con, "ledger_grant")
    run_step(con, "grant_entries")
    _entries(con, "grant_entries", GRANT)
    run_step(con, "slices_opening")
    con.execute("create or replace temp table slices as select * from slices_opening")
    # a view: it ranks whatever ``slices`` holds when a step reads it, so the receiver
    # slices a transfer adds take their place without a refresh
    run_step(con, "grant_burn_rank", view=True)


def _transfers(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """Step 3: each transfer of the day in transfer_id order; returns (done, rejected)."""
    transfers = run_step(con, "transfers_today") or 0
    con.execute(
        "create or replace temp table rejected_transfers as select transfer_id, from_account, "
        "to_account, amount, cast(0 as decimal(38, 6)) as available "
        "from transfers_today where false"
    )
    rejected = 0
    for transfer_order in range(1, transfers + 1):
        _pass(con, "transfer_pass", "transfer_order", transfer_order)
        if run_step(con, "ledger_transfer") == 0:
            rejected += 1
            run_step(con, "transfer_rejected")
            con.execute("insert into rejected_transfers select * from transfer_rejected")
            continue
        run_step(con, "transfer_entries")
        _entries(con, "transfer_entries", TRANSFER)
        _draw(con, "transfer_entries")
        run_step(con, "transfer_slices")
        con.execute(f"insert into slices select {SLICE_COLUMNS} from transfer_slices")
    return transfers, rejected


def _burn(con: duckdb.DuckDBPyConnection) -> int:
    """Step 4: each account's products in ascending product_code, one round per rank."""
    run_step(con, "charges_to_burn")
    ((rounds,),) = con.execute(
        "select coalesce(max(product_rank), 0) from charges_to_burn"
    ).fetchall()
    for product_rank in range(1, int(rounds) + 1):
        _pass(con, "burn_pass", "product_rank", product_rank)
        run_step(con, "ledger_burn")
        _entries(con, "ledger_burn", BURN)
        _draw(con, "ledger_burn")
    return int(rounds)


def _forecast(con: duckdb.DuckDBPyConnection) -> None:
    """The compact forecast row per account and currency (SPEC §5 v3); its expiry model,
    ``forecast_write_offs``, is the one the ``forecast_daily`` view applies on read."""
    run_step(con, "forecast_rates")
    run_step(con, "forecast_slices", view=True)
    for step in ("forecast_write_offs", "forecast", "forecast_summary"):
        run_step(con, step)


def _audit(con: duckdb.DuckDBPyConnection) -> None:
    for audit in AUDITS:
        bad = con.sql(sql_text(audit)).fetchall()
        if bad:
            raise AuditError(
                f"audit {audit} failed for {len(bad)} rows, first {bad[0]}; "
                "nothing was published for the day"
            )


def compute_credit_day(
    con: duckdb.DuckDBPyConnection,
) -> tuple[dict[str, pl.LazyFrame], CreditCounts]:
    """Run the day's credit steps on the registered state and inputs (see the module's
    contract); return the day's frames by table path (sorted by key when collected) and
    the counts."""
    register_rules(con)
    con.execute(
        f"create or replace temp table ledger_entries as select {ENTRY_COLUMNS}, entry_order "
        f"from ({empty_select('credit_ledger')}) as empty"
    )
    _expire_and_grant(con)
    transfers, rejected = _transfers(con)
    rounds = _burn(con)
    run_step(con, "balances")
    _forecast(con)
    for step in ("prior_daily_users", "user_counts", "alerts"):
        run_step(con, step)
    _audit(con)
    entries = f"select {ENTRY_COLUMNS}, entry_order from ledger_entries"
    frames = {
        "credit_ledger": sorted_lazy(con, entries, "credit_ledger"),
        "balances": sorted_lazy(con, "select * from balances", "balances"),
        "forecast": sorted_lazy(con, "select * from forecast", "forecast"),
        "alerts": sorted_lazy(con, "select * from alerts", "alerts"),
        GRANT_STATE: sorted_lazy(con, f"select {SLICE_COLUMNS} from slices", GRANT_STATE),
    }
    ((entry_rows, alert_rows),) = con.execute(
        "select (select count(*) from ledger_entries), (select count(*) from alerts)"
    ).fetchall()
    counts = CreditCounts(
        entries=int(entry_rows),
        transfers=transfers,
        transfers_rejected=rejected,
        burn_rounds=rounds,
        alerts=int(alert_rows),
    )
    return frames, counts
