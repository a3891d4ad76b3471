"""Golden rows for single SQL steps (sqlmesh/dbt unit-test style): a few hand-written rows
for each upstream relation of one step, on an in-memory DuckDB, and the exact rows the
step must return. No files, no CLI: each test takes milliseconds.

Expected values are computed by hand in the comments, never copied from a run. The day is
D = 2026-03-10 (previous processed day 2026-03-09) unless a test says otherwise.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal as Dec

import duckdb
import polars as pl
import pytest
from hypothesis import given as given_rows
from hypothesis import settings
from hypothesis import strategies as st

from flexbatch.ingest import duplicates, rate_plans
from flexbatch.ledger import rules
from flexbatch.ledger.credit_ledger import BALANCE_COLUMNS, SLICE_COLUMNS
from flexbatch.resources import sql_names, sql_text
from flexbatch.serving.views import register_computed_views
from flexbatch.tables import empty_select
from flexbatch.transform import month_state, sql_steps
from flexbatch.transform.sql_steps import run_step, sorted_frame

D = date(2026, 3, 10)
PREVIOUS = date(2026, 3, 9)


def d(offset: int) -> date:
    """D plus ``offset`` days."""
    return D + timedelta(days=offset)


SLICES = (
    "account_id varchar, grant_id varchar, currency varchar, priority integer, "
    "expires_on date, unit_cost decimal(38, 6), cost_currency varchar, effective_on date, "
    "products varchar, origin_id varchar, rolled_over boolean, remaining decimal(38, 6)"
)
ENTRIES = (
    "account_id varchar, grant_id varchar, currency varchar, entry_type varchar, "
    "amount decimal(38, 6), product_code varchar, ref varchar, grant_remaining decimal(38, 6)"
)


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute("set TimeZone = 'UTC'")
    given(
        connection,
        "run_context",
        "day date, day_start timestamp, day_end timestamp, month_start date, "
        "previous_day date, forecast_horizon_days integer",
        [(D, datetime(2026, 3, 10), datetime(2026, 3, 11), date(2026, 3, 1), PREVIOUS, 3)],
    )
    rules.register_rules(connection)
    yield connection
    connection.close()


def given(con: duckdb.DuckDBPyConnection, name: str, columns: str, rows: Sequence[tuple]) -> None:
    """Temp table ``name`` with ``columns`` (a column list with types) holding ``rows``."""
    con.execute(f"create or replace temp table {name} ({columns})")
    if rows:
        marks = ", ".join("?" for _ in rows[0])
        con.executemany(f"insert into {name} values ({marks})", [list(r) for r in rows])


def step(
    con: duckdb.DuckDBPyConnection,
    name: str,
    columns: str,
    order_by: str,
    params: dict[str, object] | None = None,
) -> list[tuple]:
    """``columns`` of the rows of step ``name`` (with its prepared ``params``),
    materialised as its temp table."""
    run_step(con, name, params=params)
    return con.execute(f"select {columns} from {name} order by {order_by}").fetchall()


def slice_row(
    grant_id: str,
    remaining: str,
    *,
    account: str = "acme",
    currency: str = "flex_credit",
    priority: int = 10,
    expires_on: date | None = None,
    unit_cost: str = "0",
    effective_on: date = date(2026, 3, 1),
    products: str = "",
    origin_id: str | None = None,
    rolled_over: bool = False,
) -> tuple:
    return (
        account,
        grant_id,
        currency,
        priority,
        expires_on,
        Dec(unit_cost),
        "USD",
        effective_on,
        products,
        origin_id or grant_id,
        rolled_over,
        Dec(remaining),
    )


# --- charging steps -----------------------------------------------------------------------

PLAN_VERSIONS = (
    "plan_id varchar, plan_version date, product_code varchar, chargeable varchar, "
    "meter varchar, algorithm varchar, billing_period varchar, threshold_scope varchar"
)
PLAN_TIERS = (
    "plan_id varchar, plan_version date, tier integer, tier_above decimal(38, 6), "
    "tier_upper decimal(38, 6), unit_price decimal(38, 6)"
)
PERIOD_UNITS = (
    "plan_id varchar, plan_version date, period_key varchar, account_id varchar, "
    "threshold_key varchar, scope_id varchar, units decimal(38, 6), "
    "position_start decimal(38, 6), position_end decimal(38, 6)"
)
V1 = date(2026, 1, 1)


def test_charges_split_units_across_a_tier_boundary_and_round_half_even(con):
    given(
        con,
        "plan_versions",
        PLAN_VERSIONS,
        [
            ("P", V1, "ADH", "resource", "m", "sum", "day", "account"),
            ("Q", V1, "CONNECT", "resource", "m", "sum", "month", "account"),
        ],
    )
    given(
        con,
        "plan_tiers",
        PLAN_TIERS,
        [
            ("P", V1, 1, Dec(0), Dec(10), Dec(1)),
            ("P", V1, 2, Dec(10), None, Dec("0.5")),
            ("Q", V1, 1, Dec(0), None, Dec("0.000001")),  # a micro-credit per unit
        ],
    )
    given(
        con,
        "period_units",
        PERIOD_UNITS,
        [
            # positions 8..13: 2 units below the boundary at 10, 3 above
            ("P", V1, "2026-03-10", "acme", "", "ns-1", Dec(5), Dec(8), Dec(13)),
            # 0.5 micro-credits: the tie goes to the even 0
            ("Q", V1, "2026-03-01", "acme", "", "ns-1", Dec("0.5"), Dec(0), Dec("0.5")),
            # 1.5 and 2.5 micro-credits: both go to the even 2
            ("Q", V1, "2026-03-01", "acme", "", "ns-2", Dec("1.5"), Dec("0.5"), Dec(2)),
            ("Q", V1, "2026-03-01", "acme", "", "ns-3", Dec("2.5"), Dec(2), Dec("4.5")),
        ],
    )
    run_step(con, "tier_units")
    rows = step(
        con,
        "charges",
        "plan_id, scope_id, tier, tier_above, units, credits, period_start",
        "plan_id, scope_id, tier",
    )
    assert rows == [
        ("P", "ns-1", 1, Dec(0), Dec(2), Dec(2), D),  # 2 x 1
        ("P", "ns-1", 2, Dec(10), Dec(3), Dec("1.5"), D),  # 3 x 0.5
        ("Q", "ns-1", 1, Dec(0), Dec("0.5"), Dec(0), date(2026, 3, 1)),  # month: month_start
        ("Q", "ns-2", 1, Dec(0), Dec("1.5"), Dec("0.000002"), date(2026, 3, 1)),
        ("Q", "ns-3", 1, Dec(0), Dec("2.5"), Dec("0.000002"), date(2026, 3, 1)),
    ]
    ((txid,),) = con.execute(
        "select transaction_id from charges where plan_id = 'P' and tier = 2"
    ).fetchall()
    assert txid == hashlib.md5(b"10:2026-03-104:acme4:ns-11:P1:2").hexdigest()


def test_tier_units_cut_each_scopes_positions_to_the_tiers_they_overlap(con):
    given(
        con,
        "plan_tiers",
        PLAN_TIERS,
        [
            ("P", V1, 1, Dec(0), Dec(10), Dec(1)),
            ("P", V1, 2, Dec(10), Dec(20), Dec("0.5")),
            ("P", V1, 3, Dec(20), None, Dec(0)),
        ],
    )
    given(
        con,
        "period_units",
        PERIOD_UNITS,
        [
            ("P", V1, "2026-03-10", "acme", "", "ns-1", Dec(5), Dec(8), Dec(13)),  # 1 and 2
            ("P", V1, "2026-03-10", "acme", "", "ns-2", Dec(2), Dec(13), Dec(15)),  # 2 only
            ("P", V1, "2026-03-10", "acme", "", "ns-3", Dec(25), Dec(15), Dec(40)),  # 2, 3
        ],
    )
    rows = step(con, "tier_units", "scope_id, tier, range_start, range_end", "scope_id, tier")
    assert rows == [
        ("ns-1", 1, Dec(8), Dec(10)),  # positions 9..10 in tier 1
        ("ns-1", 2, Dec(10), Dec(13)),
        ("ns-2", 2, Dec(13), Dec(15)),
        ("ns-3", 2, Dec(15), Dec(20)),  # up to tier 2's bound
        ("ns-3", 3, Dec(20), Dec(40)),  # the open top tier
    ]


def test_transaction_id_tells_apart_ids_that_differ_only_in_where_a_bar_sits(con):
    # ids are any strings (SPEC §3.1): account "a|b" in scope "c" and account "a" in scope
    # "b|c" are two charges; joined with '|' both would read "D|a|b|c|P|1" (one id)
    given(
        con,
        "plan_versions",
        PLAN_VERSIONS,
        [("P", V1, "ADH", "resource", "m", "sum", "day", "account")],
    )
    given(con, "plan_tiers", PLAN_TIERS, [("P", V1, 1, Dec(0), None, Dec(1))])
    given(
        con,
        "period_units",
        PERIOD_UNITS,
        [
            ("P", V1, "2026-03-10", "a|b", "", "c", Dec(1), Dec(0), Dec(1)),
            ("P", V1, "2026-03-10", "a", "", "b|c", Dec(1), Dec(0), Dec(1)),
            # the same shift between scope and plan: plan "x|P" would be a third reading
            ("P", V1, "2026-03-10", "a", "", "b|c|P", Dec(1), Dec(0), Dec(1)),
        ],
    )
    run_step(con, "tier_units")
    ids = dict(step(con, "charges", "account_id || '/' || scope_id, transaction_id", "1"))
    # by hand: md5 of each part as <length>:<text>, the date first and the tier last
    assert ids == {
        "a|b/c": hashlib.md5(b"10:2026-03-103:a|b1:c1:P1:1").hexdigest(),
        "a/b|c": hashlib.md5(b"10:2026-03-101:a3:b|c1:P1:1").hexdigest(),
        "a/b|c|P": hashlib.md5(b"10:2026-03-101:a5:b|c|P1:P1:1").hexdigest(),
    }
    assert len(set(ids.values())) == 3


PLAN_GROUPS = (
    "plan_id varchar, plan_version date, algorithm varchar, billing_period varchar, "
    "period_key varchar, distinct_window varchar, account_id varchar, threshold_key varchar, "
    "subject_scope varchar, subject_id varchar, scope_id varchar, is_resource_group boolean, "
    "hour_key varchar, quantity_sum decimal(38, 6), quantity_max decimal(38, 6)"
)
MONTH = "2026-03-01"


def group(
    plan_id: str,
    algorithm: str,
    scope_id: str,
    *,
    subject: str | None = None,
    quantity: str = "0",
    resource_group: bool = False,
) -> tuple:
    """A plan_groups row of a month plan of acme with shared thresholds."""
    q = Dec(quantity)
    return (
        plan_id,
        V1,
        algorithm,
        "month",
        MONTH,
        MONTH,
        "acme",
        "",
        "",
        subject,
        scope_id,
        resource_group,
        None,
        q,
        q,
    )


ACCEPTED_EVENTS = (
    "event_id varchar, ts timestamp, account_id varchar, scope_id varchar, "
    "product_code varchar, meter varchar, user_id varchar, resource_id varchar, "
    "quantity decimal(38, 6), source_file varchar, source_row bigint"
)
ACTIVE_PLANS = "product_code varchar, meter varchar, billing_period varchar"


def test_event_groups_give_both_levels_from_one_aggregation(con):
    # meter m is billed by the hour (plan H), meter n by the month: only m keys the hour
    given(con, "active_plans", ACTIVE_PLANS, [("A", "m", "hour"), ("A", "n", "month")])
    at = datetime(2026, 3, 10, 9, 15)
    given(
        con,
        "accepted_events",
        ACCEPTED_EVENTS,
        [
            ("e1", at, "acme", "s1", "A", "m", "u1", "r1", Dec("2"), "f", 0),
            ("e2", at.replace(minute=45), "acme", "s1", "A", "m", "u1", "r2", Dec("5"), "f", 1),
            ("e3", at.replace(hour=10), "acme", "s1", "A", "m", "u1", "r1", Dec("1"), "f", 2),
            ("e4", at, "acme", "s1", "A", "n", None, "r1", Dec("3"), "f", 3),
            ("e5", at.replace(hour=20), "acme", "s1", "A", "n", "u2", None, Dec("4"), "f", 4),
        ],
    )
    run_step(con, "event_groups")
    nine, ten = datetime(2026, 3, 10, 9), datetime(2026, 3, 10, 10)
    users = step(
        con, "user_groups", "meter, user_id, hour_key, events, quantity_sum, quantity_max",
        "meter, user_id nulls first, hour_key",
    )  # fmt: skip
    # m: u1 at 9h (e1, e2: 2 events, 2 + 5, max 5) and 10h (e3); n: no hour key, the
    # group without a user (e4) and u2 (e5)
    assert users == [
        ("m", "u1", nine, 2, Dec("7"), Dec("5")),
        ("m", "u1", ten, 1, Dec("1"), Dec("1")),
        ("n", None, None, 1, Dec("3"), Dec("3")),
        ("n", "u2", None, 1, Dec("4"), Dec("4")),
    ]
    resources = step(
        con, "resource_groups", "meter, resource_id, hour_key", "meter, resource_id, hour_key"
    )
    # m: r1 at 9h and 10h, r2 at 9h; n: r1 (e5 has no resource and counts none)
    assert resources == [
        ("m", "r1", nine),
        ("m", "r1", ten),
        ("m", "r2", nine),
        ("n", "r1", None),
    ]


def test_new_subjects_first_time_in_window_at_the_lowest_scope(con):
    given(
        con,
        "plan_groups",
        PLAN_GROUPS,
        [
            group("U", "unique_users", "ns-2", subject="u1"),
            group("U", "unique_users", "ns-1", subject="u1"),  # also in ns-2: ns-1 wins
            group("U", "unique_users", "ns-1", subject="u2"),  # counted on an earlier day
            group("R", "unique_resources", "ns-3", subject="r1", resource_group=True),
            group("S", "sum", "ns-1", quantity="2"),  # not a distinct algorithm
        ],
    )
    given(
        con,
        "subjects_history",
        "plan_id varchar, period_start date, account_id varchar, threshold_key varchar, "
        "subject_scope varchar, subject_id varchar",
        [("U", date(2026, 3, 1), "acme", "", "", "u2")],
    )
    rows = step(con, "new_subjects", "plan_id, subject_id, scope_id", "plan_id, subject_id")
    assert rows == [("R", "r1", "ns-3"), ("U", "u1", "ns-1")]


def test_period_units_positions_continue_the_month_and_run_across_scopes(con):
    given(
        con,
        "new_subjects",
        "plan_id varchar, plan_version date, period_key varchar, account_id varchar, "
        "threshold_key varchar, scope_id varchar",
        [
            ("U", V1, MONTH, "acme", "", "ns-1"),  # u1
            ("U", V1, MONTH, "acme", "", "ns-1"),  # u2
            ("U", V1, MONTH, "acme", "", "ns-2"),  # u3
        ],
    )
    given(
        con,
        "plan_groups",
        PLAN_GROUPS,
        [
            group("S", "sum", "ns-1", quantity="2.5"),
            group("S", "sum", "ns-1", quantity="1.5"),
            group("S", "sum", "ns-2", quantity="1"),
            group("K", "peak", "ns-1", quantity="5"),
            group("K", "peak", "ns-2", quantity="4"),  # below ns-1's 5: posts nothing
        ],
    )
    given(
        con,
        "prior_positions",
        "plan_id varchar, period_start date, account_id varchar, threshold_key varchar, "
        "units_to_date decimal(38, 6)",
        [
            ("U", date(2026, 3, 1), "acme", "", Dec(4)),  # 4 users counted earlier
            ("K", date(2026, 3, 1), "acme", "", Dec(3)),  # the month's peak so far
        ],
    )
    rows = step(
        con,
        "period_units",
        "plan_id, scope_id, units, position_start, position_end",
        "plan_id, scope_id",
    )
    assert rows == [
        ("K", "ns-1", Dec(2), Dec(3), Dec(5)),  # the peak rises 3 -> 5
        ("S", "ns-1", Dec(4), Dec(0), Dec(4)),
        ("S", "ns-2", Dec(1), Dec(4), Dec(5)),  # after the lower scope
        ("U", "ns-1", Dec(2), Dec(4), Dec(6)),  # after the 4 earlier users
        ("U", "ns-2", Dec(1), Dec(6), Dec(7)),
    ]


# --- ledger steps -------------------------------------------------------------------------


def test_prior_positions_sum_the_months_charges_per_threshold_key(con):
    # the month's earlier charges as month_state reads them (its charges_history columns,
    # threshold_key derived there): A shares thresholds across scopes, B has one per scope
    given(
        con,
        "earlier_charges",
        "plan_id varchar, account_id varchar, scope_id varchar, billing_period varchar, "
        "threshold_scope varchar, algorithm varchar, period_start date, units decimal(38, 6), "
        "date date",
        [
            ("A", "acme", "ns-1", "month", "account", "sum", MONTH, Dec(2), d(-2)),
            ("A", "acme", "ns-2", "month", "account", "sum", MONTH, Dec(3), d(-1)),
            ("B", "acme", "ns-1", "month", "scope", "sum", MONTH, Dec(4), d(-2)),
            ("B", "acme", "ns-2", "month", "scope", "sum", MONTH, Dec(5), d(-2)),
            ("B", "acme", "ns-2", "month", "scope", "sum", MONTH, Dec(1), d(-1)),
            ("C", "acme", "ns-1", "day", "account", "sum", d(-1), Dec(7), d(-1)),  # no month
        ],
    )
    history = month_state.COLUMNS["charges_history"]
    con.execute(f"create temp view charges_history as select {history} from earlier_charges")
    rows = step(
        con,
        "prior_positions",
        "plan_id, period_start, account_id, threshold_key, units_to_date",
        "plan_id, threshold_key",
    )
    m = date(2026, 3, 1)
    assert rows == [
        ("A", m, "acme", "", Dec(5)),  # 2 + 3: one position line for the account
        ("B", m, "acme", "ns-1", Dec(4)),
        ("B", m, "acme", "ns-2", Dec(6)),  # 5 + 1
    ]


def test_active_plans_counts_users_and_resources_as_rate_plans_declares(con):
    algorithms = rate_plans.CHOICES["algorithm"]
    given(
        con,
        "plan_versions",
        "plan_id varchar, plan_version date, effective_to date, product_code varchar, "
        "service varchar, chargeable varchar, meter varchar, algorithm varchar, "
        "billing_period varchar, threshold_scope varchar, user_limit bigint",
        [(a, V1, None, "ADH", None, "user", "m", a, "day", "account", None) for a in algorithms],
    )
    rows = step(con, "active_plans", "algorithm, counts_users, counts_resources", "algorithm")
    assert rows == sorted(
        (a, a in rate_plans.USER_ALGORITHMS, a in rate_plans.RESOURCE_ALGORITHMS)
        for a in algorithms
    )
    assert sum(u for _, u, _ in rows) == 2 and sum(r for _, _, r in rows) == 2


def test_threshold_key_is_derived_by_one_expression():
    # plan_groups (the day's groups) and month_state (earlier days' charges) derive it with
    # month_state.THRESHOLD_KEY; every other SQL step reads the column.
    rule = "threshold_scope = 'scope'"
    assert f"{month_state.THRESHOLD_KEY} as threshold_key" in sql_text("plan_groups")
    holders = {name for name in sql_names() if rule in sql_text(name)}
    assert holders == {"plan_groups"}


def test_grant_burn_rank_is_priority_expiry_cost_effective_on_grant_id(con):
    given(
        con,
        "slices",
        SLICES,
        [
            slice_row("G-PAID", "1", expires_on=d(200), unit_cost="1"),
            slice_row("G-PAID-B", "1", expires_on=d(200), unit_cost="1"),  # grant_id decides
            slice_row(  # effective earlier: before G-PAID
                "G-PAID-OLD", "1", expires_on=d(200), unit_cost="1", effective_on=date(2026, 2, 1)
            ),
            slice_row("G-FREE", "1", expires_on=d(200)),  # same expiry, free: before paid
            slice_row("G-SOON", "1", expires_on=d(100), unit_cost="2"),  # expires first
            slice_row("G-NEVER", "1"),  # never expires: last
            slice_row("G-CLOUD", "1", priority=0, currency="cloud_credit", expires_on=d(300)),
            slice_row("G-EMPTY", "0", account="globex"),  # ranked too, in its own account
        ],
    )
    rows = step(con, "grant_burn_rank", "account_id, grant_id, burn_rank", "account_id, burn_rank")
    assert rows == [
        ("acme", "G-CLOUD", 1),
        ("acme", "G-SOON", 2),
        ("acme", "G-FREE", 3),
        ("acme", "G-PAID-OLD", 4),
        ("acme", "G-PAID", 5),
        ("acme", "G-PAID-B", 6),
        ("acme", "G-NEVER", 7),
        ("globex", "G-EMPTY", 1),
    ]


def test_charges_to_burn_products_ascending_then_scope_plan_tier(con):
    given(
        con,
        "charges",
        "account_id varchar, scope_id varchar, product_code varchar, plan_id varchar, "
        "tier integer, transaction_id varchar, credits decimal(38, 6)",
        [
            ("acme", "ns-1", "ZZZ", "P-Z", 1, "t1", Dec(5)),
            ("acme", "ns-2", "ADH", "P-A", 1, "t2", Dec(3)),
            ("acme", "ns-1", "ADH", "P-A", 2, "t3", Dec(4)),
            ("acme", "ns-1", "ADH", "P-A", 1, "t4", Dec(2)),
            ("acme", "ns-1", "CONNECT", "P-C", 1, "t5", Dec(0)),  # nothing to burn
            ("globex", "ns-1", "CONNECT", "P-C", 1, "t6", Dec(1)),
        ],
    )
    rows = step(
        con,
        "charges_to_burn",
        "account_id, product_code, transaction_id, product_rank, charge_order",
        "account_id, product_rank, charge_order",
    )
    assert rows == [
        ("acme", "ADH", "t4", 1, 1),
        ("acme", "ADH", "t3", 1, 2),
        ("acme", "ADH", "t2", 1, 3),
        ("acme", "ZZZ", "t1", 2, 1),  # CONNECT had no credits: ZZZ is acme's second
        ("globex", "CONNECT", "t6", 1, 1),
    ]


CHARGES_TO_BURN = (
    "account_id varchar, product_code varchar, transaction_id varchar, "
    "credits decimal(38, 6), product_rank bigint, charge_order bigint"
)
BURN_ENTRY = (
    "account_id, grant_id, currency, entry_type, amount, product_code, ref, grant_remaining"
)


def burn(con: duckdb.DuckDBPyConnection, product_rank: int = 1) -> list[tuple]:
    run_step(con, "grant_burn_rank")
    order = "account_id, ref, grant_id nulls last"
    return step(con, "ledger_burn", BURN_ENTRY, order, {"product_rank": product_rank})


def test_burn_takes_slices_in_burn_order_across_charges(con):
    # burn order: CLOUD [0, 20), FREE [20, 30), PAID [30, 55), LATE [55, 85), NEVER
    # charges:    c1 [0, 30), c2 [30, 70)
    given(
        con,
        "slices",
        SLICES,
        [
            slice_row("NEVER", "100"),
            slice_row("LATE", "30", expires_on=d(200)),
            slice_row("PAID", "25", expires_on=d(100), unit_cost="1"),
            slice_row("FREE", "10", expires_on=d(100)),
            slice_row("CLOUD", "20", priority=0, currency="cloud_credit", expires_on=d(20)),
        ],
    )
    given(
        con,
        "charges_to_burn",
        CHARGES_TO_BURN,
        [
            ("acme", "ADH", "c1", Dec(30), 1, 1),
            ("acme", "ADH", "c2", Dec(40), 1, 2),
            ("acme", "ZZZ", "c9", Dec(1000), 2, 1),  # the next round's: untouched
        ],
    )
    assert burn(con) == [
        ("acme", "CLOUD", "cloud_credit", "consume", Dec(-20), "ADH", "c1", Dec(0)),
        ("acme", "FREE", "flex_credit", "consume", Dec(-10), "ADH", "c1", Dec(0)),
        ("acme", "LATE", "flex_credit", "consume", Dec(-15), "ADH", "c2", Dec(15)),
        ("acme", "PAID", "flex_credit", "consume", Dec(-25), "ADH", "c2", Dec(0)),
    ]


def test_burn_only_from_slices_the_product_may_use_and_overdraft_the_rest(con):
    given(
        con,
        "slices",
        SLICES,
        [
            # acme: the CONNECT charge may not use G-ADH, though it comes first
            slice_row("G-ADH", "10", priority=0, currency="cloud_credit", products=";ADH;"),
            slice_row("G-ALL", "5", currency="flex_token"),
            # globex: a grant for two products pays for the second
            slice_row("G-X", "10", account="globex", products=";ADH;CONNECT;"),
        ],
    )
    given(
        con,
        "charges_to_burn",
        CHARGES_TO_BURN,
        [
            ("acme", "CONNECT", "c3", Dec(8), 1, 1),
            ("globex", "CONNECT", "c5", Dec(4), 1, 1),
            ("initech", "ADH", "c4", Dec("2.5"), 1, 1),  # no grant at all
        ],
    )
    assert burn(con) == [
        ("acme", "G-ALL", "flex_token", "consume", Dec(-5), "CONNECT", "c3", Dec(0)),
        # uncovered 3: in the currency of the last slice CONNECT could use
        ("acme", None, "flex_token", "overdraft", Dec(-3), "CONNECT", "c3", None),
        ("globex", "G-X", "flex_credit", "consume", Dec(-4), "CONNECT", "c5", Dec(6)),
        ("initech", None, "flex_credit", "overdraft", Dec("-2.5"), "ADH", "c4", None),
    ]


def test_slices_drawn_draws_consume_and_transfer_out_only(con):
    given(con, "slices", SLICES, [slice_row("G1", "100"), slice_row("G2", "7")])
    given(
        con,
        "posted_entries",
        ENTRIES,
        [
            ("acme", "G1", "flex_credit", "consume", Dec(-10), "ADH", "c1", Dec(90)),
            ("acme", "G1", "flex_credit", "transfer_out", Dec(-5), None, "T1", Dec(85)),
            # the receiver slice comes with its amount (transfer_slices): not added twice
            ("acme", "G1@T1", "flex_credit", "transfer_in", Dec(5), None, "T1", Dec(5)),
            ("acme", None, "flex_credit", "overdraft", Dec(-1), "ADH", "c2", None),
        ],
    )
    # G1 loses 10 + 5; G2 is not drawn from (not rewritten either)
    assert step(con, "slices_drawn", "grant_id, delta", "grant_id") == [("G1", Dec(-15))]


TRANSFERS_TODAY = (
    "transfer_id varchar, from_account varchar, to_account varchar, amount decimal(38, 6), "
    "currency varchar, transfer_order bigint"
)


def transfer_slices(con: duckdb.DuckDBPyConnection) -> None:
    given(
        con,
        "slices",
        SLICES,
        [
            slice_row("G-C", "50"),
            slice_row("G-B", "20", expires_on=d(200)),
            slice_row("G-A", "10", expires_on=d(100), unit_cost="0.5", products=";ADH;"),
            slice_row("G-Z", "0", expires_on=d(10)),  # first in burn order, but empty
            slice_row("G-T", "100", currency="flex_token", priority=0),  # other currency
        ],
    )
    given(
        con,
        "transfers_today",
        TRANSFERS_TODAY,
        [
            ("T1", "acme", "initech", Dec(25), "flex_credit", 1),
            ("T2", "acme", "initech", Dec(81), "flex_credit", 2),  # acme holds 80
        ],
    )
    run_step(con, "grant_burn_rank")


def test_transfer_slices_the_sender_in_burn_order_keeping_terms(con):
    # flex_credit in burn order: G-A [0, 10), G-B [10, 30), G-C: 25 takes 10 + 15
    transfer_slices(con)
    first = {"transfer_order": 1}
    assert step(con, "ledger_transfer", "grant_id, remaining, moved", "grant_id", first) == [
        ("G-A", Dec(10), Dec(10)),
        ("G-B", Dec(20), Dec(15)),
    ]
    assert step(con, "transfer_entries", BURN_ENTRY, "account_id, grant_id") == [
        ("acme", "G-A", "flex_credit", "transfer_out", Dec(-10), None, "T1", Dec(0)),
        ("acme", "G-B", "flex_credit", "transfer_out", Dec(-15), None, "T1", Dec(5)),
        ("initech", "G-A@T1", "flex_credit", "transfer_in", Dec(10), None, "T1", Dec(10)),
        ("initech", "G-B@T1", "flex_credit", "transfer_in", Dec(15), None, "T1", Dec(15)),
    ]
    assert step(con, "transfer_slices", SLICE_COLUMNS, "grant_id") == [
        ("initech", "G-A@T1", "flex_credit", 10, d(100), Dec("0.5"), "USD", date(2026, 3, 1),
         ";ADH;", "G-A", False, Dec(10)),
        ("initech", "G-B@T1", "flex_credit", 10, d(200), Dec(0), "USD", date(2026, 3, 1),
         "", "G-B", False, Dec(15)),
    ]  # fmt: skip
    assert step(con, "transfer_rejected", "*", "transfer_id", first) == []


def test_transfer_larger_than_the_sender_holds_moves_nothing(con):
    transfer_slices(con)
    second = {"transfer_order": 2}
    assert step(con, "ledger_transfer", "grant_id", "grant_id", second) == []
    rows = step(con, "transfer_rejected", "*", "transfer_id", second)
    assert rows == [("T2", "acme", "initech", Dec(81), Dec(80))]  # flex_credit only


def test_transfers_today_since_the_previous_day_in_transfer_id_order(con):
    given(
        con,
        "transfers_in",
        "transfer_id varchar, date date, from_account varchar, to_account varchar, "
        "amount decimal(38, 6), currency varchar",
        [
            ("T-2", D, "acme", "globex", Dec(1), None),
            ("T-1", D, "acme", "globex", Dec(1), None),
            ("T-0", PREVIOUS, "acme", "globex", Dec(1), None),  # done yesterday
            ("T-3", d(1), "acme", "globex", Dec(1), None),  # tomorrow's
        ],
    )
    rows = step(con, "transfers_today", "transfer_id, transfer_order", "transfer_order")
    assert rows == [("T-1", 1), ("T-2", 2)]


GRANTS_IN = (
    "grant_id varchar, account_id varchar, currency varchar, amount decimal(38, 6), "
    "effective_on date, expires_on date, priority integer, products varchar, source varchar, "
    "unit_cost decimal(38, 6), cost_currency varchar, voided_on date, "
    "rollover_max decimal(38, 6), rollover_days integer"
)
TOPUPS = (
    "rule_id varchar, account_id varchar, currency varchar, grant_id varchar, "
    "effective_on date, amount decimal(38, 6), unit_cost decimal(38, 6), "
    "cost_currency varchar, available_at_trigger decimal(38, 6), expires_on date, "
    "priority integer, products varchar"
)


def test_expire_then_grant_give_the_opening_slices(con):
    given(
        con,
        "slices_prev",
        SLICES,
        [
            slice_row("E-DUE", "7", expires_on=D),
            slice_row("E-SKIPPED", "3", expires_on=d(-2)),  # a skipped day: written off now
            slice_row("E-EMPTY", "0", expires_on=D),  # nothing to write off, still gone
            slice_row("E-TOMORROW", "5", expires_on=d(1)),
            slice_row("E-NEVER", "9"),
        ],
    )
    given(
        con,
        "grants_in",
        GRANTS_IN,
        [
            ("N-TODAY", "acme", "flex_credit", Dec(40), D, None, 10, "", "purchase", Dec(1), "USD",
             None, None, None),
            ("N-OLD", "acme", "flex_credit", Dec(1), PREVIOUS, None, 10, "", None, Dec(0), "USD",
             None, None, None),
            ("N-LATER", "acme", "flex_credit", Dec(1), d(1), None, 10, "", None, Dec(0), "USD",
             None, None, None),
            ("N-DEAD", "acme", "flex_credit", Dec(1), D, D, 10, "", None, Dec(0), "USD",
             None, None, None),
        ],
    )  # fmt: skip
    given(con, "topups_prev", TOPUPS, [])
    assert step(con, "ledger_rollover", "grant_id", "grant_id") == []  # no rollover_max
    run_step(con, "rollover_slices")
    run_step(con, "topups_due")
    assert step(con, "ledger_expire", "grant_id, amount, grant_remaining", "grant_id") == [
        ("E-DUE", Dec(-7), Dec(0)),
        ("E-SKIPPED", Dec(-3), Dec(0)),
    ]
    assert step(con, "ledger_grant", "grant_id, remaining", "grant_id") == [("N-TODAY", Dec(40))]
    assert step(con, "grant_entries", BURN_ENTRY, "grant_id") == [
        ("acme", "N-TODAY", "flex_credit", "grant", Dec(40), None, None, Dec(40))
    ]
    assert step(con, "slices_opening", "grant_id, remaining", "grant_id") == [
        ("E-NEVER", Dec(9)),
        ("E-TOMORROW", Dec(5)),
        ("N-TODAY", Dec(40)),
    ]


BALANCES = (
    "account_id, currency, opening, granted, transferred_in, transferred_out, consumed, "
    "expired, overdraft, available, overdraft_total, purchased_total, used_total, "
    "expired_total, available_pct, band, expiring_90d, in_overdraft"
)


def test_balances_band_is_red_at_exactly_the_band_share(con):
    assert Dec("0.2") == rules.BAND_SHARE and rules.BAND_PERCENT == "20"
    con.execute(
        f"create temp table balances_prev as select {BALANCE_COLUMNS} "
        f"from ({empty_select('balances')}) as empty"
    )
    given(
        con,
        "ledger_entries",
        ENTRIES,
        [
            ("acme", "G1", "flex_credit", "grant", Dec(100), None, None, Dec(100)),
            ("acme", "G1", "flex_credit", "consume", Dec(-80), "ADH", "c1", Dec(20)),
            ("globex", "G2", "flex_credit", "grant", Dec(100), None, None, Dec(100)),
            ("globex", "G2", "flex_credit", "consume", Dec("-79.999999"), "ADH", "c2",
             Dec("20.000001")),
            ("initech", None, "flex_credit", "overdraft", Dec(-5), "ADH", "c3", None),
        ],
    )  # fmt: skip
    given(
        con,
        "slices",
        SLICES,
        [
            slice_row("G1", "20", expires_on=d(90)),  # on the window's last day: expiring
            slice_row("G2", "20.000001", account="globex", expires_on=d(91)),
        ],
    )
    rows = step(con, "balances", BALANCES, "account_id")
    zero = Dec(0)
    assert rows == [
        # 20 = 20 % of 100: not above the share, red
        ("acme", "flex_credit", zero, Dec(100), zero, zero, Dec(80), zero, zero, Dec(20), zero,
         Dec(100), Dec(80), zero, Dec("20.00"), "red", Dec(20), False),
        # a millionth above: green
        ("globex", "flex_credit", zero, Dec(100), zero, zero, Dec("79.999999"), zero, zero,
         Dec("20.000001"), zero, Dec(100), Dec("79.999999"), zero, Dec("20.00"), "green",
         zero, False),
        # nothing purchased: no percent, red, in overdraft
        ("initech", "flex_credit", zero, zero, zero, zero, zero, zero, Dec(5), zero, Dec(5),
         zero, zero, zero, None, "red", zero, True),
    ]  # fmt: skip

    # the low_balance alert names the same share, once, on the day the band turns red
    given(con, "slices_prev", SLICES, [])
    given(
        con,
        "rejected_transfers",
        "transfer_id varchar, from_account varchar, to_account varchar, "
        "amount decimal(38, 6), available decimal(38, 6)",
        [],
    )
    given(
        con,
        "forecast_summary",
        "account_id varchar, currency varchar, burn_rate decimal(38, 6), depletion_date date",
        [],
    )
    given(con, "depletion_prev", "account_id varchar, currency varchar, depletion_date date", [])
    given(
        con,
        "usage_alerts",
        "account_id varchar, kind varchar, severity varchar, message varchar, "
        "amount decimal(38, 6), ref varchar",
        [],
    )
    alerts = step(con, "alerts", "account_id, kind, message", "account_id, kind")
    assert [a for a in alerts if a[1] == "low_balance"] == [
        ("acme", "low_balance",
         "flex_credit balance 20.000000 is at or below 20% of 100.000000 purchased"),
    ]  # fmt: skip


def test_forecast_depletion_with_an_expiry_written_off(con):
    # acme: burn 10/day (one day observed). Burn order: A (30, expires D+2), then B (70).
    #   A gives 10 to the burn of D+1, the 20 left are written off on D+2:
    #   projected D+1 = 100 - 10 = 90, D+2 = 100 - 20 - 20 = 60, D+3 = 50;
    #   depletion: 100 - 20 - 10k <= 0 at k = 8 -> D+8.
    # globex: burn (20 + 0) / 2 days = 10, 50 never expiring: 40, 30, 20, depletion D+5.
    given(
        con,
        "balances",
        "account_id varchar, currency varchar, available decimal(38, 6), consumed decimal(38, 6)",
        [
            ("acme", "flex_credit", Dec(100), Dec(10)),
            ("globex", "flex_credit", Dec(50), Dec(0)),
        ],
    )
    given(
        con,
        "burn_window",
        "account_id varchar, currency varchar, consumed decimal(38, 6), days_observed bigint",
        [("globex", "flex_credit", Dec(20), 1)],
    )
    given(
        con,
        "slices",
        SLICES,
        [
            slice_row("B", "70"),
            slice_row("A", "30", expires_on=d(2)),
            slice_row("G", "50", account="globex"),
        ],
    )
    rows = _forecast(con)
    # 30/60/90 days ahead: acme 100 - 20 written off - 10k; globex 50 - 10k
    assert rows == [
        ("acme", Dec(10), d(8), Dec(-220), Dec(-520), Dec(-820)),
        ("globex", Dec(10), d(5), Dec(-250), Dec(-550), Dec(-850)),
    ]
    # the day-by-day curve, on read, from the published row and the day's slices
    daily = _forecast_daily(con)
    assert [r for r in daily if r[2] <= d(3)] == [
        ("acme", D, d(1), Dec(90)),
        ("acme", D, d(2), Dec(60)),
        ("acme", D, d(3), Dec(50)),
        ("globex", D, d(1), Dec(40)),
        ("globex", D, d(2), Dec(30)),
        ("globex", D, d(3), Dec(20)),
    ]
    assert len(daily) == 2 * 90
    assert daily[-1] == ("globex", D, d(90), Dec(50 - 900))
    # and the 30/60/90-day columns are points of that curve
    by_day = {(a, day): v for a, _, day, v in daily}
    assert [(a, by_day[(a, d(30))], by_day[(a, d(60))], by_day[(a, d(90))]) for a in (
        "acme", "globex")] == [(r[0], r[3], r[4], r[5]) for r in rows]  # fmt: skip


def _forecast(con) -> list[tuple]:
    """The day's compact forecast rows, by the job's steps, from balances, burn_window
    and slices."""
    run_step(con, "forecast_rates")
    run_step(con, "forecast_slices", view=True)
    run_step(con, "forecast_write_offs")
    return step(
        con,
        "forecast",
        "account_id, burn_rate, depletion_date, projected_available_30d, "
        "projected_available_60d, projected_available_90d",
        "account_id",
    )


def _forecast_daily(con) -> list[tuple]:
    """forecast_daily as readers see it, over the day's published forecast and slices (the
    forecast table and slices of the connection, as their files would hold them)."""
    reader = duckdb.connect()
    reader.register(
        "f", con.sql(f"select *, cast('{D}' as date) as as_of from forecast").pl().to_arrow()
    )
    reader.register(
        "g", con.sql(f"select *, cast('{D}' as date) as date from slices").pl().to_arrow()
    )
    register_computed_views(reader, {"forecast": "f", "grant_state": "g"})
    return reader.execute(
        "select account_id, as_of, date, projected_available from forecast_daily "
        "order by account_id, date"
    ).fetchall()


def test_forecast_daily_reads_legacy_partitions_as_stored(con):
    # an OUT written before v3: 90 rows per account and currency in the forecast files;
    # the views read them as stored (daily) and folded (compact), next to a v3 partition
    legacy = pl.DataFrame(
        {
            "account_id": ["acme"] * 90,
            "currency": ["flex_credit"] * 90,
            "date": [d(k) for k in range(1, 91)],
            "projected_available": [Dec(100 - k) for k in range(1, 91)],
            "burn_rate": [Dec(1)] * 90,
            "depletion_date": [d(100)] * 90,
            "as_of": [D] * 90,
        },
        schema_overrides={"projected_available": pl.Decimal(38, 6), "burn_rate": pl.Decimal(38, 6)},
    )
    reader = duckdb.connect()
    reader.register("f", legacy.to_arrow())
    register_computed_views(reader, {"forecast": "f", "grant_state": None})
    assert reader.execute(
        "select as_of, account_id, burn_rate, depletion_date, projected_available_30d, "
        "projected_available_60d, projected_available_90d from forecast"
    ).fetchall() == [(D, "acme", Dec(1), d(100), Dec(70), Dec(40), Dec(10))]
    daily = reader.execute(
        "select date, projected_available from forecast_daily order by date"
    ).fetchall()
    assert daily == [(d(k), Dec(100 - k)) for k in range(1, 91)]


# --- usage rules (charging's user_limit_exceeded) -----------------------------------------

USAGE_PLANS = "plan_id varchar, algorithm varchar, user_limit bigint"
PRIOR_DAILY_USERS = (
    "plan_id varchar, account_id varchar, threshold_key varchar, max_daily_users decimal(38, 6)"
)


def header_key(name: str) -> tuple[str, ...]:
    """The columns of the ``-- key: (…)`` line of ``name``.sql's header."""
    for line in sql_text(name).splitlines():
        found = re.match(r"-- key:\s*\(([^)]*)\)", line)
        if found:
            return tuple(c.strip() for c in found.group(1).split(","))
    raise AssertionError(f"{name}.sql declares no key")


