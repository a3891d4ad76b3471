"""The credit ledger engine: one day of SPEC §4 (expire, grant, transfer, burn) and §5
(balances, forecast, alerts) over every account at once.

The contract (``ledger/contract.py``), in the manner of OpenMeter's ``engine.Run(params)
-> result``: ``ledger(con, CreditInputs, CreditState) -> LedgerResult``. The day's inputs
(charging's charges and usage alerts, the grants, transfers and top-up rules files, the
day) and the starting snapshot (``ledger/state.read_credit_state``) come in as Arrow
tables and frames; the ledger registers them, and its run context, in ``con`` (a
connection it may fill: nothing else reads it), runs ``PHASES`` in order, and returns the
day's tables and the next snapshot. An audit failure raises ``AuditError`` and returns
nothing.

Every rule is a step of ``sql/ledger/`` (one SELECT per file, materialised by
``run_step`` as a temp table of its name); the rules several steps share are written once:
the burn order in ``grant_burn_rank``, the product order in ``charges_to_burn``, the band
share and expiry window in ``rules``. Python only sequences the steps: one pass per
transfer of the day (transfers chain: a credit received can be sent on) and one per
product rank (an account's products burn in ascending product_code, each from what the
previous left), the pass's number a prepared parameter (``$transfer_order``,
``$product_rank``); each pass is one vectorised statement over all accounts and grants.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, fields

import duckdb
import polars as pl
import pyarrow as pa

from flexbatch.errors import AuditError
from flexbatch.ingest.topup_rules import TOPUP_RULES_EMPTY
from flexbatch.ledger import revenue
from flexbatch.ledger.contract import (
    FORECAST_HORIZON_DAYS,
    CreditCounts,
    CreditInputs,
    CreditState,
    LedgerResult,
)
from flexbatch.ledger.rules import register_rules
from flexbatch.ledger.state import (
    BALANCE_COLUMNS,
    BURN_WINDOW_DAYS,
    GRANT_STATE,
    SLICE_COLUMNS,
    STATE_COLUMNS,
)
from flexbatch.resources import sql_text
from flexbatch.tables import empty_select
from flexbatch.transform.sql_steps import register_run_context, run_step, sorted_lazy

logger = logging.getLogger(__name__)

__all__ = [  # the state's column lists and windows are read from here too
    "BALANCE_COLUMNS",
    "BURN_WINDOW_DAYS",
    "FORECAST_HORIZON_DAYS",
    "GRANT_STATE",
    "PHASES",
    "SLICE_COLUMNS",
    "STATE_COLUMNS",
    "CreditCounts",
    "ledger",
]

ENTRY_COLUMNS = (
    "account_id, grant_id, currency, entry_type, amount, product_code, ref, grant_remaining"
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


@dataclass
class _Tally:
    """The run's switch (``carry_forward``) and what the passes counted, for
    ``CreditCounts``."""

    carry_forward: bool = True
    transfers: int = 0
    rejected: int = 0
    rounds: int = 0
    recomputed: int = 0
    carried: int = 0


# The state the passes read for the accounts of ledger_accounts only; the carry-forward
# phase makes each whole again.
RESTRICTED_STATE = ("slices_prev", "balances_prev", "revenue_prev")


def _register(con: duckdb.DuckDBPyConnection, name: str, rows: pa.Table | pl.DataFrame) -> None:
    """Temp table ``name`` holding ``rows``."""
    con.register(f"{name}_rows", rows)
    con.execute(f"create or replace temp table {name} as select * from {name}_rows")
    con.unregister(f"{name}_rows")


def _register_inputs(con: duckdb.DuckDBPyConnection, inputs: CreditInputs) -> None:
    """The run context and the day's relations under the names the steps read: a grant's
    products as ';A;B;' ('' = every product), for a portable LIKE-free test; a rule's as
    'A;B', as ``topups`` publishes."""
    register_run_context(con, inputs.day, inputs.previous_day, inputs.horizon_days)
    register_rules(con)
    _register(con, "charges", inputs.charges)
    _register(con, "usage_alerts", inputs.usage_alerts)
    products = (
        pl.when(pl.col("products").list.len() == 0)
        .then(pl.lit(""))
        .otherwise(pl.lit(";") + pl.col("products").list.join(";") + pl.lit(";"))
    )
    _register(con, "grants_in", inputs.grants.with_columns(products.alias("products")))
    _register(con, "transfers_in", inputs.transfers)
    rules = TOPUP_RULES_EMPTY if inputs.topup_rules is None else inputs.topup_rules
    _register(con, "topup_rules", rules.with_columns(pl.col("products").list.join(";")))


def _register_state(con: duckdb.DuckDBPyConnection, state: CreditState) -> None:
    """Each relation of the snapshot under its field's name (``slices_prev``, …). The
    account-sized ones (``RESTRICTED_STATE``) are views over the caller's Arrow tables,
    not copies: the caller holds those for the whole call, and at 1,000,000 accounts a
    copy is the previous day's whole state held twice."""
    for field in fields(state):
        if field.name in RESTRICTED_STATE:
            con.register(field.name, getattr(state, field.name))
        else:
            _register(con, field.name, getattr(state, field.name))


