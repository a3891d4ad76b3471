"""``status`` checks the books against the ledger without DuckDB: the statements rule in
Polars (``statements_in_polars``) must give the very frame that
``sql/books/statements.sql`` gives (columns, types, rows, order), or ``status`` would call
current statements out of date; and the corrections a closed month needs, counted in
Polars (``state.pending_counts``), must be the rows ``sql/books/corrections.sql`` books.
The SQL is the independent method here."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from flexbatch.books.corrections import compute_corrections
from flexbatch.books.frames import BALANCES, Credits
from flexbatch.books.state import pending_counts
from flexbatch.books.statements import (
    CORRECTION_SUMS,
    closed,
    compute_statements,
    statements_in_polars,
)

FIRST = date(2026, 8, 30)  # 70 days: four months, none whole at the ends
KEYS = (("a", "fc"), ("a", "ct"), ("b", "fc"), ("c:d", "fc"))
money = st.integers(-(10**9), 10**9).map(lambda n: Decimal(n).scaleb(-6))
flow = st.integers(0, 10**9).map(lambda n: Decimal(n).scaleb(-6))
MONEY = [c for c, t in BALANCES.items() if t == Credits]


@st.composite
def balances(draw: st.DrawFn) -> pl.DataFrame | None:
    cells = draw(st.sets(st.tuples(st.sampled_from(KEYS), st.integers(0, 69)), max_size=25))
    if not cells and draw(st.booleans()):
        return None
    rows = [
        {"account_id": a, "currency": c, "date": FIRST + timedelta(days=i),
         **{m: draw(flow if m not in ("opening", "available") else money) for m in MONEY}}
        for (a, c), i in sorted(cells)
    ]  # fmt: skip
    frame = pl.DataFrame(rows, schema=BALANCES)
    # balances written before the grant lifecycle have no voided column (read as 0)
    return frame.drop("voided") if draw(st.booleans()) else frame


@st.composite
def corrections(draw: st.DrawFn) -> pl.DataFrame | None:
    months = [date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1), date(2026, 12, 1)]
    n = draw(st.integers(0, 6))
    if n == 0 and draw(st.booleans()):
        return None
    rows = []
    for _ in range(n):
        (account, currency), booked = draw(st.sampled_from(KEYS)), draw(st.sampled_from(months))
        row = {"booked_month": booked, "closed_month": booked - timedelta(days=31),
               "account_id": account, "currency": currency}  # fmt: skip
        rows.append({**row, **{c: draw(money) for c in CORRECTION_SUMS if c not in row}})
    return pl.DataFrame(rows, schema=CORRECTION_SUMS)


@settings(max_examples=60, deadline=None)
@given(balances(), corrections())
def test_the_polars_statements_are_the_sql_statements(balances_frame, corrections_frame):
    sql = compute_statements(balances_frame, corrections_frame, "r1")
    got = statements_in_polars(balances_frame, corrections_frame, "r1")
    assert got.schema == sql.schema
    assert got.equals(sql), (got, sql)


def test_a_month_by_hand():
    # two days of one account in September, a correction booked on it and one booked on a
    # month without balances (left out, as the SQL's join on the months computed does)
    frame = pl.DataFrame(
        [
            {"account_id": "a", "currency": "fc", "date": date(2026, 9, 3), "opening": 5,
             "granted": 10, "consumed": 4, "overdraft": 0, "available": 11},
            {"account_id": "a", "currency": "fc", "date": date(2026, 9, 1), "opening": 1,
             "granted": 4, "consumed": 0, "overdraft": 0, "available": 5},
        ]  # fmt: skip
    ).with_columns(pl.col(c).cast(Credits) for c in ("opening", "granted", "consumed",
                                                     "overdraft", "available"))  # fmt: skip
    booked = pl.DataFrame(
        [
            {
                "booked_month": date(2026, 9, 1),
                "closed_month": date(2026, 8, 1),
                "account_id": "a",
                "currency": "fc",
                "consumed_delta": 2,
                "overdraft_delta": 1,
                "available_delta": -2,
            },
            {
                "booked_month": date(2026, 10, 1),
                "closed_month": date(2026, 8, 1),
                "account_id": "a",
                "currency": "fc",
                "consumed_delta": 7,
                "overdraft_delta": 0,
                "available_delta": -7,
            },
        ]  # fmt: skip
    )
    (row,) = statements_in_polars(frame, booked, "r").to_dicts()
    assert row["statement_id"] == "a:2026-09:fc" and row["month"] == date(2026, 9, 1)
    assert (row["first_day"], row["last_day"]) == (date(2026, 9, 1), date(2026, 9, 3))
    assert (row["opening"], row["closing"]) == (1, 11)  # the first day's, the last day's
    assert (row["granted"], row["consumed"], row["charged"], row["voided"]) == (14, 4, 4, 0)
    assert (row["corrections_consumed"], row["corrections_available"]) == (2, -2)
    assert (row["status"], row["closed_at"], row["run_id"]) == ("open", None, "r")


# --- the corrections a closed month needs ------------------------------------------------

CLOSED_AT = datetime(2026, 11, 1)
CLOSED = [date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1)]  # the months of FIRST..


def moved(frame: pl.DataFrame, changes: list[tuple[int, str, Decimal]]) -> pl.DataFrame:
    """``frame`` with some cells set: (row, flow column, new value)."""
    rows = frame.to_dicts()
    for i, column, value in changes:
        if rows and column in rows[i % len(rows)]:
            rows[i % len(rows)][column] = value
    return pl.DataFrame(rows, schema=frame.schema)


change = st.tuples(st.integers(0, 99), st.sampled_from(MONEY), flow)


@settings(max_examples=40, deadline=None)
@given(balances(), st.lists(change, max_size=4), st.lists(change, max_size=4),
       st.integers(1, 3))  # fmt: skip
def test_pending_counts_are_the_sql_corrections_counted(at_close, first, then, n_closed):
    # the months closed at ``at_close``; a run books what ``first`` moved, then ``then``
    # moves more: what is pending now is the SQL's corrections, counted per closed month
    if at_close is None or at_close.is_empty():
        return
    at_close = at_close.with_columns(pl.lit(Decimal(0)).cast(Credits).alias("voided"))
    closed_months = CLOSED[:n_closed]
    in_closed = pl.col("date").dt.truncate("1mo").is_in(closed_months)
    issued = closed(compute_statements(at_close, None, "r0"), CLOSED_AT, "r0").filter(
        pl.col("month").is_in(closed_months)
    )
    if issued.is_empty():
        return
    booked_month = date(2026, 11, 1)
    later = moved(at_close, first)
    booked = compute_corrections(later.filter(in_closed), issued, None, None, booked_month, "r1")
    booked = booked if booked.height else None
    now = moved(later, then).filter(in_closed)
    sql = compute_corrections(now, issued, booked, None, booked_month, "r2")
    expected = dict(sql.group_by("closed_month").len().iter_rows())
    assert pending_counts(statements_in_polars(now, None, "s"), issued, booked) == expected


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
    assert statements_in_polars(got, None, "r").equals(expected)