@pytest.fixture
def usage_rules(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """HOUR: unique_users per hour, limit 1; two hours of D each pass it (2 and 3 users).
    SCOPED: unique_users per month and scope, limit 1: ns-1 passes it today (0 -> 2),
    ns-2 had passed before today (2 -> 3). CALM: limit 5, 2 users."""
    given(
        con,
        "active_plans",
        USAGE_PLANS,
        [("HOUR", "unique_users", 1), ("SCOPED", "unique_users", 1), ("CALM", "unique_users", 5)],
    )
    given(
        con,
        "period_units",
        PERIOD_UNITS,
        [
            ("HOUR", V1, "2026-03-10T02", "acme", "", "ns-1", Dec(2), Dec(0), Dec(2)),
            ("HOUR", V1, "2026-03-10T05", "acme", "", "ns-1", Dec(3), Dec(0), Dec(3)),
            ("SCOPED", V1, "2026-03", "acme", "ns-1", "ns-1", Dec(2), Dec(0), Dec(2)),
            ("SCOPED", V1, "2026-03", "acme", "ns-2", "ns-2", Dec(1), Dec(2), Dec(3)),
            ("CALM", V1, "2026-03", "acme", "", "ns-1", Dec(2), Dec(0), Dec(2)),
        ],
    )
    given(con, "prior_daily_users", PRIOR_DAILY_USERS, [])
    return con


def test_user_counts_key_is_its_output_grain(usage_rules):
    # one row per plan, period instance, account and threshold key: the declared key is
    # in the output and unique there (an hour plan has two periods today, SCOPED two keys)
    key = header_key("user_counts")
    assert key == ("plan_id", "period_key", "account_id", "threshold_key")
    rows = step(
        usage_rules, "user_counts", ", ".join(key) + ", users, users_before", ", ".join(key)
    )
    assert rows == [
        ("CALM", "2026-03", "acme", "", Dec(2), Dec(0)),
        ("HOUR", "2026-03-10T02", "acme", "", Dec(2), Dec(0)),
        ("HOUR", "2026-03-10T05", "acme", "", Dec(3), Dec(0)),
        ("SCOPED", "2026-03", "acme", "ns-1", Dec(2), Dec(0)),
        ("SCOPED", "2026-03", "acme", "ns-2", Dec(3), Dec(2)),
    ]
    assert len({row[:4] for row in rows}) == len(rows)


def test_user_limit_alert_once_per_account_and_plan_on_hour_and_scope_plans(usage_rules):
    # HOUR passes its limit in two periods of the day, SCOPED in one threshold key (ns-2
    # had passed before today): one alert each, for the crossing with the most users
    run_step(usage_rules, "user_counts")
    rows = step(usage_rules, "usage_alerts", "account_id, kind, ref, amount, message", "ref")
    assert rows == [
        ("acme", "user_limit_exceeded", "HOUR", Dec(3),
         "plan HOUR: 3.000000 users in the period, limit 1"),
        ("acme", "user_limit_exceeded", "SCOPED", Dec(2),
         "plan SCOPED: 2.000000 users in the period, limit 1"),
    ]  # fmt: skip
    assert header_key("usage_alerts") == ("account_id", "kind", "ref")


# --- meta ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sql_names())
def test_every_sql_header_names_its_step_and_upstream(name):
    """The header (the comment lines a file opens with) starts with the step's name and
    declares its upstream relations; grain and key are checked with the registry in
    test_meta.py."""
    header = []
    for line in sql_text(name).splitlines():
        if not line.startswith("--"):
            break
        header.append(line)
    assert header and header[0].startswith(f"-- {name}:"), f"{name}.sql: header names the step"
    assert any(re.match(r"-- upstream:\s*\S", h) for h in header), f"{name}.sql: upstream:"


def test_percent_of_a_share():
    assert [rules.percent(Dec(s)) for s in ("0.2", "0.125", "1", "0.05")] == [
        "20",
        "12.5",
        "100",
        "5",
    ]


# null, empty and non-ASCII keys (no NUL: not a character of a real id)
_KEY_TEXT = st.one_of(
    st.none(), st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=4)
)


