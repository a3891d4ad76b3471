"""The credit ledger engine: one day of SPEC §4 (expire, grant, transfer, burn) and §5
(balances, forecast, alerts) over every account at once.

The contract, in the manner of OpenMeter's ``engine.Run(params) -> result``:

in, the starting state (``register_credit_state``, read from OUT):
    ``slices_prev``     every live grant slice at the end of the previous processed day
                        (``OUT/_state/grants``; remaining may be 0)
    ``balances_prev``   that day's balances; ``burn_history`` the balances of the 29 days
                        before the day (the forecast's burn window); ``depletion_prev``
                        that day's depletion dates (so an alert is raised once);
                        ``topups_prev`` that day's top-ups (due today) and
                        ``topups_month`` those counting towards max_per_month (SPEC §10)
in, the day (``register_credit_inputs`` and the caller):
    ``charges``         the day's charges (the charging steps)
    ``grants_in``, ``transfers_in``, ``topup_rules``   the validated input files
    ``run_context``     day, previous_day, forecast_horizon_days
out (``compute_credit_day``):
    the day's ``credit_ledger``, ``balances``, ``forecast``, ``alerts`` and ``topups``
    frames (SPEC §10), the
    ``revenue`` and ``revenue_entries`` of SPEC §9 (``flexbatch/ledger/revenue.py``, a pass
    after the burn; it reads ``revenue_prev``, the previous day's revenue), and the new
    state ``_state/grants`` (the slices at the end of the day, with the credits drawn from
    each and its value): with ``balances``, ``topups`` and ``revenue`` it is all the next
    day needs. An audit failure raises ``AuditError`` and returns nothing.

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

from flexbatch.errors import AuditError, ConfigError
from flexbatch.ingest.topup_rules import TOPUP_RULES_EMPTY
from flexbatch.ledger import revenue
from flexbatch.ledger.legacy_state import state_columns
from flexbatch.ledger.rules import BURN_WINDOW_DAYS, register_rules
from flexbatch.resources import sql_text
from flexbatch.storage.publish import partition_files
from flexbatch.storage.stores import Location, Store, store_of
from flexbatch.tables import empty_select, table
from flexbatch.transform.sql_steps import relation_over_files, run_step, sorted_lazy

logger = logging.getLogger(__name__)

GRANT_STATE = table("grant_state").path  # "_state/grants"

SLICE_COLUMNS = (
    "account_id, grant_id, currency, priority, expires_on, unit_cost, cost_currency, "
    "effective_on, products, origin_id, rolled_over, remaining"
)
# the state also carries each slice's credits drawn so far and its value (SPEC §9)
STATE_COLUMNS = f"{SLICE_COLUMNS}, drawn, value"
REVENUE_COLUMNS = "account_id, currency, cost_currency, deferred_closing"
ENTRY_COLUMNS = (
    "account_id, grant_id, currency, entry_type, amount, product_code, ref, grant_remaining"
)
BALANCE_COLUMNS = (
    "account_id, currency, available, overdraft, overdraft_total, "
    "purchased_total, used_total, expired_total, voided_total, band, consumed, in_overdraft"
)

TOPUP_COLUMNS = (
    "rule_id, account_id, currency, grant_id, effective_on, amount, unit_cost, cost_currency, "
    "available_at_trigger, expires_on, priority, products"
)

# entry_order of each step's entries: the step's place in SPEC §4. SPEC §10's steps share
# the numbers so that the orders of existing entries never change: rollover with expire
# (1), void with grant (2: a void and a grant never touch the same slice on one day).
EXPIRE, GRANT, TRANSFER, BURN = 1, 2, 3, 4
VOID = GRANT

AUDITS = (
    "audit_conservation",
    "audit_charged",
    "audit_grants_non_negative",
    *revenue.AUDITS,
)


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
    read = state_columns(con, files, columns)  # an OUT from before SPEC §10 too
    relation_over_files(con, name, files, read, empty, materialise=True)


def register_credit_state(
    con: duckdb.DuckDBPyConnection, out: Location | Store, day: date, previous_day: date | None
) -> None:
    """The starting state: yesterday's slices and balances, the balances of the burn window
    before the day, and yesterday's depletion dates."""
    out = store_of(out)
    try:
        _state_table(
            con,
            "slices_prev",
            GRANT_STATE,
            _day_files(out, GRANT_STATE, previous_day),
            STATE_COLUMNS,
        )
    except duckdb.BinderException as exc:  # a state written before revenue (SPEC §9)
        raise ConfigError(
            f"{GRANT_STATE} of {previous_day} has no drawn/value columns (written before "
            "revenue, SPEC §9); fix: flexbatch backfill from the output's first day"
        ) from exc
    _state_table(
        con, "revenue_prev", "revenue", _day_files(out, "revenue", previous_day), REVENUE_COLUMNS
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
    # SPEC §10: yesterday's top-ups take effect today; the month's earlier ones count
    # towards max_per_month (trigger days from the eve of D + 1's month to yesterday)
    topups_prev = _day_files(out, "topups", previous_day)
    _state_table(con, "topups_prev", "topups", topups_prev, TOPUP_COLUMNS)
    month_eve = (day + timedelta(days=1)).replace(day=1) - timedelta(days=1)
    earlier = [
        f
        for i in range(1, (day - month_eve).days + 1)
        for f in _day_files(out, "topups", day - timedelta(days=i))
    ]
    _state_table(con, "topups_month", "topups", earlier, "rule_id, effective_on")


def register_credit_inputs(
    con: duckdb.DuckDBPyConnection,
    grants: pl.DataFrame,
    transfers: pl.DataFrame,
    topup_rules: pl.DataFrame | None = None,
) -> None:
    """The day's grants, transfers and top-up rules files as ``grants_in``,
    ``transfers_in`` and ``topup_rules``; a grant's products as ';A;B;' ('' = every
    product), for a portable LIKE-free test; a rule's as 'A;B', as ``topups`` publishes."""
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
    rules = TOPUP_RULES_EMPTY if topup_rules is None else topup_rules
    con.register("topup_rules_frame", rules.with_columns(pl.col("products").list.join(";")))
    con.execute("create or replace temp table topup_rules as select * from topup_rules_frame")
    con.unregister("topup_rules_frame")


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
    """Steps 1 to 3 of SPEC §10: yesterday's expired slices rolled over (up to their cap)
    and written off, today's grants and due top-ups added, today's voids."""
    for step in ("ledger_rollover", "rollover_entries", "rollover_slices"):
        run_step(con, step)
    _entries(con, "rollover_entries", EXPIRE)
    run_step(con, "ledger_expire")
    _entries(con, "ledger_expire", EXPIRE)
    run_step(con, "topups_due")
    run_step(con, "ledger_grant")
    run_step(con, "grant_entries")
    _entries(con, "grant_entries", GRANT)
    run_step(con, "slices_opening")
    con.execute("create or replace temp table slices as select * from slices_opening")
    # after the day's grants: a grant voided on or before its effective_on was never added
    run_step(con, "ledger_void")
    _entries(con, "ledger_void", VOID)
    _draw(con, "ledger_void")
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
    revenue.compute_revenue(con, SLICE_COLUMNS)
    run_step(con, "balances")
    run_step(con, "topups")
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
        "topups": sorted_lazy(con, "select * from topups", "topups"),
        "revenue": sorted_lazy(con, "select * from revenue", "revenue"),
        "revenue_entries": sorted_lazy(con, "select * from revenue_entries", "revenue_entries"),
        GRANT_STATE: sorted_lazy(con, f"select {STATE_COLUMNS} from slices_valued", GRANT_STATE),
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
