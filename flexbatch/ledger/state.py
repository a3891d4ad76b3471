"""The credit ledger's starting snapshot (``CreditState``), read from OUT's partitions of
the days before the day (``storage/partitions.py``); each relation is the published
table's typed empty form when it has no file (the first day, a day before any activity).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from flexbatch.errors import ConfigError
from flexbatch.ledger.contract import CreditState
from flexbatch.ledger.legacy_state import state_columns
from flexbatch.ledger.rules import BURN_WINDOW_DAYS
from flexbatch.storage.literal import duckdb_files
from flexbatch.storage.partitions import day_paths
from flexbatch.storage.stores import Location, Store, store_of
from flexbatch.tables import empty_select, table

GRANT_STATE = table("grant_state").path  # "_state/grants"

SLICE_COLUMNS = (
    "account_id, grant_id, currency, priority, expires_on, unit_cost, cost_currency, "
    "effective_on, products, origin_id, rolled_over, remaining"
)
# the state also carries each slice's credits drawn so far and its value (SPEC §9)
STATE_COLUMNS = f"{SLICE_COLUMNS}, drawn, value"
REVENUE_COLUMNS = "account_id, currency, cost_currency, deferred_closing"
BALANCE_COLUMNS = (
    "account_id, currency, available, overdraft, overdraft_total, "
    "purchased_total, used_total, expired_total, voided_total, band, consumed, in_overdraft"
)
# the previous day's balances also carry what an unchanged account keeps (balances_carried)
PREV_BALANCE_COLUMNS = f"{BALANCE_COLUMNS}, available_pct, expiring_90d, entitled"
TOPUP_COLUMNS = (
    "rule_id, account_id, currency, grant_id, effective_on, amount, unit_cost, cost_currency, "
    "available_at_trigger, expires_on, priority, products"
)


def _read(
    con: duckdb.DuckDBPyConnection, table_path: str, files: list[Path], columns: str
) -> pa.Table:
    """``columns`` of ``files`` (an OUT from before SPEC §10 too: ``legacy_state``), or of
    the table's typed empty form when there are none."""
    if not files:
        return con.sql(
            f"select {columns} from ({empty_select(table_path)}) as empty"
        ).to_arrow_table()
    read = state_columns(con, files, columns)
    source = f"read_parquet({duckdb_files(files)}, hive_partitioning = false)"
    return con.sql(f"select {read} from {source}").to_arrow_table()


def _burn_window(con: duckdb.DuckDBPyConnection, files: list[Path]) -> pa.Table:
    """The burn window's balances summed per account and currency (consumed, and the
    days observed: a row per day from an account's first activity): one row per account
    and currency, not one per day of the window."""
    source = (
        f"read_parquet({duckdb_files(files)}, hive_partitioning = false)"
        if files
        else f"({empty_select('balances')})"
    )
    return con.sql(
        "select account_id, currency, sum(consumed) as consumed, count(*) as days_observed "
        f"from {source} as days group by account_id, currency"
    ).to_arrow_table()


def read_credit_state(
    out: Location | Store,
    day: date,
    previous_day: date | None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> CreditState:
    """The state ``day`` starts from: ``previous_day``'s slices, balances, depletion
    dates, top-ups and revenue, the balances of the burn window before ``day`` and the
    top-ups of its month (``con`` reads the files; a new connection when None)."""
    store = store_of(out)
    reader = con if con is not None else duckdb.connect()
    try:
        try:
            slices = _read(
                reader, GRANT_STATE, day_paths(store, GRANT_STATE, [previous_day]), STATE_COLUMNS
            )
        except duckdb.BinderException as exc:  # a state written before revenue (SPEC §9)
            raise ConfigError(
                f"{GRANT_STATE} of {previous_day} has no drawn/value columns (written before "
                "revenue, SPEC §9); fix: flexbatch backfill from the output's first day"
            ) from exc
        window = [day - timedelta(days=i) for i in range(1, BURN_WINDOW_DAYS)]
        # SPEC §10: yesterday's top-ups take effect today; the month's earlier ones count
        # towards max_per_month (trigger days from the eve of D + 1's month to yesterday)
        month_eve = (day + timedelta(days=1)).replace(day=1) - timedelta(days=1)
        month = [day - timedelta(days=i) for i in range(1, (day - month_eve).days + 1)]
        previous = [previous_day]
        return CreditState(
            slices_prev=slices,
            balances_prev=_read(
                reader, "balances", day_paths(store, "balances", previous), PREV_BALANCE_COLUMNS
            ),
            burn_window=_burn_window(reader, day_paths(store, "balances", window)),
            depletion_prev=_read(
                reader,
                "forecast",
                day_paths(store, "forecast", previous),
                "distinct account_id, currency, depletion_date",
            ),
            topups_prev=_read(
                reader, "topups", day_paths(store, "topups", previous), TOPUP_COLUMNS
            ),
            topups_month=_read(
                reader, "topups", day_paths(store, "topups", month), "rule_id, effective_on"
            ),
            revenue_prev=_read(
                reader, "revenue", day_paths(store, "revenue", previous), REVENUE_COLUMNS
            ),
        )
    finally:
        if con is None:
            reader.close()