@settings(max_examples=60, deadline=None)
@given_rows(st.lists(st.tuples(_KEY_TEXT, _KEY_TEXT), max_size=40, unique=True))
def test_sorted_frame_orders_a_key_as_duckdb_order_by_does(rows):
    # balances is sorted by its key (account_id, currency): Polars sorts it; the rows must
    # come out exactly as DuckDB's ORDER BY puts them (bytes, nulls last)
    connection = duckdb.connect()
    given(connection, "b", "account_id varchar, currency varchar, n integer", [
        (a, c, i) for i, (a, c) in enumerate(rows)
    ])  # fmt: skip
    expected = connection.execute("select * from b order by account_id, currency").fetchall()
    frame = sorted_frame(connection, "select * from b", "balances")
    assert list(frame.iter_rows()) == expected
    with pytest.MonkeyPatch.context() as patch:  # past the size limit DuckDB sorts: same rows
        patch.setattr(sql_steps, "POLARS_SORT_MAX_ROWS", -1)
        assert list(sorted_frame(connection, "select * from b", "balances").iter_rows()) == expected
    connection.close()


@settings(max_examples=60, deadline=None)
@given_rows(
    st.lists(st.one_of(st.none(), st.sampled_from(["e1", "e2", "", "é3"]), st.text(max_size=3)))
)
def test_repeated_hashes_by_sort_equal_the_sql_step(ids):
    # DuckDB runs repeated_hashes by sorting (ingest/duplicates.py), Spark the SQL file:
    # both give the hashes seen on more than one row, nulls and empty ids included. The
    # expected set is counted here in Python, from DuckDB's hash of each id.
    connection = duckdb.connect()
    given(connection, "raw_events", "event_id varchar", [(i,) for i in ids])
    hashes = [h for (h,) in connection.execute("select hash(event_id) from raw_events").fetchall()]
    expected = sorted({h for h in hashes if hashes.count(h) > 1})
    run_step(connection, "repeated_hashes")
    by_sql = connection.execute("select id_hash from repeated_hashes order by 1").fetchall()
    assert [h for (h,) in by_sql] == expected
    for per_pass in (duplicates.HASHES_PER_PASS, 3):  # one pass, and several by hash
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(duplicates, "HASHES_PER_PASS", per_pass)
            assert duplicates.repeated_hashes(connection) == len(expected)
        by_sort = connection.execute("select id_hash from repeated_hashes order by 1").fetchall()
        assert [h for (h,) in by_sort] == expected
    connection.close()


