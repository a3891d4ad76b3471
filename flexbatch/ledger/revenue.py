"""Revenue (SPEC §9): the value of every slice and draw, and the day's deferred,
recognised and breakage per account, credit currency and cost currency.

A pass after the credit ledger's burn, over what the ledger already produced; the burn's
SQL is untouched. The contract:

in:
    ``ledger_entries``  the day's entries (grant_remaining after each draw)
    ``slices_prev``     the slices at the end of the previous processed day, with their
                        ``drawn`` credits and ``value`` (``OUT/_state/grants``)
    ``slices``          the slices at the end of the day
    ``revenue_prev``    the previous processed day's ``revenue`` rows
out (temp tables):
    ``slice_values``    every slice of the day: size, value
    ``slices_valued``   ``slices`` with ``drawn`` and ``value``: the next day's state;
                        ``slices`` becomes a view of it
    ``revenue_entries`` the value of each entry that touches a slice (published)
    ``revenue``         the table of SPEC §9 (published)

The rules are SQL steps of ``sql/revenue/``: what each entry type does to value is one
table (``value_entry_types``); the audits ``audit_revenue_conservation`` and
``audit_revenue_values`` run with the ledger's, before anything is published.
"""

from __future__ import annotations

import duckdb

from flexbatch.transform.sql_steps import run_step

VALUE_STEPS = ("value_slices", "value_draws", "slice_values")  # then slices_valued
REVENUE_STEPS = ("revenue_entries", "revenue")
AUDITS = ("audit_revenue_values", "audit_revenue_conservation")  # the specific cause first

# round_half_even(x, 6) of a non-negative DECIMAL(38, 12) product, exact: round(x, 6) is
# DECIMAL's exact round half up, the same but on a tie (x = round(x, 6) - 0.0000005), where
# half even rounds down instead when floor(x * 10^6) is even. The parity is read off the
# fraction (x - floor(x) < 1) so that scaling by 10^6 cannot overflow (unit_cost <= 1e6
# and a slice < 1e20 credits make x < 1e26). The form this replaces repeated the fraction
# a dozen times, and DuckDB shares no subexpression under a CASE: 333,334 grants' values
# took 0.59 s of CPU inside a CASE, 0.23 s now (tests: ties, 26-digit products, Decimal).
ROUND_HALF_EVEN_6 = """
create or replace temp macro round_half_even_6(x) as (
    case
        when x - round(x, 6) = -0.0000005 and mod(floor((x - floor(x)) * 1000000), 2) = 0
            then round(x, 6) - cast(0.000001 as decimal(38, 6))
        else round(x, 6)
    end
)
"""


def register_money_rounding(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(ROUND_HALF_EVEN_6)


def compute_revenue(con: duckdb.DuckDBPyConnection, slice_columns: str) -> None:
    """Run the value steps after the day's burn (see the module's contract);
    ``slice_columns`` are the state columns of ``slices`` the next day's state keeps."""
    register_money_rounding(con)
    run_step(con, "value_entry_types")
    for step in VALUE_STEPS:
        run_step(con, step)
    # before the revenue: its closing reads each slice's value and drawn from here, not
    # through a second join of slices and slice_values on their string keys. From here on
    # ``slices`` is a view of it (the same rows): at 1,000,000 accounts a second table of
    # every slice is a quarter of a gigabyte, held while the revenue aggregates
    columns = ", ".join(f"s.{c.strip()}" for c in slice_columns.split(","))
    con.execute(
        f"create or replace temp table slices_valued as select {columns}, "
        "cast(v.size - s.remaining as decimal(38, 6)) as drawn, v.value "
        "from slices as s left join slice_values as v "
        "on v.account_id = s.account_id and v.grant_id = s.grant_id"
    )
    con.execute("drop table slices")
    con.execute(f"create temp view slices as select {slice_columns} from slices_valued")
    for step in REVENUE_STEPS:
        run_step(con, step)
