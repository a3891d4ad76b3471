"""Property: however the days are run (one at a time, in any order, rerun), the output
equals one clean backfill of the range, table for table and row for row (SPEC §2)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from helpers import plan_toml, read_table, write_plans, write_usage

DAYS = [date(2026, 1, 30), date(2026, 1, 31), date(2026, 2, 1)]  # crosses a month end
TABLES = ("usage_daily", "charges", "quarantine", "_state/subjects")

PLANS = "".join(
    [
        plan_toml(
            "UR",
            algorithm="unique_resources",
            meter="stored",
            billing_period="month",
            tiers="[ { above = 0, price = 0 }, { above = 2, price = 0.5 } ]",
        ),
        plan_toml(
            "DUR",
            algorithm="daily_unique_resources",
            meter="accessed",
            billing_period="month",
            tiers="[ { above = 0, price = 0 }, { above = 3, price = 0.25 } ]",
        ),
        plan_toml(
            "UU",
            algorithm="unique_users",
            chargeable="user",
            meter="seat",
            billing_period="month",
            extra='threshold_scope = "scope"',
            tiers="[ { above = 0, price = 1 }, { above = 2, price = 2 } ]",
        ),
        plan_toml(
            "DUU",
            algorithm="daily_unique_users",
            chargeable="user",
            meter="seat",
            billing_period="month",
            tiers="[ { above = 0, price = 0.1 } ]",
        ),
        plan_toml(
            "SUM",
            algorithm="sum",
            meter="gb",
            billing_period="hour",
            tiers="[ { above = 0, price = 0 }, { above = 1.5, price = 0.003 } ]",
        ),
        plan_toml(
            "PEAK",
            algorithm="peak",
            meter="cores",
            billing_period="month",
            tiers="[ { above = 0, price = 0 }, { above = 2, price = 1.5 } ]",
        ),
        plan_toml(
            "FIX",
            algorithm="fixed",
            chargeable="product",
            meter="login",
            billing_period="month",
            extra='service = "portal"',
            tiers="[ { above = 0, price = 7 } ]",
        ),
        plan_toml(
            "FIXD",
            algorithm="fixed",
            chargeable="product",
            meter="login",
            billing_period="day",
            tiers="[ { above = 0, price = 1 }, { above = 1, price = 3 } ]",
        ),
    ]
)

METERS = ["stored", "accessed", "seat", "gb", "cores", "login"]

event_rows = st.lists(
    st.tuples(
        st.integers(0, len(DAYS) - 1),  # day
        st.integers(0, 23),  # hour
        st.sampled_from(["a", "b"]),  # account
        st.sampled_from(["s1", "s2", "s3"]),  # scope
        st.sampled_from(METERS),
        st.sampled_from(["u1", "u2", "u3", None]),
        st.sampled_from(["r1", "r2", "r3", None]),
        st.one_of(st.none(), st.sampled_from([0.0, 0.5, 1.25, 2.0, 3.0, -1.0])),
        st.integers(0, 40),  # event id: collisions make duplicates
    ),
    max_size=40,
)


def _write_input(root: Path, rows: list[tuple]) -> None:
    write_plans(root, PLANS)
    per_day: dict[int, list[dict]] = {i: [] for i in range(len(DAYS))}
    for day_i, hour, account, scope, meter, user, resource, quantity, eid in rows:
        per_day[day_i].append(
            {
                "event_id": f"e{eid}",
                "ts": datetime.combine(DAYS[day_i], time(hour)),
                "account_id": account,
                "scope_id": scope,
                "product_code": "ADH",
                "meter": meter,
                "user_id": user,
                "resource_id": resource,
                "quantity": quantity,
            }
        )
    for day_i, day in enumerate(DAYS):
        write_usage(root, day, per_day[day_i])


def _snapshot(out: Path) -> dict[str, pl.DataFrame]:
    return {table: read_table(out, table) for table in TABLES}


def _assert_same(left: Path, right: Path) -> None:
    a, b = _snapshot(left), _snapshot(right)
    for table in TABLES:
        assert_frame_equal(a[table], b[table], check_exact=True), table


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=event_rows, order=st.permutations(range(len(DAYS))), rerun=st.integers(0, 2))
def test_any_run_order_equals_backfill(tmp_path_factory, flexbatch, rows, order, rerun):
    root = tmp_path_factory.mktemp("case")
    inp = root / "in"
    _write_input(inp, rows)
    backfilled, nightly = root / "backfill", root / "nightly"

    result = flexbatch(
        "backfill",
        "--from",
        str(DAYS[0]),
        "--to",
        str(DAYS[-1]),
        "--input",
        str(inp),
        "--output",
        str(backfilled),
    )
    assert result.exit_code == 0, result.stderr
    for i in [*order, rerun]:
        result = flexbatch(
            "run", "--date", str(DAYS[i]), "--input", str(inp), "--output", str(nightly)
        )
        assert result.exit_code == 0, result.stderr

    _assert_same(backfilled, nightly)
    # every day was processed exactly as often as its runs required, and no staging is left
    assert not (nightly / "_staging").exists()
    assert sorted(p.name for p in (nightly / "usage_daily").iterdir()) == [
        f"date={d}" for d in DAYS
    ]


def test_rerun_changes_nothing(tmp_path, flexbatch):
    inp, out = tmp_path / "in", tmp_path / "out"
    rows = [
        (d, h, "a", s, m, "u1", "r1", 1.0, d * 100 + h * 7 + i)
        for i, m in enumerate(METERS)
        for d in range(3)
        for h in (1, 2)
        for s in ("s1", "s2")
    ]
    _write_input(inp, rows)
    args = ("--input", str(inp), "--output", str(out))
    assert (
        flexbatch("backfill", "--from", str(DAYS[0]), "--to", str(DAYS[-1]), *args).exit_code == 0
    )
    before = _snapshot(out)
    assert before["charges"].height > 0
    assert flexbatch("run", "--date", str(DAYS[1]), *args).exit_code == 0
    after = _snapshot(out)
    for table in TABLES:
        assert_frame_equal(before[table], after[table], check_exact=True)
    runs = read_table(out, "runs")
    # the rerun of day 2 recomputed days 2 and 3: two more runs rows, nothing else
    assert runs.group_by("date").len().sort("date")["len"].to_list() == [1, 2, 2]
    assert DAYS[-1] - DAYS[0] == timedelta(days=2)