def test_sort_by_key_past_64_bits_of_ranks_ranks_the_leading_columns_again():
    # five columns of 7,200 distinct values: 7200**5 ranks do not fit 64 bits, so the
    # packed ranks of the leading columns are replaced by their rank among the rows
    # before the next column is packed; the rows still come out in key order. Shuffled,
    # so that the rows do not come in ordered runs (which Polars' sort would take).
    n = 7_200
    frame = pl.DataFrame(
        {f"k{i}": [f"{(j * (i + 7)) % n:05d}" for j in range(n)] for i in range(5)}
    ).sample(fraction=1.0, shuffle=True, seed=7)
    columns = [f"k{i}" for i in range(5)]
    assert sql_steps._descents(frame, columns) * sql_steps.RUN_SORT_DESCENTS > n
    assert sql_steps.sort_by_key(frame, columns).rows() == sorted(frame.rows())
    two = frame.select("k1", "k2").head(500)  # and within 64 bits, by the packed ranks
    assert sql_steps.sort_by_key(two, ["k1", "k2"]).rows() == sorted(two.rows())


def test_checked_events_take_the_limits_from_credit_rules(con):
    # the limits reach SQL only through credit_rules: tightened there, the same rows fail
    given(
        con,
        "raw_events",
        "event_id varchar, ts timestamp, account_id varchar, scope_id varchar, "
        "product_code varchar, meter varchar, user_id varchar, resource_id varchar, "
        "quantity double, source_file varchar, source_row bigint",
        [
            ("e1", datetime(2026, 3, 10, 1), "a" * 128, "s", "ADH", "m", None, None, 1.0, "f", 0),
            ("e2", datetime(2026, 3, 10, 2), "acme", "s", "ADH", "m", None, None, 99e12, "f", 1),
            ("e3", datetime(2026, 3, 10, 3), "acme", "s", "ADH", "m", None, None, 1e14, "f", 2),
        ],
    )
    given(
        con,
        "active_plans",
        "product_code varchar, meter varchar, counts_users boolean, counts_resources boolean",
        [],
    )
    reasons = "event_id, reason"
    assert step(con, "checked_events", reasons, "event_id") == [
        ("e1", None),  # 128 characters: the longest accepted id
        ("e2", None),
        ("e3", "quantity_out_of_range"),  # the ceiling is exclusive
    ]
    con.execute(
        "create or replace temp table credit_rules as select * replace "
        "(cast(4 as integer) as id_max_length, cast(1e12 as double) as quantity_limit) "
        "from credit_rules"
    )
    assert step(con, "checked_events", reasons, "event_id") == [
        ("e1", "account_id_too_long"),
        ("e2", "quantity_out_of_range"),
        ("e3", "quantity_out_of_range"),
    ]


