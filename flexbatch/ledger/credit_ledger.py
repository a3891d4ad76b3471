"""The day's credit processing (SPEC §4): expire, grant, transfer, burn, then balances,
forecast, alerts and the audits, all as SQL over every account at once.

Python only sequences the steps: one pass per transfer of the day (transfers chain: a
credit received can be sent on) and one pass per product rank (an account's products burn
in ascending product_code, each from what the previous left). Each pass is one vectorised
statement over all accounts and grants.

State: ``OUT/_state/grants/date=D`` holds every live grant slice (remaining may be 0) at
the end of D; with ``balances`` of D it is all the next day needs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl

from flexbatch.errors import AuditError
from flexbatch.resources import sql_text
from flexbatch.storage.publish import partition_files
from flexbatch.storage.stores import Location, Store, store_of
from flexbatch.transform.sql_steps import relation_over_files, run_step

logger = logging.getLogger(__name__)

GRANT_STATE = "_state/grants"
FORECAST_HORIZON_DAYS = 90

SLICE_COLUMNS = (
    "account_id, grant_id, currency, priority, expires_on, unit_cost, cost_currency, "
    "effective_on, products, remaining"
)
ENTRY_COLUMNS = (
    "account_id, grant_id, currency, entry_type, amount, product_code, ref, grant_remaining"
)

EMPTY_SLICES = """
select cast(null as varchar) as account_id, cast(null as varchar) as grant_id,
       cast(null as varchar) as currency, cast(null as integer) as priority,
       cast(null as date) as expires_on, cast(null as decimal(38, 6)) as unit_cost,
       cast(null as varchar) as cost_currency, cast(null as date) as effective_on,
       cast(null as varchar) as products, cast(null as decimal(38, 6)) as remaining
where false"""

EMPTY_BALANCES = """
select cast(null as varchar) as account_id, cast(null as varchar) as currency,
       cast(null as decimal(38, 6)) as available, cast(null as decimal(38, 6)) as overdraft,
       cast(null as decimal(38, 6)) as overdraft_total,
       cast(null as decimal(38, 6)) as purchased_total,
       cast(null as decimal(38, 6)) as used_total, cast(null as decimal(38, 6)) as expired_total,
       cast(null as varchar) as band, cast(null as decimal(38, 6)) as consumed,
       cast(null as boolean) as in_overdraft
where false"""

EMPTY_DEPLETION = """
select cast(null as varchar) as account_id, cast(null as varchar) as currency,
       cast(null as date) as depletion_date