def _entries(con: duckdb.DuckDBPyConnection, step: str, entry_order: int) -> None:
    """Append ``step``'s entries (ENTRY_COLUMNS) to the day's ledger."""
    con.execute(
        f"insert into ledger_entries select {ENTRY_COLUMNS}, {entry_order} as entry_order "
        f"from {step}"
    )


def _draw(con: duckdb.DuckDBPyConnection, step: str) -> None:
    """Take ``step``'s entries out of the slices they draw from, in place: a pass costs
    the slices it drew from, not every slice (``slices_drawn``)."""
    con.execute(f"create or replace temp view posted_entries as select * from {step}")
    run_step(con, "slices_drawn")
    con.execute(
        "update slices set remaining = slices.remaining + d.delta from slices_drawn as d "
        "where d.account_id = slices.account_id and d.grant_id = slices.grant_id"
    )


def _accounts(con: duckdb.DuckDBPyConnection, tally: _Tally) -> None:
    """The accounts the day can change (``ledger_accounts``); the passes that follow see
    only their slices, balances and revenue."""
    tally.recomputed = (
        run_step(con, "ledger_accounts", params={"carry_forward": tally.carry_forward}) or 0
    )
    for name in RESTRICTED_STATE:
        con.execute(f"alter view {name} rename to {name}_whole")
        con.execute(
            f"create temp table {name} as select * from {name}_whole "
            "where account_id in (select account_id from ledger_accounts)"
        )


def _carry_forward(con: duckdb.DuckDBPyConnection, tally: _Tally) -> None:
    """Every other account's balances, revenue and slices, carried forward unchanged
    (``*_carried``), join the recomputed ones; the state is whole again for the forecast
    and the alerts, which read every account."""
    for name in RESTRICTED_STATE:
        con.execute(f"drop table {name}")
        con.execute(f"alter view {name}_whole rename to {name}")
    # each carried table is dropped once appended: at 1,000,000 accounts each is a
    # million rows that would otherwise sit next to the next one
    tally.carried = run_step(con, "balances_carried") or 0
    con.execute("insert into balances by name select * from balances_carried")
    con.execute("drop table balances_carried")
    run_step(con, "revenue_carried")
    con.execute("insert into revenue by name select * from revenue_carried")
    con.execute("drop table revenue_carried")
    run_step(con, "slices_carried")
    con.execute("insert into slices_valued by name select * from slices_carried")
    con.execute("drop table slices_carried")


def _rollover_and_expire(con: duckdb.DuckDBPyConnection, tally: _Tally) -> None:
    """SPEC §10 step 1: yesterday's expired slices rolled over (up to their cap) and the
    rest written off."""
    for step in ("ledger_rollover", "rollover_entries", "rollover_slices"):
        run_step(con, step)
    _entries(con, "rollover_entries", EXPIRE)
    run_step(con, "ledger_expire")
    _entries(con, "ledger_expire", EXPIRE)


def _topups_due(con: duckdb.DuckDBPyConnection, tally: _Tally) -> None:
    """Yesterday's top-ups, granted today (SPEC §10)."""
    run_step(con, "topups_due")


def _grant(con: duckdb.DuckDBPyConnection, tally: _Tally) -> None:
    """Step 2: today's grants and due top-ups added; the day's opening slices."""
    run_step(con, "ledger_grant")
    run_step(con, "grant_entries")
    _entries(con, "grant_entries", GRANT)
    run_step(con, "slices_opening")
    con.execute("alter table slices_opening rename to slices")


def _void(con: duckdb.DuckDBPyConnection, tally: _Tally) -> None:
    """Today's voids, after the day's grants: a grant voided on or before its
    effective_on was never added."""
    run_step(con, "ledger_void")
    _entries(con, "ledger_void", VOID)
    _draw(con, "ledger_void")