RAW_EVENTS = (
    "event_id varchar, ts timestamp, account_id varchar, scope_id varchar, "
    "product_code varchar, meter varchar, user_id varchar, resource_id varchar, "
    "quantity double, source_file varchar, source_row bigint"
)
CHECKED_EVENTS = RAW_EVENTS + ", reason varchar"
ROW_KEY = "source_file varchar, source_row bigint"


def rejected_inputs(con: duckdb.DuckDBPyConnection, accepted_events: int) -> None:
    """Three input rows: f/0 valid, f/1 breaking a rule, f/2 out of range; ``accepted_events``
    is what event_groups' user groups counted."""
    at = datetime(2026, 3, 10, 1)
    rows = [
        ("e1", at, "acme", "s", "ADH", "m", None, None, 1.0, "f", 0, None),
        ("", at, "acme", "s", "ADH", "m", None, None, 2.0, "f", 1, "event_id_empty"),
        ("e3", at, "acme", "s", "ADH", "m", None, None, 3.0, "f", 2, None),
    ]
    given(con, "raw_events", RAW_EVENTS, [r[:-1] for r in rows])
    given(con, "checked_events", CHECKED_EVENTS, rows)
    given(con, "duplicate_rows", ROW_KEY, [])
    given(
        con,
        "out_of_range_rows",
        CHECKED_EVENTS,
        [(*rows[2][:-1], "quantity_sum_out_of_range")],
    )
    given(con, "user_groups", "events bigint", [(accepted_events,)])


