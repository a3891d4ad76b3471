"""``status`` checks the published statements against the ledger without DuckDB: the
statements rule in Polars (``statements_in_polars``) must give the very frame that
``sql/books/statements.sql`` gives (columns, types, rows, order), or ``status`` would call
current statements out of date. The SQL is the independent method here."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from flexbatch.books.frames import BALANCES, Credits
from flexbatch.books.statements import (
    CORRECTION_SUMS,
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
