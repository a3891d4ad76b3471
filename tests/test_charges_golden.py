"""Golden charge rows (SPEC §3.1-3.2, §5 `charges`): tiny hand-written inputs whose charge
rows are computed by hand in the comments, for every algorithm, billing period, tier rule,
posting rule and the decimal arithmetic. Values are exact Decimals, never copied from a run.

The goldens run the charging steps day by day in memory (``charging_days``), in the fast
suite; the few that are about the commands themselves (``run`` day by day, a rerun that
recomputes later days) run the CLI and are marked slow.

Rows are compared as (date, scope_id, tier, units, credits) unless a test says otherwise.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from pathlib import Path

import polars as pl
import pytest
from charging_days import charge_days

from helpers import event, plan_toml, read_table, write_plans, write_usage

D1, D2, D3 = "2026-03-01", "2026-03-02", "2026-03-03"

CHARGEABLE = {
    "fixed": "product",
    "unique_users": "user",
    "daily_unique_users": "user",
    "unique_resources": "resource",
    "daily_unique_resources": "resource",
    "sum": "resource",
    "peak": "resource",
}
ONE_PRICE = "[ { above = 0, price = 1 } ]"


def plan(
    algorithm: str, period: str = "day", tiers: str = ONE_PRICE, plan_id: str = "P", **kw
) -> str:
    """One [[plan]] for ADH/streams_accessed with the chargeable its algorithm needs."""
    return plan_toml(
        plan_id,
        algorithm=algorithm,
        chargeable=CHARGEABLE[algorithm],
        billing_period=period,
        tiers=tiers,
        **kw,
    )


def ev(day: str, hour: int = 1, minute: int = 0, **kw) -> dict:
    """One usage row at ``day`` ``hour``:``minute`` (kw: scope, user, resource, quantity...)."""
    return event(f"{day}T{hour:02d}:{minute:02d}:00", **kw)


def setup(tmp_path: Path, plans: str, usage: dict[str, list[dict]]) -> tuple[Path, Path]:
    inp, out = tmp_path / "in", tmp_path / "out"
    write_plans(inp, plans)
    for day, rows in usage.items():
        write_usage(inp, day, rows)
    return inp, out


def run(flexbatch, inp: Path, out: Path, day: str) -> None:
    result = flexbatch("run", "--date", day, "--input", str(inp), "--output", str(out))
    assert result.exit_code == 0, result.stderr


def backfill(flexbatch, inp: Path, out: Path, start: str, end: str) -> None:
    args = ("backfill", "--from", start, "--to", end, "--input", str(inp), "--output", str(out))
    result = flexbatch(*args)
    assert result.exit_code == 0, result.stderr


def job(tmp_path: Path, flexbatch, plans: str, usage: dict[str, list[dict]]) -> Path:
    """Write the inputs, charge their first..last day in memory, return OUT."""
    inp, out = setup(tmp_path, plans, usage)
    charge_days(inp, out, date.fromisoformat(min(usage)), date.fromisoformat(max(usage)))
    return out


def charges(out: Path) -> pl.DataFrame:
    frame = read_table(out, "charges")
    if frame.is_empty():
        return frame
    return frame.with_columns(pl.col("date").cast(pl.Utf8))


def rows(out: Path, cols: tuple[str, ...] = ("scope_id", "tier", "units", "credits")) -> list:
    """Charge rows as sorted (date, *cols) tuples."""
    frame = charges(out)
    return [] if frame.is_empty() else sorted(frame.select("date", *cols).iter_rows())


# 1. every algorithm ---------------------------------------------------------------------


ALGORITHM_CASES = {
    # one unit per period with any event, per account (no service): in the lowest scope
    "fixed": (
        "[ { above = 0, price = 2.5 } ]",
        lambda: [ev(D1, 1, scope="ns-2"), ev(D1, 2, scope="ns-1"), ev(D1, 3, scope="ns-1")],
        [(D1, "ns-1", 1, D("1"), D("2.5"))],  # 1 x 2.5
    ),
    # distinct users u1, u2, u3 -> 3 x 0.25 = 0.75
    "unique_users": (
        "[ { above = 0, price = 0.25 } ]",
        lambda: [ev(D1, h, user=u) for h, u in ((1, "u1"), (2, "u1"), (3, "u2"), (4, "u3"))],
        [(D1, "ns-1", 1, D("3"), D("0.75"))],
    ),
    # a resource lives in one scope: ns-1 {r1, r2} = 2 -> 0.5; ns-2 {r1} = 1 -> 0.25
    "unique_resources": (
        "[ { above = 0, price = 0.25 } ]",
        lambda: [
            ev(D1, 1, resource="r1"),
            ev(D1, 2, resource="r2"),
            ev(D1, 3, resource="r2"),
            ev(D1, 4, scope="ns-2", resource="r1"),
        ],
        [(D1, "ns-1", 1, D("2"), D("0.5")), (D1, "ns-2", 1, D("1"), D("0.25"))],
    ),
    # user-days on one day: {u1, u2} = 2 x 0.25 = 0.5
    "daily_unique_users": (
        "[ { above = 0, price = 0.25 } ]",
        lambda: [ev(D1, 1, user="u1"), ev(D1, 2, user="u2"), ev(D1, 3, user="u2")],
        [(D1, "ns-1", 1, D("2"), D("0.5"))],
    ),
    # resources accessed that day: {r1, r2} = 2 x 0.25 = 0.5
    "daily_unique_resources": (
        "[ { above = 0, price = 0.25 } ]",
        lambda: [ev(D1, h, resource="r1") for h in (1, 2, 3)] + [ev(D1, 4, resource="r2")],
        [(D1, "ns-1", 1, D("2"), D("0.5"))],
    ),
    # 1.5 + 2.25 + null(=1) = 4.75 units x 0.25 = 1.1875
    "sum": (
        "[ { above = 0, price = 0.25 } ]",
        lambda: [ev(D1, 1, quantity=1.5), ev(D1, 2, quantity=2.25), ev(D1, 3, quantity=None)],
        [(D1, "ns-1", 1, D("4.75"), D("1.1875"))],
    ),
    # max(3, 7.5, 2) = 7.5 units x 0.25 = 1.875
    "peak": (
        "[ { above = 0, price = 0.25 } ]",
        lambda: [ev(D1, 1, quantity=3.0), ev(D1, 2, quantity=7.5), ev(D1, 3, quantity=2.0)],
        [(D1, "ns-1", 1, D("7.5"), D("1.875"))],
    ),
}


@pytest.mark.parametrize("algorithm", list(ALGORITHM_CASES))
def test_algorithm_units_and_credits(tmp_path, flexbatch, algorithm):
    tiers, make_rows, expected = ALGORITHM_CASES[algorithm]
    out = job(tmp_path, flexbatch, plan(algorithm, tiers=tiers), {D1: make_rows()})
    assert rows(out) == expected
    frame = charges(out)
    assert set(frame["algorithm"]) == {algorithm}
    assert set(frame["chargeable"]) == {CHARGEABLE[algorithm]}
    assert set(frame["plan_id"]) == {"P"}
    assert set(frame["product_code"]) == {"ADH"}
    assert set(frame["meter"]) == {"streams_accessed"}


# 2. every billing period ----------------------------------------------------------------


def _period_usage() -> dict[str, list[dict]]:
    # D1: 12 units in hour 10, 12 in hour 11; D2: 12 units in hour 10 (6 + 6 each time)
    return {
        D1: [ev(D1, h, m, quantity=6.0) for h in (10, 11) for m in (0, 30)],
        D2: [ev(D2, 10, m, quantity=6.0) for m in (0, 30)],
    }


PERIOD_CASES = {
    # each hour 0..10 @0, then @0.1: D1 hours 10 and 11 -> (10+10)@0, (2+2)@0.1 = 0.4;
    # D2 hour 10 -> 10@0, 2@0.1 = 0.2
    "hour": [
        (D1, 1, D("20"), D("0"), D1),
        (D1, 2, D("4"), D("0.4"), D1),
        (D2, 1, D("10"), D("0"), D2),
        (D2, 2, D("2"), D("0.2"), D2),
    ],
    # D1: 24 -> 10@0, 14@0.1 = 1.4; D2 starts over: 12 -> 10@0, 2@0.1 = 0.2
    "day": [
        (D1, 1, D("10"), D("0"), D1),
        (D1, 2, D("14"), D("1.4"), D1),
        (D2, 1, D("10"), D("0"), D2),
        (D2, 2, D("2"), D("0.2"), D2),
    ],
    # D1: 24 -> 10@0, 14@0.1 = 1.4; D2 continues at 24: 12@0.1 = 1.2; period_start = 1st
    "month": [
        (D1, 1, D("10"), D("0"), D1),
        (D1, 2, D("14"), D("1.4"), D1),
        (D2, 2, D("12"), D("1.2"), D1),
    ],
}


@pytest.mark.parametrize("period", list(PERIOD_CASES))
def test_billing_period(tmp_path, flexbatch, period):
    tiers = "[ { above = 0, price = 0 }, { above = 10, price = 0.1 } ]"
    out = job(tmp_path, flexbatch, plan("sum", period, tiers), _period_usage())
    got = [
        (d, tier, units, credits, str(start))
        for d, tier, units, credits, start in rows(
            out, ("tier", "units", "credits", "period_start")
        )
    ]
    assert got == PERIOD_CASES[period]
    assert set(charges(out)["billing_period"]) == {period}


HOUR_CASES = {
    # each hour is its own period; the day row sums the hours' results (price 1)
    # peak: hour 10 max(2, 5) = 5, hour 11 max 3 = 3 -> 8
    "peak": (
        lambda: [
            ev(D1, 10, 0, quantity=2.0),
            ev(D1, 10, 30, quantity=5.0),
            ev(D1, 11, quantity=3.0),
        ],
        D("8"),
    ),
    # unique_users: hour 10 {u1, u2}, hour 11 {u1} -> 3
    "unique_users": (
        lambda: [ev(D1, 10, user="u1"), ev(D1, 10, 30, user="u2"), ev(D1, 11, user="u1")],
        D("3"),
    ),
    # fixed: events in hours 10 and 11 -> 2 hourly units
    "fixed": (lambda: [ev(D1, 10), ev(D1, 10, 30), ev(D1, 11)], D("2")),
}


@pytest.mark.parametrize("algorithm", list(HOUR_CASES))
def test_hour_period_sums_hourly_results(tmp_path, flexbatch, algorithm):
    make_rows, units = HOUR_CASES[algorithm]
    out = job(tmp_path, flexbatch, plan(algorithm, "hour"), {D1: make_rows()})
    assert rows(out) == [(D1, "ns-1", 1, units, units)]


def test_month_boundary_resets_positions_and_subjects(tmp_path, flexbatch):
    # unique_users, month, 1 included then 1 each. March 31: u1, u2 -> 1@0, 1@1.
    # April 1 is a new period: u1, u2 counted again from position 0 -> 1@0, 1@1.
    tiers = "[ { above = 0, price = 0 }, { above = 1, price = 1 } ]"
    last, first = "2026-03-31", "2026-04-01"
    usage = {
        last: [ev(last, 1, user="u1"), ev(last, 2, user="u2")],
        first: [ev(first, 1, user="u1"), ev(first, 2, user="u2")],
    }
    out = job(tmp_path, flexbatch, plan("unique_users", "month", tiers), usage)
    got = [
        (d, t, u, c, str(s))
        for d, t, u, c, s in rows(out, ("tier", "units", "credits", "period_start"))
    ]
    assert got == [
        (last, 1, D("1"), D("0"), "2026-03-01"),
        (last, 2, D("1"), D("1"), "2026-03-01"),
        (first, 1, D("1"), D("0"), first),
        (first, 2, D("1"), D("1"), first),
    ]


def test_duplicate_event_ids_are_charged_once(tmp_path, flexbatch):
    # event "x" twice: the first by ts (01:00, quantity 5) is kept, 02:00 (7) is a
    # duplicate; plus "y" 1 -> sum 6 at price 1
    usage = {
        D1: [
            ev(D1, 2, event_id="x", quantity=7.0),
            ev(D1, 1, event_id="x", quantity=5.0),
            ev(D1, 3, event_id="y", quantity=1.0),
        ]
    }
    out = job(tmp_path, flexbatch, plan("sum"), usage)
    assert rows(out) == [(D1, "ns-1", 1, D("6"), D("6"))]


def test_two_plans_on_one_meter_charge_independently(tmp_path, flexbatch):
    # A: daily_unique_resources at 1 -> {r1, r2} = 2 units, 2 credits;
    # B: sum at 0.5 -> 3 events (null quantity = 1 each) = 3 units, 1.5 credits
    plans = plan("daily_unique_resources", plan_id="A") + plan(
        "sum", tiers="[ { above = 0, price = 0.5 } ]", plan_id="B"
    )
    usage = {D1: [ev(D1, 1, resource="r1"), ev(D1, 2, resource="r2"), ev(D1, 3, resource="r2")]}
    out = job(tmp_path, flexbatch, plans, usage)
    assert rows(out, ("plan_id", "units", "credits")) == [
        (D1, "A", D("2"), D("2")),
        (D1, "B", D("3"), D("1.5")),
    ]


# 3. included capacity running out on day 2 of a month -----------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["run each day", "backfill"])
def test_month_capacity_runs_out_on_day_2(tmp_path, flexbatch, mode):
    # daily_unique_resources, month, 5 included then 0.01 each.
    # D1 {r1,r2,r3} = 3 -> positions 0..3: 3@0
    # D2 {r1,r2,r3,r4} = 4 (daily distinct) -> positions 3..7: 2@0, 2@0.01 = 0.02
    # D3 {r1,r5} = 2 -> positions 7..9: 2@0.01 = 0.02
    tiers = "[ { above = 0, price = 0 }, { above = 5, price = 0.01 } ]"
    usage = {
        D1: [ev(D1, 1, resource=r) for r in ("r1", "r2", "r3")],
        D2: [ev(D2, 1, resource=r) for r in ("r1", "r2", "r3", "r4")],
        D3: [ev(D3, 1, resource=r) for r in ("r1", "r5")],
    }
    inp, out = setup(tmp_path, plan("daily_unique_resources", "month", tiers), usage)
    if mode == "backfill":
        backfill(flexbatch, inp, out, D1, D3)
    else:
        for day in (D1, D2, D3):
            run(flexbatch, inp, out, day)
    assert rows(out) == [
        (D1, "ns-1", 1, D("3"), D("0")),
        (D2, "ns-1", 1, D("2"), D("0")),
        (D2, "ns-1", 2, D("2"), D("0.02")),
        (D3, "ns-1", 2, D("2"), D("0.02")),
    ]


@pytest.mark.slow
def test_rerun_of_day_1_recomputes_later_days_of_the_month(tmp_path, flexbatch):
    # Same plan as above. First D1 has no usage, D2 posts {r1,r2,r3,r4} = 4@0.
    # Then D1 gets {r1,r2,r3} and is rerun: D2 must be recomputed from positions 3..7:
    # 2@0, 2@0.01 = 0.02 (OUT equals a clean backfill).
    tiers = "[ { above = 0, price = 0 }, { above = 5, price = 0.01 } ]"
    usage = {D1: [], D2: [ev(D2, 1, resource=r) for r in ("r1", "r2", "r3", "r4")]}
    inp, out = setup(tmp_path, plan("daily_unique_resources", "month", tiers), usage)
    backfill(flexbatch, inp, out, D1, D2)
    assert rows(out) == [(D2, "ns-1", 1, D("4"), D("0"))]
    write_usage(inp, D1, [ev(D1, 1, resource=r) for r in ("r1", "r2", "r3")])
    run(flexbatch, inp, out, D1)
    assert rows(out) == [
        (D1, "ns-1", 1, D("3"), D("0")),
        (D2, "ns-1", 1, D("2"), D("0")),
        (D2, "ns-1", 2, D("2"), D("0.02")),
    ]


# 4. unique_users over a month ------------------------------------------------------------


def test_unique_users_month_counts_a_user_once(tmp_path, flexbatch):
    # D1: u1 in ns-1 -> 1 unit. D2: u1 again (now in ns-2: same account user, already
    # counted) and u2 (new) in ns-1 -> 1 unit in ns-1, nothing in ns-2. Price 1.
    usage = {
        D1: [ev(D1, 1, user="u1"), ev(D1, 2, user="u1")],
        D2: [ev(D2, 1, scope="ns-2", user="u1"), ev(D2, 2, user="u2"), ev(D2, 3, user="u1")],
    }
    out = job(tmp_path, flexbatch, plan("unique_users", "month"), usage)
    assert rows(out) == [(D1, "ns-1", 1, D("1"), D("1")), (D2, "ns-1", 1, D("1"), D("1"))]


def test_unique_resources_month_counts_a_resource_once(tmp_path, flexbatch):
    # D1 {r1, r2} -> 2; D2 {r1 (seen), r3} -> 1; price 0.5 -> 1.0 then 0.5
    usage = {
        D1: [ev(D1, 1, resource="r1"), ev(D1, 2, resource="r2")],
        D2: [ev(D2, 1, resource="r1"), ev(D2, 2, resource="r3")],
    }
    tiers = "[ { above = 0, price = 0.5 } ]"
    out = job(tmp_path, flexbatch, plan("unique_resources", "month", tiers), usage)
    assert rows(out) == [(D1, "ns-1", 1, D("2"), D("1")), (D2, "ns-1", 1, D("1"), D("0.5"))]


# 5. daily_unique_users: user-days and lowest-scope attribution ---------------------------


def test_daily_unique_users_user_days_and_lowest_scope(tmp_path, flexbatch):
    # month, price 1.
    # D1: u1 in ns-2 (01:00) and ns-1 (02:00) -> attributed to ns-1 (lowest scope_id, not
    #     first seen); u2 only in ns-2 -> ns-2. Rows: ns-1 1, ns-2 1.
    # D2: u1 again, in ns-2 -> a second user-day: ns-2 1.
    usage = {
        D1: [
            ev(D1, 1, scope="ns-2", user="u1"),
            ev(D1, 2, scope="ns-1", user="u1"),
            ev(D1, 3, scope="ns-2", user="u2"),
        ],
        D2: [ev(D2, 1, scope="ns-2", user="u1")],
    }
    out = job(tmp_path, flexbatch, plan("daily_unique_users", "month"), usage)
    assert rows(out) == [
        (D1, "ns-1", 1, D("1"), D("1")),
        (D1, "ns-2", 1, D("1"), D("1")),
        (D2, "ns-2", 1, D("1"), D("1")),
    ]


# 6. hourly thresholds reset every hour ---------------------------------------------------


def test_hour_thresholds_reset_each_hour(tmp_path, flexbatch):
    # sum, hour, 50 included then 0.01: hour 10 = 60 -> 50@0 + 10@0.01; hour 11 = 60 ->
    # 50@0 + 10@0.01. Day rows: tier 1 100 units 0, tier 2 20 units = 0.2 (not 70 units).
    tiers = "[ { above = 0, price = 0 }, { above = 50, price = 0.01 } ]"
    usage = {D1: [ev(D1, 10, quantity=60.0), ev(D1, 11, 59, quantity=60.0)]}
    out = job(tmp_path, flexbatch, plan("sum", "hour", tiers), usage)
    assert rows(out) == [
        (D1, "ns-1", 1, D("100"), D("0")),
        (D1, "ns-1", 2, D("20"), D("0.2")),
    ]


def test_hour_row_is_rounded_once_per_day(tmp_path, flexbatch):
    # README: the day row sums the hours and is rounded once. 0.5 in hour 10 and 0.5 in
    # hour 11 at 0.000001: row units 1 -> 0.000001 (per-hour rounding would give 0 + 0).
    tiers = "[ { above = 0, price = 0.000001 } ]"
    usage = {D1: [ev(D1, 10, quantity=0.5), ev(D1, 11, quantity=0.5)]}
    out = job(tmp_path, flexbatch, plan("sum", "hour", tiers), usage)
    assert rows(out) == [(D1, "ns-1", 1, D("1"), D("0.000001"))]


# 7. a version change mid-month -----------------------------------------------------------


def test_version_change_mid_month_keeps_positions(tmp_path, flexbatch):
    # sum, month. v1 (2026-01-01 .. 2026-03-02 excl.): 0@0, 10@1.
    #             v2 (from 2026-03-02):                 0@0, 12@2.
    # D1 (v1): 8 units -> positions 0..8: 8@0.
    # D2 (v2): 5 units -> positions 8..13 under v2's tiers: 4@0 (8..12), 1@2 (12..13) = 2.
    # D3 (v2): 3 units -> positions 13..16: 3@2 = 6.
    plans = plan(
        "sum", "month", "[ { above = 0, price = 0 }, { above = 10, price = 1 } ]",
        effective_to="2026-03-02",
    ) + plan(
        "sum", "month", "[ { above = 0, price = 0 }, { above = 12, price = 2 } ]",
        effective_from="2026-03-02",
    )  # fmt: skip
    usage = {
        D1: [ev(D1, 1, quantity=8.0)],
        D2: [ev(D2, 1, quantity=5.0)],
        D3: [ev(D3, 1, quantity=3.0)],
    }
    out = job(tmp_path, flexbatch, plans, usage)
    cols = ("tier", "tier_above", "unit_price", "units", "credits", "plan_version")
    got = [(d, *r[:-1], str(r[-1])) for d, *r in rows(out, cols)]
    assert got == [
        (D1, 1, D("0"), D("0"), D("8"), D("0"), "2026-01-01"),
        (D2, 1, D("0"), D("0"), D("4"), D("0"), "2026-03-02"),
        (D2, 2, D("12"), D("2"), D("1"), D("2"), "2026-03-02"),
        (D3, 2, D("12"), D("2"), D("3"), D("6"), "2026-03-02"),
    ]


# 8. fixed charges ------------------------------------------------------------------------


def test_fixed_per_scope_when_service_is_set(tmp_path, flexbatch):
    # month, service set, price 5: one unit per scope per month, on its first day of usage.
    # D1: ns-2, ns-1 -> ns-1 1@5, ns-2 1@5. D2: ns-1 again (already charged), ns-3 (first
    # usage this month) -> ns-3 1@5 only.
    usage = {
        D1: [ev(D1, 1, scope="ns-2"), ev(D1, 2, scope="ns-1"), ev(D1, 3, scope="ns-1")],
        D2: [ev(D2, 1, scope="ns-1"), ev(D2, 2, scope="ns-3")],
    }
    p = plan("fixed", "month", "[ { above = 0, price = 5 } ]", extra='service = "data-hub"')
    out = job(tmp_path, flexbatch, p, usage)
    assert rows(out) == [
        (D1, "ns-1", 1, D("1"), D("5")),
        (D1, "ns-2", 1, D("1"), D("5")),
        (D2, "ns-3", 1, D("1"), D("5")),
    ]


def test_fixed_per_account_without_service(tmp_path, flexbatch):
    # month, no service, price 5: one unit per account per month, in the lowest scope with
    # usage on D1 (ns-2 of {ns-3, ns-2}); D2 usage in ns-1 posts nothing.
    usage = {
        D1: [ev(D1, 1, scope="ns-3"), ev(D1, 2, scope="ns-2")],
        D2: [ev(D2, 1, scope="ns-1"), ev(D2, 2, scope="ns-3")],
    }
    out = job(tmp_path, flexbatch, plan("fixed", "month", "[ { above = 0, price = 5 } ]"), usage)
    assert rows(out) == [(D1, "ns-2", 1, D("1"), D("5"))]


def test_fixed_per_account_day_period_posts_every_day(tmp_path, flexbatch):
    # day period: one unit each day with usage, in that day's lowest scope (ns-1, then ns-2)
    usage = {
        D1: [ev(D1, 1, scope="ns-2"), ev(D1, 2, scope="ns-1")],
        D2: [ev(D2, 1, scope="ns-2"), ev(D2, 2, scope="ns-3")],
        D3: [],
    }
    out = job(tmp_path, flexbatch, plan("fixed", "day", "[ { above = 0, price = 5 } ]"), usage)
    assert rows(out) == [(D1, "ns-1", 1, D("1"), D("5")), (D2, "ns-2", 1, D("1"), D("5"))]


# 9. graduated tiers ----------------------------------------------------------------------


def test_graduated_tiers_across_two_boundaries(tmp_path, flexbatch):
    # tiers above 0/10/20 at 0/1/0.5, 25 units: 10@0 = 0, 10@1 = 10, 5@0.5 = 2.5 -> 12.5
    tiers = "[ { above = 0, price = 0 }, { above = 10, price = 1 }, { above = 20, price = 0.5 } ]"
    out = job(tmp_path, flexbatch, plan("sum", tiers=tiers), {D1: [ev(D1, quantity=25.0)]})
    assert rows(out, ("tier", "tier_above", "unit_price", "units", "credits")) == [
        (D1, 1, D("0"), D("0"), D("10"), D("0")),
        (D1, 2, D("10"), D("1"), D("10"), D("10")),
        (D1, 3, D("20"), D("0.5"), D("5"), D("2.5")),
    ]
    assert sum(charges(out)["credits"]) == D("12.5")


def test_tier_boundary_crossed_between_scopes(tmp_path, flexbatch):
    # Same tiers, shared by the account, scopes in ascending order: ns-1 8 units (0..8:
    # 8@0); ns-2 15 units (8..23: 2@0, 10@1 = 10, 3@0.5 = 1.5)
    tiers = "[ { above = 0, price = 0 }, { above = 10, price = 1 }, { above = 20, price = 0.5 } ]"
    usage = {D1: [ev(D1, 1, scope="ns-2", quantity=15.0), ev(D1, 2, scope="ns-1", quantity=8.0)]}
    out = job(tmp_path, flexbatch, plan("sum", tiers=tiers), usage)
    assert rows(out) == [
        (D1, "ns-1", 1, D("8"), D("0")),
        (D1, "ns-2", 1, D("2"), D("0")),
        (D1, "ns-2", 2, D("10"), D("10")),
        (D1, "ns-2", 3, D("3"), D("1.5")),
    ]


# 10. decimal exactness -------------------------------------------------------------------


def test_thousand_units_times_a_tenth_is_exactly_100(tmp_path, flexbatch):
    # 1000 distinct resources x 0.1 = 100 exactly
    tiers = "[ { above = 0, price = 0.1 } ]"
    usage = {D1: [ev(D1, 1, resource=f"r{i}") for i in range(1000)]}
    out = job(tmp_path, flexbatch, plan("daily_unique_resources", tiers=tiers), usage)
    frame = charges(out)
    assert frame.schema["credits"] == pl.Decimal(38, 6)
    assert frame.schema["units"] == pl.Decimal(38, 6)
    [(units, credits)] = frame.select("units", "credits").rows()
    assert isinstance(credits, D) and isinstance(units, D)
    assert (units, credits) == (D("1000"), D("100"))


def test_quantities_sum_exactly(tmp_path, flexbatch):
    # ten events of 0.1: exactly 1 unit (floats would give 0.9999999999999999); x 3 = 3
    tiers = "[ { above = 0, price = 3 } ]"
    usage = {D1: [ev(D1, 1, i, quantity=0.1) for i in range(10)]}
    out = job(tmp_path, flexbatch, plan("sum", tiers=tiers), usage)
    assert rows(out) == [(D1, "ns-1", 1, D("1"), D("3"))]


def test_credits_rounded_half_even_per_row(tmp_path, flexbatch):
    # price 0.000001 per unit, one row per scope:
    # ns-1 0.5 -> 0.0000005 -> 0.000000 (tie, even neighbour 0)
    # ns-2 1.5 -> 0.0000015 -> 0.000002 (tie, even neighbour 2)
    # ns-3 2.5 -> 0.0000025 -> 0.000002 (tie, even neighbour 2)
    # ns-4 0.6 -> 0.0000006 -> 0.000001 (above the half)
    tiers = "[ { above = 0, price = 0.000001 } ]"
    usage = {
        D1: [
            ev(D1, 1, scope="ns-1", quantity=0.5),
            ev(D1, 1, scope="ns-2", quantity=1.5),
            ev(D1, 1, scope="ns-3", quantity=2.5),
            ev(D1, 1, scope="ns-4", quantity=0.6),
        ]
    }
    out = job(tmp_path, flexbatch, plan("sum", tiers=tiers), usage)
    assert rows(out) == [
        (D1, "ns-1", 1, D("0.5"), D("0")),
        (D1, "ns-2", 1, D("1.5"), D("0.000002")),
        (D1, "ns-3", 1, D("2.5"), D("0.000002")),
        (D1, "ns-4", 1, D("0.6"), D("0.000001")),
    ]


# 11. threshold_scope ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("threshold_scope", "expected"),
    [
        # shared: ns-1 3 -> 0..3: 2@0, 1@1; ns-2 3 -> 3..6: 3@1
        (
            "account",
            [
                (D1, "ns-1", 1, D("2"), D("0")),
                (D1, "ns-1", 2, D("1"), D("1")),
                (D1, "ns-2", 2, D("3"), D("3")),
            ],
        ),
        # own positions: each scope 3 -> 0..3: 2@0, 1@1
        (
            "scope",
            [
                (D1, "ns-1", 1, D("2"), D("0")),
                (D1, "ns-1", 2, D("1"), D("1")),
                (D1, "ns-2", 1, D("2"), D("0")),
                (D1, "ns-2", 2, D("1"), D("1")),
            ],
        ),
    ],
)
def test_threshold_scope(tmp_path, flexbatch, threshold_scope, expected):
    tiers = "[ { above = 0, price = 0 }, { above = 2, price = 1 } ]"
    p = plan("daily_unique_resources", tiers=tiers, extra=f'threshold_scope = "{threshold_scope}"')
    usage = {D1: [ev(D1, 1, scope=s, resource=r) for s in ("ns-1", "ns-2") for r in "abc"]}
    out = job(tmp_path, flexbatch, p, usage)
    assert rows(out) == expected


def test_threshold_scope_scope_carries_per_scope_across_a_month(tmp_path, flexbatch):
    # sum, month, per-scope tiers 0@0, 2@1.
    # D1: ns-1 3 -> 2@0, 1@1. D2: ns-1 1 (position 3..4) -> 1@1; ns-2 1 (its own 0..1) -> 1@0
    tiers = "[ { above = 0, price = 0 }, { above = 2, price = 1 } ]"
    p = plan("sum", "month", tiers, extra='threshold_scope = "scope"')
    usage = {
        D1: [ev(D1, 1, quantity=3.0)],
        D2: [ev(D2, 1, quantity=1.0), ev(D2, 2, scope="ns-2", quantity=1.0)],
    }
    out = job(tmp_path, flexbatch, p, usage)
    assert rows(out) == [
        (D1, "ns-1", 1, D("2"), D("0")),
        (D1, "ns-1", 2, D("1"), D("1")),
        (D2, "ns-1", 2, D("1"), D("1")),
        (D2, "ns-2", 1, D("1"), D("0")),
    ]


def test_threshold_scope_scope_identifies_users_per_scope(tmp_path, flexbatch):
    # unique_users, month, threshold_scope = "scope": a user is (account, scope, user_id).
    # D1: u1 in ns-1 and ns-2 -> one unit in each. D2: u1 in ns-2 (seen) and ns-3 (new) ->
    # ns-3 1. Price 1.
    p = plan("unique_users", "month", extra='threshold_scope = "scope"')
    usage = {
        D1: [ev(D1, 1, scope="ns-2", user="u1"), ev(D1, 2, scope="ns-1", user="u1")],
        D2: [ev(D2, 1, scope="ns-2", user="u1"), ev(D2, 2, scope="ns-3", user="u1")],
    }
    out = job(tmp_path, flexbatch, p, usage)
    assert rows(out) == [
        (D1, "ns-1", 1, D("1"), D("1")),
        (D1, "ns-2", 1, D("1"), D("1")),
        (D2, "ns-3", 1, D("1"), D("1")),
    ]


def test_accounts_never_share_tiers(tmp_path, flexbatch):
    # two accounts, 3 resources each, tiers 0@0, 2@1: each account 2@0, 1@1
    tiers = "[ { above = 0, price = 0 }, { above = 2, price = 1 } ]"
    usage = {D1: [ev(D1, 1, account=a, resource=r) for a in ("acme", "beta") for r in "abc"]}
    out = job(tmp_path, flexbatch, plan("daily_unique_resources", tiers=tiers), usage)
    assert rows(out, ("account_id", "tier", "units", "credits")) == [
        (D1, "acme", 1, D("2"), D("0")),
        (D1, "acme", 2, D("1"), D("1")),
        (D1, "beta", 1, D("2"), D("0")),
        (D1, "beta", 2, D("1"), D("1")),
    ]


# 12. peak --------------------------------------------------------------------------------


def test_peak_over_a_month_posts_increases(tmp_path, flexbatch):
    # month, tiers 0@0, 8@0.5. Running max: D1 10, D2 7 (no increase), D3 15.
    # D1 posts 10 (0..10: 8@0, 2@0.5 = 1); D2 nothing; D3 posts 5 (10..15: 5@0.5 = 2.5)
    tiers = "[ { above = 0, price = 0 }, { above = 8, price = 0.5 } ]"
    usage = {
        D1: [ev(D1, 1, quantity=4.0), ev(D1, 2, quantity=10.0)],
        D2: [ev(D2, 1, quantity=7.0)],
        D3: [ev(D3, 1, quantity=15.0), ev(D3, 2, quantity=3.0)],
    }
    out = job(tmp_path, flexbatch, plan("peak", "month", tiers), usage)
    assert rows(out) == [
        (D1, "ns-1", 1, D("8"), D("0")),
        (D1, "ns-1", 2, D("2"), D("1")),
        (D3, "ns-1", 2, D("5"), D("2.5")),
    ]


def test_peak_account_increase_split_across_scopes(tmp_path, flexbatch):
    # month, account thresholds, price 1.
    # D1: ns-1 max 6, ns-2 max 10, ns-3 max 8 -> ns-1 6, ns-2 10-6 = 4, ns-3 0 (account 10)
    # D2: ns-1 max 12, ns-2 max 13 -> ns-1 12-10 = 2, ns-2 13-12 = 1 (account 10 -> 13)
    usage = {
        D1: [
            ev(D1, 1, scope="ns-1", quantity=6.0),
            ev(D1, 1, scope="ns-2", quantity=10.0),
            ev(D1, 1, scope="ns-3", quantity=8.0),
        ],
        D2: [ev(D2, 1, scope="ns-1", quantity=12.0), ev(D2, 1, scope="ns-2", quantity=13.0)],
    }
    out = job(tmp_path, flexbatch, plan("peak", "month"), usage)
    assert rows(out) == [
        (D1, "ns-1", 1, D("6"), D("6")),
        (D1, "ns-2", 1, D("4"), D("4")),
        (D2, "ns-1", 1, D("2"), D("2")),
        (D2, "ns-2", 1, D("1"), D("1")),
    ]


# 13. included tiers are charge rows ------------------------------------------------------


def test_included_tier_rows_have_zero_credits(tmp_path, flexbatch):
    # 3 resources, 500 included: one row, tier 1, 3 units, unit_price 0, credits 0
    tiers = "[ { above = 0, price = 0 }, { above = 500, price = 0.002 } ]"
    usage = {D1: [ev(D1, 1, resource=r) for r in ("r1", "r2", "r3")]}
    out = job(tmp_path, flexbatch, plan("daily_unique_resources", tiers=tiers), usage)
    assert rows(out, ("tier", "tier_above", "unit_price", "units", "credits")) == [
        (D1, 1, D("0"), D("0"), D("3"), D("0")),
    ]


# 14. transaction_id ----------------------------------------------------------------------


@pytest.mark.slow
def test_transaction_id_stable_across_reruns_and_distinct_per_tier(tmp_path, flexbatch):
    # D1 sum 25 over tiers 0/10/20 -> three tier rows; D2 sum 5 -> one row
    tiers = "[ { above = 0, price = 0 }, { above = 10, price = 1 }, { above = 20, price = 0.5 } ]"
    usage = {D1: [ev(D1, 1, quantity=25.0)], D2: [ev(D2, 1, quantity=5.0)]}
    inp, out = setup(tmp_path, plan("sum", tiers=tiers), usage)
    backfill(flexbatch, inp, out, D1, D2)
    cols = ("scope_id", "tier", "units", "credits", "transaction_id")
    first = rows(out, cols)
    run(flexbatch, inp, out, D1)  # reruns D1, then recomputes D2
    assert rows(out, cols) == first
    ids = [r[-1] for r in first]
    assert len(first) == 4
    assert len(set(ids)) == 4  # distinct per tier and per day
    assert all(isinstance(i, str) and i for i in ids)


# 15. unpriced (product, meter) pairs -----------------------------------------------------


def test_unpriced_events_are_counted_not_charged(tmp_path, flexbatch):
    # priced: ADH/streams_accessed (price 1, daily_unique_resources) -> 1 unit.
    # unpriced: ADH/streams_stored and XYZ/streams_accessed -> usage_daily rows, no charges
    usage = {
        D1: [
            ev(D1, 1, resource="r1"),
            ev(D1, 2, meter="streams_stored", resource="r1"),
            ev(D1, 3, meter="streams_stored", resource="r2"),
            ev(D1, 4, product="XYZ", resource="r1"),
        ]
    }
    out = job(tmp_path, flexbatch, plan("daily_unique_resources"), usage)
    assert rows(out, ("product_code", "meter", "units", "credits")) == [
        (D1, "ADH", "streams_accessed", D("1"), D("1")),
    ]
    usage_daily = read_table(out, "usage_daily").sort("product_code", "meter")
    assert usage_daily.select("product_code", "meter", "events").rows() == [
        ("ADH", "streams_accessed", 1),
        ("ADH", "streams_stored", 2),
        ("XYZ", "streams_accessed", 1),
    ]