where false"""

OUTPUT_ORDER = {
    "credit_ledger": "account_id, entry_order, currency, product_code nulls first, "
    "ref nulls first, grant_id nulls first",
    "balances": "account_id, currency",
    "forecast": "account_id, currency, date",
    "alerts": "account_id, kind, ref",
    GRANT_STATE: "account_id, grant_id",
}
AUDITS = ("audit_conservation", "audit_charged", "audit_grants_non_negative")


def _table_over(
    con: duckdb.DuckDBPyConnection, name: str, files: list[Path], columns: str, empty: str
) -> None:
    relation_over_files(con, name, files, columns, empty, materialise=True)


def _day_files(out: Store, table: str, day: date | None, key: str = "date") -> list[Path]:
    if day is None:
        return []
    return [out.local(f.rel) for f in partition_files(out, table, day)]


def register_credit_state(
    con: duckdb.DuckDBPyConnection, out: Location | Store, day: date, previous_day: date | None
) -> None:
    """Yesterday's slices and balances, the burn of the 29 days before, and yesterday's
    depletion dates: the compact state of the credit ledger."""
    out = store_of(out)
    _table_over(
        con, "slices", _day_files(out, GRANT_STATE, previous_day), SLICE_COLUMNS, EMPTY_SLICES
    )
    con.execute("create or replace temp table slices_prev as select * from slices")
    balance_columns = (
        "account_id, currency, available, overdraft, overdraft_total, "
        "purchased_total, used_total, expired_total, band, consumed, in_overdraft"
    )
    _table_over(
        con,
        "balances_prev",
        _day_files(out, "balances", previous_day),
        balance_columns,
        EMPTY_BALANCES,
    )
    history = [
        f for i in range(1, 30) for f in _day_files(out, "balances", day - timedelta(days=i))
    ]
    _table_over(con, "burn_history", history, balance_columns, EMPTY_BALANCES)
    depletion = _day_files(out, "forecast", previous_day, key="as_of")
    _table_over(
        con,
        "depletion_prev",
        depletion,
        "distinct account_id, currency, depletion_date",
        EMPTY_DEPLETION,
    )


def register_credit_inputs(
    con: duckdb.DuckDBPyConnection, grants: pl.DataFrame, transfers: pl.DataFrame
) -> None:
    """Grants with products as ';A;B;' ('' = every product), for a portable LIKE-free test."""
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


@dataclass(frozen=True)
class CreditCounts:
    entries: int
    transfers: int
    transfers_rejected: int
    burn_rounds: int
    alerts: int


def _entries(con: duckdb.DuckDBPyConnection, source: str, order: int) -> None:
    con.execute(
        f"insert into ledger_entries select {ENTRY_COLUMNS}, {order} as entry_order from {source}"
    )


def _apply_deltas(con: duckdb.DuckDBPyConnection, deltas: str) -> None:
    """slices.remaining += the signed amounts of ``deltas`` (account_id, grant_id, amount)."""
    con.execute(f"""
        create or replace temp table slices as
        select s.account_id, s.grant_id, s.currency, s.priority, s.expires_on, s.unit_cost,
               s.cost_currency, s.effective_on, s.products,
               s.remaining + coalesce(d.delta, 0) as remaining
        from slices as s
        left join (
            select account_id, grant_id, sum(amount) as delta from {deltas}
            where grant_id is not null group by account_id, grant_id
        ) as d on d.account_id = s.account_id and d.grant_id = s.grant_id""")


def _expire_and_grant(con: duckdb.DuckDBPyConnection) -> None:
    run_step(con, "ledger_expire")
    _entries(con, "ledger_expire", 1)
    con.execute("""
        create or replace temp table slices as
        select s.* from slices as s cross join run_context as ctx
        where s.expires_on is null or s.expires_on > ctx.day""")
    run_step(con, "ledger_grant")
    con.execute(f"insert into slices select {SLICE_COLUMNS} from ledger_grant")
    con.execute(
        "insert into ledger_entries select account_id, grant_id, currency, 'grant', remaining, "
        "null, null, remaining, 2 from ledger_grant"
    )


def _transfers(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """Each transfer of the day in transfer_id order; returns (done, rejected)."""
    con.execute("""
        create or replace temp table rejected_transfers as
        select transfer_id, from_account, to_account, amount,
               cast(0 as decimal(38, 6)) as available
        from transfers_in where false""")
    todays = con.execute("""
        select t.transfer_id from transfers_in as t cross join run_context as ctx
        where t.date <= ctx.day and (ctx.previous_day is null or t.date > ctx.previous_day)
        order by t.transfer_id""").fetchall()
    rejected = 0
    for (transfer_id,) in todays:
        con.execute(
            "create or replace temp table current_transfer as "
            "select * from transfers_in where transfer_id = ?",
            [transfer_id],
        )
        if run_step(con, "ledger_transfer") == 0:
            rejected += 1
            con.execute("""
                insert into rejected_transfers
                select t.transfer_id, t.from_account, t.to_account, t.amount,
                       coalesce(sum(s.remaining), 0)
                from current_transfer as t
                left join slices as s
                    on s.account_id = t.from_account
                    and (t.currency is null or s.currency = t.currency)
                group by t.transfer_id, t.from_account, t.to_account, t.amount""")
            continue
        con.execute("""
            insert into ledger_entries
            select account_id, grant_id, currency, 'transfer_out', -moved, null, transfer_id,
                   remaining - moved, 3 from ledger_transfer""")
        con.execute("""
            create or replace temp table transfer_slices as
            select to_account as account_id, grant_id || '@' || transfer_id as grant_id,
                   currency, priority, expires_on, unit_cost, cost_currency, effective_on,
                   products, moved as remaining, transfer_id
            from ledger_transfer""")
        con.execute(
            "insert into ledger_entries select account_id, grant_id, currency, 'transfer_in', "
            "remaining, null, transfer_id, remaining, 3 from transfer_slices"
        )
        _apply_deltas(con, "(select account_id, grant_id, -moved as amount from ledger_transfer)")
        con.execute(f"insert into slices select {SLICE_COLUMNS} from transfer_slices")
    return len(todays), rejected


def _burn(con: duckdb.DuckDBPyConnection) -> int:
    """Each account's products in ascending product_code, one round per rank."""
    con.execute("""
        create or replace temp table charges_to_burn as
        select account_id, product_code, transaction_id, credits,
               dense_rank() over (partition by account_id order by product_code) as product_rank,
               row_number() over (
                   partition by account_id, product_code order by scope_id, plan_id, tier
               ) as charge_order
        from charges where credits > 0""")
    ((rounds,),) = con.execute(
        "select coalesce(max(product_rank), 0) from charges_to_burn"
    ).fetchall()
    for rank in range(1, int(rounds) + 1):
        con.execute(
            "create or replace temp table burn_charges as "
            "select * from charges_to_burn where product_rank = ?",
            [rank],
        )
        run_step(con, "ledger_burn")
        _entries(con, "ledger_burn", 4)
        _apply_deltas(con, "ledger_burn")
    return int(rounds)


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
) -> tuple[dict[str, pl.DataFrame], CreditCounts]:
    """Run the day's credit steps on registered state and inputs; return the outputs."""
    con.execute("""
        create or replace temp table ledger_entries as
        select cast(null as varchar) as account_id, cast(null as varchar) as grant_id,
               cast(null as varchar) as currency, cast(null as varchar) as entry_type,
               cast(null as decimal(38, 6)) as amount, cast(null as varchar) as product_code,
               cast(null as varchar) as ref, cast(null as decimal(38, 6)) as grant_remaining,
               cast(null as integer) as entry_order
        where false""")
    _expire_and_grant(con)
    transfers, rejected = _transfers(con)
    rounds = _burn(con)
    for step in ("balances", "forecast"):
        run_step(con, step)
    con.execute("""
        create or replace temp table forecast_summary as
        select distinct account_id, currency, burn_rate, depletion_date from forecast""")
    for step in ("prior_daily_users", "user_counts", "alerts"):
        run_step(con, step)
    _audit(con)
    frames = {
        "credit_ledger": con.sql(
            "select account_id, grant_id, currency, entry_type, amount, product_code, ref, "
            f"grant_remaining, entry_order from ledger_entries "
            f"order by {OUTPUT_ORDER['credit_ledger']}"
        ).pl(),
        "balances": con.sql(f"select * from balances order by {OUTPUT_ORDER['balances']}").pl(),
        "forecast": con.sql(f"select * from forecast order by {OUTPUT_ORDER['forecast']}").pl(),
        "alerts": con.sql(f"select * from alerts order by {OUTPUT_ORDER['alerts']}").pl(),
        GRANT_STATE: con.sql(
            f"select {SLICE_COLUMNS} from slices order by {OUTPUT_ORDER[GRANT_STATE]}"
        ).pl(),
    }
    counts = CreditCounts(
        entries=frames["credit_ledger"].height,
        transfers=transfers,
        transfers_rejected=rejected,
        burn_rounds=rounds,
        alerts=frames["alerts"].height,
    )
    return frames, counts
