"""Tier property (SPEC §3.2): for random graduated tiers, two plan versions and random
usage of a sum plan and a distinct-subject plan over days that cross a month end, the
charging steps (``prior_positions`` -> ``period_units`` -> ``charges``, on an in-memory
DuckDB, day after day, each day's charges the next day's history) give:

- units that add up: per plan, period and threshold key, the charged units are the units
  used, and per day and scope the tier rows add up to the scope's units;
- contiguous positions: per period and threshold key, each posting starts where the one
  before ended, across scopes (ascending scope_id) and days, from 0 in each period, and
  across a version change;
- each tier row's units are the overlap of the posting with the tier (computed here
  independently) and its credits round_half_even(units x price, 6).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN
from decimal import Decimal as D

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from flexbatch.ledger import rules
from flexbatch.transform.sql_steps import run_step

DAYS = [date(2026, 3, 29) + timedelta(days=i) for i in range(4)]  # 29, 30, 31 Mar, 1 Apr
V1, V2 = date(2026, 1, 1), date(2026, 3, 31)  # V2 takes over mid-period
ACCOUNTS = ["a", "b"]
SCOPES = ["s1", "s2", "s3"]
PLANS = {"S": "sum", "U": "unique_users"}
MICRO = D("0.000001")

PLAN_VERSIONS = (
    "plan_id varchar, plan_version date, product_code varchar, chargeable varchar, "
    "meter varchar, algorithm varchar, billing_period varchar, threshold_scope varchar"
)
PLAN_TIERS = (
    "plan_id varchar, plan_version date, tier integer, tier_above decimal(38, 6), "
    "tier_upper decimal(38, 6), unit_price decimal(38, 6)"
)
PLAN_GROUPS = (
    "plan_id varchar, plan_version date, algorithm varchar, billing_period varchar, "
    "period_key varchar, distinct_window varchar, account_id varchar, threshold_key varchar, "
    "subject_scope varchar, subject_id varchar, scope_id varchar, is_resource_group boolean, "
    "hour_key varchar, quantity_sum decimal(38, 6), quantity_max decimal(38, 6)"
)
NEW_SUBJECTS = (
    "plan_id varchar, plan_version date, period_key varchar, account_id varchar, "
    "threshold_key varchar, scope_id varchar"
)
CHARGES_HISTORY = (
    "plan_id varchar, period_start date, account_id varchar, threshold_scope varchar, "
    "scope_id varchar, units decimal(38, 6), billing_period varchar, date date, "
    "threshold_key varchar"
)
RUN_CONTEXT = (
    "day date, day_start timestamp, day_end timestamp, month_start date, "
    "previous_day date, forecast_horizon_days integer"
)

tier_lists = st.lists(
    st.tuples(
        st.decimals(min_value=D("0.1"), max_value=D(6), places=1),  # gap to the next above
        st.decimals(min_value=D(0), max_value=D(3), places=6),  # price
    ),
    min_size=1,
    max_size=4,
).map(lambda ts: [(sum((g for g, _ in ts[:i]), D(0)), p) for i, (_, p) in enumerate(ts)])
usage = st.dictionaries(
    st.tuples(st.sampled_from(sorted(PLANS)), st.sampled_from(ACCOUNTS), st.sampled_from(SCOPES)),
    st.decimals(min_value=D(0), max_value=D(5), places=3),
    max_size=6,
)


def given_rows(con: duckdb.DuckDBPyConnection, name: str, columns: str, rows: list) -> None:
    con.execute(f"create or replace temp table {name} ({columns})")
    if rows:
        marks = ", ".join("?" for _ in rows[0])
        con.executemany(f"insert into {name} values ({marks})", [list(r) for r in rows])


def tier_rows(tiers: dict[date, list[tuple[D, D]]]) -> list[tuple]:
    """plan_tiers of both plans: each tier up to the next one's ``above`` (the last open)."""
    rows = []
    for plan in PLANS:
        for version, ts in tiers.items():
            for i, (above, price) in enumerate(ts):
                upper = ts[i + 1][0] if i + 1 < len(ts) else None
                rows.append((plan, version, i + 1, above, upper, price))
    return rows


def version_of(day: date) -> date:
    return V2 if day >= V2 else V1


def tier_units(tiers: list[tuple[D, D]], start: D, end: D) -> list[tuple[int, D, D]]:
    """(tier, units, price) of the tiers the positions (start, end] cover: an independent
    statement of graduated tiers."""
    out = []
    for i, (above, price) in enumerate(tiers):
        upper = tiers[i + 1][0] if i + 1 < len(tiers) else end
        units = min(end, upper) - max(start, above)
        if units > 0:
            out.append((i + 1, units, price))
    return out


