"""Property: however the days are run (one at a time, in any order, rerun), the output
equals one clean backfill of the range, table for table and row for row (SPEC §2)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from helpers import read_table
from random_inputs import DAYS, METERS, event_rows, write_event_rows

TABLES = ("usage_daily", "charges", "quarantine", "_state/subjects")


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
    write_event_rows(inp, rows)
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
    write_event_rows(inp, rows)
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