def test_rejected_rows_list_the_invalid_rows_when_rows_are_missing(con):
    # 3 rows read, 1 accepted, 0 duplicates: 2 rows are missing, so checked_events is read
    # again for the rows validation rejected and those out of range
    rejected_inputs(con, accepted_events=1)
    rows = step(con, "rejected_rows", "source_row, reason", "source_row")
    assert rows == [(1, "event_id_empty"), (2, "quantity_sum_out_of_range")]


def test_rejected_rows_skip_the_second_read_when_every_row_is_accounted_for(con):
    # the gate reads the counts, not the rows: with 3 rows accepted (planted here against
    # the rows), 3 = 3 + 0 leaves none to find, so checked_events is not read and nothing
    # is listed (a day with a rejected or out-of-range row always has a row missing)
    rejected_inputs(con, accepted_events=3)
    assert step(con, "rejected_rows", "source_row, reason", "source_row") == []


def test_accepted_events_are_the_valid_rows_not_duplicated_nor_out_of_range(con):
    at = datetime(2026, 3, 10, 1)
    given(
        con,
        "checked_events",
        CHECKED_EVENTS,
        [
            ("e1", at, "acme", "s", "ADH", "m", "", "r", None, "f", 0, None),
            ("e2", at, "acme", "s", "ADH", "m", "u", "", 2.5, "f", 1, None),  # duplicate
            ("e3", at, "acme", "s", "ADH", "m", "u", "r", 3.0, "f", 2, None),  # out of range
            ("", at, "acme", "s", "ADH", "m", "u", "r", 4.0, "f", 3, "event_id_empty"),
            ("e2", at, "acme", "s", "ADH", "m", "u", "", 2.5, "g", 0, None),  # kept copy
        ],
    )
    given(con, "duplicate_rows", ROW_KEY, [("f", 1)])
    given(con, "out_of_range_rows", ROW_KEY, [("f", 2)])
    run_step(con, "accepted_events", view=True)
    rows = con.execute(
        "select event_id, user_id, resource_id, quantity, source_file, source_row "
        "from accepted_events order by event_id"
    ).fetchall()
    # '' ids become null, a null quantity counts 1, exact DECIMAL(38, 6)
    assert rows == [
        ("e1", None, "r", Dec("1"), "f", 0),
        ("e2", "u", None, Dec("2.5"), "g", 0),
    ]


