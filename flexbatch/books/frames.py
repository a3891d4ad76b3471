"""The frames the books' pure functions take: their columns and types, and a DuckDB to
run ``sql/books`` on them (frames in, frame out, no I/O).

The column lists here load no validation library, so that ``status`` (which reads them)
answers at once; tests/test_startup.py pins each to its Pandera model (books/schemas.py)."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from flexbatch.resources import sql_text

Credits = pl.Decimal(38, 6)

BALANCES = {
    "account_id": pl.String,
    "currency": pl.String,
    "date": pl.Date,
    "opening": Credits,
    "granted": Credits,
    "transferred_in": Credits,
    "transferred_out": Credits,
    "consumed": Credits,
    "expired": Credits,
    "voided": Credits,
    "overdraft": Credits,
    "available": Credits,
}
# the published statements file, in its column order (the month is its folder, SPEC §8)
STATEMENTS = {
    "statement_id": pl.String,
    "account_id": pl.String,
    "currency": pl.String,
    "first_day": pl.Date,
    "last_day": pl.Date,
    "opening": Credits,
    "granted": Credits,
    "transferred_in": Credits,
    "transferred_out": Credits,
    "consumed": Credits,
    "expired": Credits,
    "voided": Credits,
    "closing": Credits,
    "overdraft": Credits,
    "charged": Credits,
    "corrections_consumed": Credits,
    "corrections_overdraft": Credits,
    "corrections_available": Credits,
    "status": pl.String,
    "closed_at": pl.Datetime("us"),
    "run_id": pl.String,
}
# the published corrections file, in its column order
CORRECTIONS = {
    "correction_id": pl.String,
    "run_id": pl.String,
    "account_id": pl.String,
    "currency": pl.String,
    "closed_month": pl.Date,
    "booked_month": pl.Date,
    "reason": pl.String,
    "granted_delta": Credits,
    "transferred_in_delta": Credits,
    "transferred_out_delta": Credits,
    "consumed_delta": Credits,
    "expired_delta": Credits,
    "voided_delta": Credits,
    "overdraft_delta": Credits,
    "available_delta": Credits,
}
RESTATEMENTS = {
    "date": pl.Date,
    "run_id": pl.String,
    "account_id": pl.String,
    "currency": pl.String,
    "reason": pl.String,
}


def conformed(frame: pl.DataFrame | None, schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """``frame`` with exactly ``schema``'s columns and types; a flow column it lacks
    (``voided`` before the grant lifecycle) is 0; None is an empty frame."""
    if frame is None:
        return pl.DataFrame(schema=dict(schema))
    columns = []
    for name, dtype in schema.items():
        if name in frame.columns:
            columns.append(pl.col(name).cast(dtype))
        elif dtype == Credits:
            columns.append(pl.lit(0).cast(dtype).alias(name))
        else:
            raise KeyError(f"frame has no column {name}")
    return frame.select(columns)


class _ArrowStream:
    """A frame as only an Arrow C stream: DuckDB scans it without pyarrow (given a Polars
    frame itself, DuckDB converts it through pyarrow, the larger part of ``status``'s
    imports). Each scan of the relation takes a new stream of the same frame."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        return self.frame.__arrow_c_stream__(requested_schema)


def run_sql(step: str, relations: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """``sql/books/<step>.sql`` over ``relations`` (registered by name) in a private
    in-memory DuckDB; the result crosses back as an Arrow C stream too."""
    import duckdb  # here: readers of the books' frames (status) load no engine

    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        for name, frame in relations.items():
            con.register(name, _ArrowStream(frame))
        return pl.DataFrame(con.sql(sql_text(step)))
    finally:
        con.close()
