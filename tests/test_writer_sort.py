"""The writer's sort (``sql_steps.sort_by_key`` under ``sorted_lazy``): Polars puts a
table's rows exactly where DuckDB's ORDER BY puts them, whichever way it sorts (Polars'
stable sort of rows that come in runs, or packed ranks), from one chunk or many; an order
it cannot repeat exactly (a float column) is left to DuckDB. The expected order is always
DuckDB's own ORDER BY of the same rows."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flexbatch.tables import table
from flexbatch.transform import sql_steps
from flexbatch.transform.sql_steps import sort_by_key, sorted_frame

# nulls, the empty string and non-ASCII text: DuckDB and Polars both compare UTF-8 bytes
_TEXT = st.one_of(st.none(), st.sampled_from(["", "a", "ab", "b", "é", "z"]))
_INT = st.one_of(st.none(), st.integers(-2, 2))
WAYS = {"runs": 0, "ranks": 10**9}  # RUN_SORT_DESCENTS that forces each way


def _table(con: duckdb.DuckDBPyConnection, columns: str, rows: list[tuple]) -> None:
    con.execute(f"create or replace table t ({columns}, i integer)")
    if rows:
        marks = ", ".join("?" for _ in range(len(rows[0]) + 1))
        con.executemany(f"insert into t values ({marks})", [[*r, i] for i, r in enumerate(rows)])


def _chunked(frame: pl.DataFrame, chunks: int) -> pl.DataFrame:
    """``frame`` as ``chunks`` chunks per column, as DuckDB hands a table over in batches."""
    size = max(1, -(-frame.height // chunks))
    parts = [frame.slice(start, size) for start in range(0, frame.height, size)]
    return pl.concat(parts, rechunk=False) if parts else frame


@pytest.mark.parametrize("way", WAYS)
@settings(max_examples=80, deadline=None)
@given(
    rows=st.lists(st.tuples(_TEXT, _INT, _TEXT), max_size=30, unique=True),
    chunks=st.integers(1, 4),
)
def test_sort_by_key_puts_rows_where_duckdb_order_by_does(way, rows, chunks):
    con = duckdb.connect()
    _table(con, "a varchar, n integer, b varchar", rows)
    expected = con.execute("select * from t order by a, n nulls first, b nulls first").fetchall()
    frame = _chunked(con.sql("select * from t").pl(), chunks)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sql_steps, "RUN_SORT_DESCENTS", WAYS[way])
        got = sort_by_key(frame, ["a", "n", "b"], {"n", "b"})
    assert got.rows() == expected
    assert got.schema == frame.schema
    con.close()


_ACCOUNT = st.sampled_from(["acc-1", "acc-2", "acc-10"])
# the two registry orders that are not exactly a key and say ``nulls first``, each over
# rows unique on the order's columns (a tie would leave DuckDB's order open)
_ORDERED = {
    "credit_ledger": (
        "account_id varchar, entry_order integer, currency varchar, product_code varchar, "
        "ref varchar, grant_id varchar, entry_type varchar",
        st.tuples(
            _ACCOUNT,
            st.integers(1, 4),
            st.sampled_from(["EUR", "USD"]),
            _TEXT,
            _TEXT,
            _TEXT,
            st.sampled_from(["expire", "rollover_out"]),
        ),
    ),
    "revenue_entries": (
        "account_id varchar, entry_order integer, grant_id varchar, entry_type varchar, "
        "ref varchar",
        st.tuples(_ACCOUNT, st.integers(1, 4), _TEXT, st.sampled_from(["consume", "grant"]), _TEXT),
    ),
}


@pytest.mark.parametrize("name", _ORDERED)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_credit_ledger_and_revenue_entries_orders_with_nulls_first(name, data):
    # Polars now sorts these on the writer thread, as DuckDB's ORDER BY of the registry
    # order did on the main thread
    columns, row = _ORDERED[name]
    rows = data.draw(st.lists(row, max_size=30, unique=True))
    con = duckdb.connect()
    _table(con, columns, rows)
    expected = con.execute(f"select * from t order by {table(name).order}").fetchall()
    assert sorted_frame(con, "select * from t", name).rows() == expected
    con.close()


def test_orders_polars_cannot_repeat_exactly_are_left_to_duckdb():
    ledger = table("credit_ledger").order
    types = dict.fromkeys(
        ("account_id", "currency", "product_code", "ref", "grant_id", "entry_type"), "varchar"
    ) | {"entry_order": "integer"}
    assert sql_steps._polars_order(ledger, types) == (
        ["account_id", "entry_order", "currency", "product_code", "ref", "grant_id", "entry_type"],
        {"product_code", "ref", "grant_id"},
    )
    # quarantine orders by the raw quantity, a double (-0.0 ties 0.0; NaN): DuckDB sorts
    assert sql_steps._polars_order("source_file, quantity nulls first", {
        "source_file": "varchar", "quantity": "double",
    }) is None  # fmt: skip
    assert sql_steps._polars_order("a desc", {"a": "varchar"}) is None
    assert sql_steps._polars_order("a, b", {"a": "varchar"}) is None  # b is not a column
