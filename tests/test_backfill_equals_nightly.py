"""Property: however the days are run (one at a time, in any order, rerun), the output
equals one clean backfill of the range, table for table and row for row (SPEC §2): every
table, the money ones included (credit_ledger, balances, forecast, alerts, revenue, the
grant state, statements), with random usage, grants and transfers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from flexbatch.tables import TABLES as ALL_TABLES
from flexbatch.tables import Table

from helpers import read_table
from random_inputs import (
    DAYS,
    METERS,
    event_rows,
    grant_rows,
    transfer_rows,
    write_credit_rows,
    write_event_rows,
)

TABLES = [t for t in ALL_TABLES if not t.log]  # runs, restatements: logs of each run


def _table(out: Path, spec: Table) -> pl.DataFrame:
    if spec.partition_key == "date":
        return read_table(out, spec.path)
    files = sorted((out / spec.path).glob(f"{spec.partition_key}=*/*.parquet"))
    frames = [pl.read_parquet(f).with_columns(pl.lit(f.parent.name).alias("partition"))
              for f in files]  # fmt: skip
    if not frames:
        return pl.DataFrame()
    # a statement names the run that last wrote it (SPEC §8): which run that is differs
    # between a backfill and nightly runs, the statement's figures do not
    return pl.concat(frames, how="diagonal_relaxed").drop("run_id", strict=False)


def _snapshot(out: Path) -> dict[str, pl.DataFrame]:
    return {spec.path: _table(out, spec) for spec in TABLES}


def _assert_same(left: Path, right: Path) -> None:
    a, b = _snapshot(left), _snapshot(right)
    for spec in TABLES:
        try:
            assert_frame_equal(a[spec.path], b[spec.path], check_exact=True)
        except AssertionError as exc:
            raise AssertionError(f"{spec.path}: {exc}") from exc


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=event_rows,
    grants=grant_rows,
    transfers=transfer_rows,
    order=st.permutations(range(len(DAYS))),
    rerun=st.integers(0, 2),
)
def test_any_run_order_equals_backfill(
    tmp_path_factory, flexbatch, rows, grants, transfers, order, rerun
):
    root = tmp_path_factory.mktemp("case")
    inp = root / "in"
    write_event_rows(inp, rows)
    write_credit_rows(inp, grants, transfers)
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
    write_credit_rows(
        inp,
        [("a", "flex_credit", "400", 0, None, None, "", "0.5"),
         ("a", "cloud_credit", "1", 1, 1, None, "ADH", None)],
        [(1, ("a", "b"), "2.25", None), (2, ("b", "a"), "7.333333", "flex_credit")],
    )  # fmt: skip
    args = ("--input", str(inp), "--output", str(out))
    assert (
        flexbatch("backfill", "--from", str(DAYS[0]), "--to", str(DAYS[-1]), *args).exit_code == 0
    )
    before = _snapshot(out)
    assert before["charges"].height > 0
    # the money moved: consumed, a transfer made and one rejected (b holds 2.25 < 7.333333)
    kinds = set(before["credit_ledger"]["entry_type"])
    assert {"grant", "consume", "transfer_in", "transfer_out"} <= kinds
    assert "transfer_rejected" in set(before["alerts"]["kind"])
    assert flexbatch("run", "--date", str(DAYS[1]), *args).exit_code == 0
    after = _snapshot(out)
    for spec in TABLES:
        assert_frame_equal(before[spec.path], after[spec.path], check_exact=True)
    runs = read_table(out, "runs")
    # the rerun of day 2 recomputed days 2 and 3: two more runs rows, nothing else
    assert runs.group_by("date").len().sort("date")["len"].to_list() == [1, 2, 2]
    assert DAYS[-1] - DAYS[0] == timedelta(days=2)