def run_day(con, day, scope_mode, tiers, day_usage, history):
    month = day.replace(day=1)
    previous = day - timedelta(days=1)
    given_rows(con, "run_context", RUN_CONTEXT,
               [(day, datetime.combine(day, datetime.min.time()),
                 datetime.combine(day + timedelta(days=1), datetime.min.time()), month,
                 previous, 90)])  # fmt: skip
    version = version_of(day)
    groups, subjects = [], []
    for (plan, account, scope), quantity in sorted(day_usage.items()):
        key = scope if scope_mode == "scope" else ""
        if PLANS[plan] == "sum":
            groups.append((plan, version, "sum", "month", str(month), str(month), account, key,
                           "", None, scope, False, None, quantity, quantity))  # fmt: skip
        else:  # int(quantity) users first seen in the period today
            subjects += [(plan, version, str(month), account, key, scope)] * int(quantity)
    given_rows(con, "plan_groups", PLAN_GROUPS, groups)
    given_rows(con, "new_subjects", NEW_SUBJECTS, subjects)
    given_rows(con, "charges_history", CHARGES_HISTORY, history)
    run_step(con, "prior_positions")
    run_step(con, "period_units")
    run_step(con, "tier_units")
    run_step(con, "charges")
    units = con.execute(
        "select plan_id, account_id, threshold_key, scope_id, units, position_start, "
        "position_end from period_units order by plan_id, account_id, threshold_key, scope_id"
    ).fetchall()
    charges = con.execute(
        "select plan_id, account_id, scope_id, tier, units, unit_price, credits, period_start, "
        "threshold_scope, billing_period from charges order by plan_id, account_id, scope_id, tier"
    ).fetchall()
    return units, charges


@settings(max_examples=50, deadline=None)
@given(
    scope_mode=st.sampled_from(["account", "scope"]),
    tiers=st.fixed_dictionaries({v: tier_lists for v in (V1, V2)}),
    days=st.lists(usage, min_size=len(DAYS), max_size=len(DAYS)),
)
def test_tier_rows_add_up_positions_are_contiguous_and_credits_round(scope_mode, tiers, days):
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    rules.register_rules(con)
    given_rows(con, "plan_versions", PLAN_VERSIONS,
               [(p, v, "ADH", "user" if a != "sum" else "resource", "m", a, "month", scope_mode)
                for p, a in PLANS.items() for v in (V1, V2)])  # fmt: skip
    given_rows(con, "plan_tiers", PLAN_TIERS, tier_rows(tiers))
    history: list[tuple] = []
    used: dict[tuple, D] = defaultdict(D)
    charged: dict[tuple, D] = defaultdict(D)
    position: dict[tuple, D] = defaultdict(D)  # where the next posting of a period starts
    for day, day_usage in zip(DAYS, days, strict=True):
        units, charges = run_day(con, day, scope_mode, tiers, day_usage, history)
        month = day.replace(day=1)
        day_units = {}
        for plan, account, key, scope, u, start, end in units:
            period = (plan, month, account, key)
            assert start == position[period], (day, period)  # contiguous across scopes, days
            assert end == start + u > start
            position[period] = end
            day_units[(plan, account, scope)] = (u, start, end)
        expected = []
        for (plan, account, scope), (u, start, end) in sorted(day_units.items()):
            split = tier_units(tiers[version_of(day)], start, end)
            assert sum(n for _, n, _ in split) == u  # the tiers cover the posting
            for tier, n, price in split:
                credits = (n * price).quantize(MICRO, rounding=ROUND_HALF_EVEN)
                expected.append((plan, account, scope, tier, n, price, credits))
        assert [c[:7] for c in charges] == expected
        for (plan, account, scope), quantity in day_usage.items():
            key = scope if scope_mode == "scope" else ""
            whole = quantity if PLANS[plan] == "sum" else D(int(quantity))
            used[(plan, month, account, key)] += whole
        for plan, account, scope, _, n, _, _, period_start, mode, period in charges:
            key = scope if scope_mode == "scope" else ""
            charged[(plan, period_start, account, key)] += n
            history.append((plan, period_start, account, mode, scope, n, period, day, key))
    con.close()
    assert {k: v for k, v in charged.items()} == {k: v for k, v in used.items() if v > 0}