def _transfers(con: duckdb.DuckDBPyConnection, tally: _Tally) -> None:
    """Step 3: each transfer of the day in transfer_id order."""
    # a view: it ranks whatever ``slices`` holds when a step reads it, so the receiver
    # slices a transfer adds take their place without a refresh (the burn reads it too)
    run_step(con, "grant_burn_rank", view=True)
    transfers = run_step(con, "transfers_today") or 0
    con.execute(
        "create or replace temp table rejected_transfers as select transfer_id, from_account, "
        "to_account, amount, cast(0 as decimal(38, 6)) as available "
        "from transfers_today where false"
    )
    rejected = 0
    for transfer_order in range(1, transfers + 1):
        params = {"transfer_order": transfer_order}
        if run_step(con, "ledger_transfer", params=params) == 0:
            rejected += 1
            run_step(con, "transfer_rejected", params=params)
            con.execute("insert into rejected_transfers select * from transfer_rejected")
            continue
        run_step(con, "transfer_entries")
        _entries(con, "transfer_entries", TRANSFER)
        _draw(con, "transfer_entries")
        run_step(con, "transfer_slices")
        con.execute(f"insert into slices select {SLICE_COLUMNS} from transfer_slices")
    tally.transfers, tally.rejected = transfers, rejected


def _burn(con: duckdb.DuckDBPyConnection, tally: _Tally) -> None:
    """Step 4: each account's products in ascending product_code, one round per rank."""
    run_step(con, "charges_to_burn")
    # the burn adds no slice and the order reads no remaining: rank once for every round
    con.execute("drop view grant_burn_rank")
    run_step(con, "grant_burn_rank")
    ((rounds,),) = con.execute(
        "select coalesce(max(product_rank), 0) from charges_to_burn"
    ).fetchall()
    for product_rank in range(1, int(rounds) + 1):
        run_step(con, "ledger_burn", params={"product_rank": product_rank})
        _entries(con, "ledger_burn", BURN)
        _draw(con, "ledger_burn")
    tally.rounds = int(rounds)


def _revenue(con: duckdb.DuckDBPyConnection, tally: _Tally) -> None:
    """SPEC §9: the value of every slice and draw (``ledger/revenue.py``). From here on
    ``slices`` is a view of ``slices_valued``, which holds the same rows with their values."""
    revenue.compute_revenue(con, SLICE_COLUMNS)


def _step(name: str) -> Callable[[duckdb.DuckDBPyConnection, _Tally], None]:
    """A phase of one SQL step."""

    def phase(con: duckdb.DuckDBPyConnection, tally: _Tally) -> None:
        run_step(con, name)

    phase.__name__ = name
    return phase


def _forecast(con: duckdb.DuckDBPyConnection, tally: _Tally) -> None:
    """The compact forecast row per account and currency (SPEC §5 v3); its expiry model,
    ``forecast_write_offs``, is the one the ``forecast_daily`` view applies on read."""
    run_step(con, "forecast_rates")
    con.execute("drop table burn_window")  # a row per account, read by the rates only
    run_step(con, "forecast_slices", view=True)
    run_step(con, "forecast_write_offs")
    run_step(con, "forecast")
    for step in ("forecast_rates", "forecast_write_offs"):  # before the summary's copy
        con.execute(f"drop table {step}")
    run_step(con, "forecast_summary")


def _audit(con: duckdb.DuckDBPyConnection, tally: _Tally) -> None:
    for audit in AUDITS:
        bad = con.sql(sql_text(audit)).fetchall()
        if bad:
            raise AuditError(
                f"audit {audit} failed for {len(bad)} rows, first {bad[0]}; "
                "nothing was published for the day"
            )


# The day's sequence (SPEC §4, §9, §10, §5), in order; each phase reads what the earlier
# ones left and the registered inputs and state.
PHASES: tuple[tuple[str, Callable[[duckdb.DuckDBPyConnection, _Tally], None]], ...] = (
    ("accounts", _accounts),
    ("rollover and expire", _rollover_and_expire),
    ("top-ups due", _topups_due),
    ("grant", _grant),
    ("void", _void),
    ("transfers", _transfers),
    ("burn", _burn),
    ("revenue", _revenue),
    ("balances", _step("balances")),
    ("carry forward", _carry_forward),
    ("topups", _step("topups")),
    ("forecast", _forecast),
    ("alerts", _step("alerts")),  # the ledger's alerts and charging's usage_alerts
    ("audits", _audit),
)

