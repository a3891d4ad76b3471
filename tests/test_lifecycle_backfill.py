"""Property (SPEC §2 with §10): with voids, rollovers, transfers and top-up rules in play,
however the days are run (one at a time, in any order, rerun), every table of OUT equals
one clean backfill, row for row. Top-ups are derived from each day's closing balances and
applied the next day, so a restated day must re-derive every later one."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from flexbatch.tables import TABLES

from helpers import read_table, write_grants, write_topups, write_transfers
from random_inputs import DAYS, event_rows, write_event_rows

pytestmark = pytest.mark.slow

COMPARED = [t for t in TABLES if not t.log]  # runs and restatements are logs of each run
D0, D1, D2 = (d.isoformat() for d in DAYS)  # 01-30, 01-31, 02-01: across a month end


def _table(out: Path, spec) -> pl.DataFrame:
    if spec.partition_key == "date":
        return read_table(out, spec.path)
    files = sorted((out / spec.path).glob(f"{spec.partition_key}=*/*.parquet"))
    frame = pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")
    # a statement names the run that last wrote it (SPEC §8): which run that is differs
    # between a backfill and nightly runs, the statement's figures do not
    return frame.drop("run_id", strict=False)


def _config(inp: Path, amounts: tuple[str, str, str], threshold: str) -> None:
    a1, a2, b1 = amounts
    write_grants(
        inp,
        [
            # rolls at most 1 on 01-31, for one day
            {"grant_id": "GA1", "account_id": "a", "currency": "flex_credit", "amount": a1,
             "effective_on": D0, "expires_on": D1, "rollover_max": "1", "rollover_days": "1"},
            {"grant_id": "GA2", "account_id": "a", "currency": "flex_credit", "amount": a2,
             "effective_on": D0, "voided_on": D2},
            # voided the day before it would have rolled over
            {"grant_id": "GB1", "account_id": "b", "currency": "flex_credit", "amount": b1,
             "effective_on": D0, "expires_on": D2, "voided_on": D1, "rollover_max": "5",
             "rollover_days": "3"},
        ],
    )  # fmt: skip
    write_transfers(
        inp,
        [{"transfer_id": "T1", "date": D1, "from_account": "a", "to_account": "b",
          "amount": "0.5", "currency": "flex_credit"}],
    )  # fmt: skip
    write_topups(
        inp,
        [
            {"rule_id": "RA", "account_id": "a", "currency": "flex_credit",
             "threshold": threshold, "amount": "1.5", "max_per_month": "1",
             "expires_after_days": "2"},
            {"rule_id": "RB", "account_id": "b", "currency": "flex_credit", "threshold": "1",
             "target": "3", "unit_cost": "0.5", "cost_currency": "EUR"},
        ],
    )  # fmt: skip


amount = st.sampled_from(["0.5", "1", "2.25", "4"])


@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=event_rows,
    amounts=st.tuples(amount, amount, amount),
    threshold=st.sampled_from(["0", "2", "10"]),
    order=st.permutations(range(len(DAYS))),
    rerun=st.integers(0, 2),
)
def test_any_run_order_equals_backfill_with_the_grant_lifecycle(
    tmp_path_factory, flexbatch, rows, amounts, threshold, order, rerun
):
    root = tmp_path_factory.mktemp("lifecycle")
    inp = root / "in"
    write_event_rows(inp, rows)
    _config(inp, amounts, threshold)
    backfilled, nightly = root / "backfill", root / "nightly"
    args = ("--input", str(inp))
    result = flexbatch("backfill", "--from", D0, "--to", D2, *args, "--output", str(backfilled))
    assert result.exit_code == 0, result.stderr
    for i in [*order, rerun]:
        result = flexbatch("run", "--date", str(DAYS[i]), *args, "--output", str(nightly))
        assert result.exit_code == 0, result.stderr
    for spec in COMPARED:
        (
            assert_frame_equal(_table(backfilled, spec), _table(nightly, spec), check_exact=True),
            spec.name,
        )
    # every day has a topups partition, empty or not
    assert sorted(p.name for p in (backfilled / "topups").iterdir()) == [f"date={d}" for d in DAYS]
