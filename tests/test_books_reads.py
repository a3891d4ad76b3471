"""The books' reads for ``status``: a year of ``balances`` in one scan gives the rows, and
so the statements, that one read per file gave; each row of the scan gets its own file's
day."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flexbatch.books.frames import Credits
from flexbatch.books.statements import compute_statements


def test_balances_of_a_year_are_read_in_one_scan_that_keeps_legacy_days(tmp_path):
    # 1 September written before the grant lifecycle (no voided column), 2 September
    # after: one scan gives null where a file lacks the column, as a read per file and a
    # diagonal concat did, and the statements are the same either way
    from flexbatch.books.ledger_files import read_balances
    from flexbatch.storage.stores import LocalStore

    frames = {}
    for day, voided in ((date(2026, 9, 1), None), (date(2026, 9, 2), Decimal("0.25"))):
        row = {"account_id": "a", "currency": "fc", "opening": Decimal(1), "granted": Decimal(2),
               "consumed": Decimal("0.5"), "available": Decimal("2.5"), "extra": "x"}  # fmt: skip
        frame = pl.DataFrame([row]).with_columns(pl.col(Decimal).cast(Credits))
        if voided is not None:
            frame = frame.with_columns(pl.lit(voided).cast(Credits).alias("voided"))
        for table in ("usage_daily", "balances"):  # a processed day has usage_daily
            folder = tmp_path / table / f"date={day}"
            folder.mkdir(parents=True)
            frame.write_parquet(folder / "part-0.parquet")
        frames[day] = frame.with_columns(pl.lit(day).alias("date"))
    got = read_balances(LocalStore(tmp_path), [date(2026, 9, 1)])
    assert got["date"].to_list() == [date(2026, 9, 1), date(2026, 9, 2)]
    assert got["voided"].to_list() == [None, Decimal("0.25")]
    per_file = pl.concat(list(frames.values()), how="diagonal_relaxed")
    expected = compute_statements(per_file, None, "r")
    assert expected["voided"].to_list() == [Decimal("0.25")]  # by hand: the one day's
    assert compute_statements(got, None, "r").equals(expected)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.lists(st.integers(0, 4), min_size=1, max_size=3), min_size=1, max_size=5),
    st.randoms(use_true_random=False),
)
def test_each_row_gets_its_files_day(tmp_path_factory, day_files, rnd):
    # days of one or more files (some empty), written in a shuffled order under a root
    # whose own path looks like a partition: every row's date is its file's, as a read
    # per file with the day added says
    from flexbatch.storage.partitions import read_partitions, table_files
    from flexbatch.storage.stores import LocalStore

    root = tmp_path_factory.mktemp("x=1") / "out"
    written = [(date(2026, 1, 1 + i), n, rows) for i, sizes in enumerate(day_files)
               for n, rows in enumerate(sizes)]  # fmt: skip
    rnd.shuffle(written)
    expected = []
    for k, (day, n, rows) in enumerate(written):
        folder = root / "runs" / f"date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        frame = pl.DataFrame(
            {"run_id": [f"{k}:{r}" for r in range(rows)]}, schema={"run_id": pl.String}
        )
        frame.write_parquet(folder / f"run-{n}.parquet")
        expected.append((f"{day}/run-{n}", frame.with_columns(pl.lit(day).alias("date"))))
    store = LocalStore(root)
    got = read_partitions(store, table_files(store, "runs"), {"run_id": pl.String})
    by_file = pl.concat([frame for _, frame in sorted(expected, key=lambda e: e[0])])
    assert got.equals(by_file)