# The step tables no later phase reads, dropped after the phase named: at 1,000,000
# accounts they are gigabytes that DuckDB would otherwise spill (the outputs and what
# the audits read stay until the frames are handed over, ``_drop_steps``)
DEAD_AFTER: dict[str, tuple[str, ...]] = {
    "grant": ("ledger_grant", "grant_entries"),
    "void": ("grants_in",),
    "burn": ("charges_to_burn", "grant_burn_rank", "ledger_burn"),
    "revenue": ("value_slices", "value_draws"),
}


def ledger(
    con: duckdb.DuckDBPyConnection,
    inputs: CreditInputs,
    state: CreditState,
    *,
    carry_forward: bool = True,
) -> LedgerResult:
    """One day of the credit ledger (see the module's contract). ``con`` is the ledger's
    own: it registers the inputs, state and run context there and leaves its step tables
    behind. The passes recompute the accounts the day can change and carry every other
    forward (``ledger_accounts``); ``carry_forward=False`` recomputes every account, the
    same tables at a cost in all accounts (the reference the carry is tested against)."""
    _register_inputs(con, inputs)
    _register_state(con, state)
    del state  # the views hold what they read; a caller that keeps no reference frees it
    con.execute(
        f"create or replace temp table ledger_entries as select {ENTRY_COLUMNS}, entry_order "
        f"from ({empty_select('credit_ledger')}) as empty"
    )
    tally = _Tally(carry_forward=carry_forward)
    for name, phase in PHASES:
        logger.debug("ledger phase %s", name)
        phase(con, tally)
        for step in DEAD_AFTER.get(name, ()):
            con.execute(f"drop table if exists {step}")  # a burn of no rounds has none
    ((entry_rows, alert_rows),) = con.execute(
        "select (select count(*) from ledger_entries), (select count(*) from alerts)"
    ).fetchall()
    for name in RESTRICTED_STATE:  # the registration held the previous state's Arrow
        con.unregister(name)
    _drop_steps(con, keep={source for source, _, _ in OUTPUTS.values()})
    frames = {field: _handed_over(con, *output) for field, output in OUTPUTS.items()}
    return LedgerResult(
        **frames,
        counts=CreditCounts(
            entries=int(entry_rows),
            transfers=tally.transfers,
            transfers_rejected=tally.rejected,
            burn_rounds=tally.rounds,
            alerts=int(alert_rows),
            accounts_recomputed=tally.recomputed,
            balances_carried=tally.carried,
        ),
    )


# LedgerResult's frames: the step table each is read from, its columns, its table
OUTPUTS: dict[str, tuple[str, str, str]] = {
    "credit_ledger": ("ledger_entries", f"{ENTRY_COLUMNS}, entry_order", "credit_ledger"),
    "balances": ("balances", "*", "balances"),
    "forecast": ("forecast", "*", "forecast"),
    "alerts": ("alerts", "*", "alerts"),
    "topups": ("topups", "*", "topups"),
    "revenue": ("revenue", "*", "revenue"),
    "revenue_entries": ("revenue_entries", "*", "revenue_entries"),
    "grant_state": ("slices_valued", STATE_COLUMNS, GRANT_STATE),
}


def _drop_steps(con: duckdb.DuckDBPyConnection, keep: set[str]) -> None:
    """Drop every temp table and view of the day but ``keep``: at 1,000,000 accounts the
    steps hold gigabytes DuckDB frees only when they go, and the day's frames are next."""
    rows = con.execute(
        "select table_name, 'table' from duckdb_tables() where temporary "
        "union all select view_name, 'view' from duckdb_views() where temporary and not internal"
    ).fetchall()
    for name, kind in rows:
        if name not in keep:
            con.execute(f"drop {kind} if exists {name}")


def _handed_over(
    con: duckdb.DuckDBPyConnection, source: str, columns: str, table_path: str
) -> pl.LazyFrame:
    """The rows of step table ``source`` as the table's sorted LazyFrame; the step table
    is dropped once its rows are out (``sorted_lazy``: Arrow, built in the pages the
    tables dropped before it free), so that DuckDB does not hold every table twice."""
    frame = sorted_lazy(con, f"select {columns} from {source}", table_path)
    assert isinstance(frame, pl.LazyFrame)  # no scratch folder: never a file
    con.execute(f"drop table {source}")
    return frame
