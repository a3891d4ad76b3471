"""Pandera models of the books' tables (SPEC §8), registered in
:data:`flexbatch.schemas.OUTPUT_MODELS` beside every other output."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from flexbatch.tables import key_columns

Credits = pl.Decimal(38, 6)
FLOWS = ("granted", "transferred_in", "transferred_out", "consumed", "expired", "voided")


def opening_plus_movements() -> pl.Expr:
    """opening + granted + transferred_in - transferred_out - consumed - expired - voided:
    the day's or month's closing credits (SPEC §10's conservation), written once for the
    balances and statements models."""
    c = pl.col
    return (
        c("opening")
        + c("granted")
        + c("transferred_in")
        - c("transferred_out")
        - c("consumed")
        - c("expired")
        - c("voided")
    )


class Statements(pa.DataFrameModel):
    """One row per account, credit currency and calendar month. The month is the
    partition (``month=YYYY-MM``; the views give it as its first day, a date)."""

    statement_id: str = pa.Field(str_length={"min_value": 1})
    account_id: str = pa.Field(str_length={"min_value": 1})
    currency: str = pa.Field(str_length={"min_value": 1})
    first_day: pl.Date = pa.Field(nullable=True)  # null: a row only for corrections
    last_day: pl.Date = pa.Field(nullable=True)
    opening: Credits
    granted: Credits = pa.Field(ge=0)
    transferred_in: Credits = pa.Field(ge=0)
    transferred_out: Credits = pa.Field(ge=0)
    consumed: Credits = pa.Field(ge=0)
    expired: Credits = pa.Field(ge=0)
    voided: Credits = pa.Field(ge=0)
    closing: Credits
    overdraft: Credits = pa.Field(ge=0)
    charged: Credits = pa.Field(ge=0)
    corrections_consumed: Credits
    corrections_overdraft: Credits
    corrections_available: Credits
    status: str = pa.Field(isin=["open", "closed"])
    closed_at: pl.Datetime("us") = pa.Field(nullable=True)
    run_id: str = pa.Field(str_length={"min_value": 1})

    @pa.dataframe_check(name="closing_is_opening_plus_movements")
    def conserved(cls, data: pa.PolarsData) -> pl.LazyFrame:  # noqa: N805
        c = pl.col
        moved = opening_plus_movements()
        return data.lazyframe.select(moved == c("closing"))

    @pa.dataframe_check(name="charged_is_consumed_plus_overdraft")
    def charged_sum(cls, data: pa.PolarsData) -> pl.LazyFrame:  # noqa: N805
        c = pl.col
        return data.lazyframe.select(c("charged") == c("consumed") + c("overdraft"))

    @pa.dataframe_check(name="closed_at_iff_closed")
    def closed_at_set(cls, data: pa.PolarsData) -> pl.LazyFrame:  # noqa: N805
        c = pl.col
        return data.lazyframe.select(c("closed_at").is_null() == (c("status") == "open"))

    class Config:
        strict = True
        unique = key_columns("statements")


class Corrections(pa.DataFrameModel):
    """One row per correction booked (partition ``month=YYYY-MM``: the booked month)."""

    correction_id: str = pa.Field(str_length={"min_value": 1})
    run_id: str = pa.Field(str_length={"min_value": 1})
    account_id: str = pa.Field(str_length={"min_value": 1})
    currency: str = pa.Field(str_length={"min_value": 1})
    closed_month: pl.Date
    booked_month: pl.Date
    reason: str = pa.Field(isin=["inputs_changed", "config_changed", "cascade"])
    granted_delta: Credits
    transferred_in_delta: Credits
    transferred_out_delta: Credits
    consumed_delta: Credits
    expired_delta: Credits
    voided_delta: Credits
    overdraft_delta: Credits
    available_delta: Credits

    @pa.dataframe_check(name="available_delta_is_the_flows")
    def available_flows(cls, data: pa.PolarsData) -> pl.LazyFrame:  # noqa: N805
        c = pl.col
        flows = (
            c("granted_delta")
            + c("transferred_in_delta")
            - c("transferred_out_delta")
            - c("consumed_delta")
            - c("expired_delta")
            - c("voided_delta")
        )
        return data.lazyframe.select(flows == c("available_delta"))

    @pa.dataframe_check(name="booked_after_the_closed_month")
    def booked_later(cls, data: pa.PolarsData) -> pl.LazyFrame:  # noqa: N805
        return data.lazyframe.select(pl.col("booked_month") > pl.col("closed_month"))

    class Config:
        strict = True
        unique = key_columns("corrections")
