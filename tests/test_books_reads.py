"""The books' reads for ``status``: a year of ``balances`` in one scan gives the rows, and
so the statements, that one read per file gave."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl

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