def test_out_of_range_rows_reject_from_the_event_that_reaches_the_limit(con):
    # limit 1e14; group (acme, s, ADH, m): 6e13 + 3e13 = 9e13 < 1e14, then + 2e13 reaches
    # it at e3 (ts 3h), so e3 and the later e4 are rejected; the duplicate d/0 of e2 is
    # left out of the sum, the invalid e5 too, and group (acme, t) stays under the limit
    rows = [
        ("e1", 1, "s", 6e13, "f", 0, None),
        ("e2", 2, "s", 3e13, "f", 1, None),
        ("e2", 2, "s", 3e13, "d", 0, None),
        ("e3", 3, "s", 2e13, "f", 2, None),
        ("e4", 4, "s", 1.0, "f", 3, None),
        ("e5", 5, "s", 9e13, "f", 4, "ts_outside_partition_day"),
        ("e6", 1, "t", 9e13, "f", 5, None),
    ]
    checked = [
        (e, datetime(2026, 3, 10, h), "acme", s, "ADH", "m", None, None, q, f, r, why)
        for e, h, s, q, f, r, why in rows
    ]
    given(con, "raw_events", RAW_EVENTS, [c[:-1] for c in checked])
    given(con, "checked_events", CHECKED_EVENTS, checked)
    given(con, "duplicate_rows", ROW_KEY, [("d", 0)])
    rejected = step(con, "out_of_range_rows", "event_id, reason", "event_id")
    assert rejected == [("e3", "quantity_sum_out_of_range"), ("e4", "quantity_sum_out_of_range")]
    # below 9/10 of the limit in all (a double sum of every row's quantity), the gate is
    # shut: no row is out of range, whatever the groups hold
    given(con, "raw_events", RAW_EVENTS, [c[:-1] for c in checked[:1]])
    assert step(con, "out_of_range_rows", "event_id", "event_id") == []
