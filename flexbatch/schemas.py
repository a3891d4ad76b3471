"""Pandera models, one per table: the input contract (SPEC §3.1) and every output (§5).

Production validation of usage rows runs as SQL (``sql/checked_events.sql``) so it stays
vectorised inside DuckDB; ``UsageEvent`` states the same rules for Polars frames and a
test checks that both agree row for row. Outputs are validated here before publication.

Each output's key is the registry's (``flexbatch/tables.py``), never restated here: for
a table published sorted by exactly its key, ``key_unique_and_sorted = key_sorted("…")``
(``strictly_ascending``: one pass of comparisons, no hash of every row: 0.05 s where
``Config.unique`` took 0.8 s on usage_daily's 547,000 rows), else ``unique = key("…")``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

import pandera.polars as pa
import polars as pl

from flexbatch.books.schemas import Corrections, Statements, opening_plus_movements
from flexbatch.limits import ID_MAX_LENGTH, QUANTITY_LIMIT
from flexbatch.tables import key_columns as key

Credits = pl.Decimal(38, 6)
DECIMAL_TOLERANCE = 0.0000005  # half a unit of the sixth place: what half-even rounding moves


def _non_empty(column: str) -> pl.Expr:
    return pl.col(column).is_not_null() & (pl.col(column).str.len_chars() > 0)


def strictly_ascending(columns: Sequence[str]) -> pl.Expr:
    """Per row, whether it sorts strictly after the row before it by ``columns``
    (lexicographically, nulls last as the files are sorted; the first row passes). On a
    frame sorted by its key this is the key's uniqueness, checked in one pass:
    ``Config.unique`` hashes every row instead, which on the 100 M-event day's 8 M
    subjects took 2.9 GB more memory than the frame."""
    after = pl.lit(False)
    tied = pl.lit(True)
    for column in columns:
        current, previous = pl.col(column), pl.col(column).shift(1)
        # a comparison with a null is null: a null sorts after a value, ties a null
        greater = (current > previous).fill_null(current.is_null() & previous.is_not_null())
        after = after | (tied & greater)
        tied = tied & current.eq_missing(previous)
    return (pl.int_range(pl.len()) == 0) | after


def key_sorted(table: str) -> classmethod:
    """The dataframe check ``key_unique_and_sorted`` of a model whose table is published
    sorted by exactly its key (``tables.Table.key_order``): rows in strict key order."""

    @pa.dataframe_check(name="key_unique_and_sorted")
    def key_unique_and_sorted(cls, data: pa.PolarsData) -> pl.LazyFrame:  # noqa: N805
        return data.lazyframe.select(strictly_ascending(key(table)))

    return key_unique_and_sorted


class UsageEvent(pa.DataFrameModel):
    """A valid usage event of one day (SPEC §3.1); plan-dependent rules are in
    ``usage_event_violations``."""

    event_id: str = pa.Field(str_length={"min_value": 1})
    ts: pl.Datetime = pa.Field()
    account_id: str = pa.Field(str_length={"min_value": 1, "max_value": ID_MAX_LENGTH})
    scope_id: str = pa.Field(str_length={"min_value": 1})
    product_code: str = pa.Field(str_length={"min_value": 1})
    meter: str = pa.Field(str_length={"min_value": 1})
    user_id: str = pa.Field(nullable=True)
    resource_id: str = pa.Field(nullable=True)
    quantity: pl.Float64 = pa.Field(nullable=True, ge=0, lt=float(QUANTITY_LIMIT))

    @pa.check("quantity", name="quantity_finite")
    def quantity_finite(cls, data: pa.PolarsData) -> pl.LazyFrame:  # noqa: N805
        q = pl.col(data.key)
        return data.lazyframe.select(q.is_null() | q.is_finite())


class UsageDaily(pa.DataFrameModel):
    account_id: str = pa.Field(str_length={"min_value": 1})
    scope_id: str = pa.Field(str_length={"min_value": 1})
    product_code: str = pa.Field(str_length={"min_value": 1})
    meter: str = pa.Field(str_length={"min_value": 1})
    events: pl.Int64 = pa.Field(ge=1)
    unique_users: pl.Int64 = pa.Field(ge=0)
    unique_resources: pl.Int64 = pa.Field(ge=0)
    quantity_sum: Credits = pa.Field(ge=0)
    quantity_max: Credits = pa.Field(ge=0)

    key_unique_and_sorted = key_sorted("usage_daily")

    class Config:
        strict = True


class UsageByUserDaily(pa.DataFrameModel):
    account_id: str = pa.Field(str_length={"min_value": 1})
    scope_id: str = pa.Field(str_length={"min_value": 1})
    product_code: str = pa.Field(str_length={"min_value": 1})
    meter: str = pa.Field(str_length={"min_value": 1})
    user_id: str = pa.Field(str_length={"min_value": 1})
    events: pl.Int64 = pa.Field(ge=1)
    quantity_sum: Credits = pa.Field(ge=0)

    key_unique_and_sorted = key_sorted("usage_by_user_daily")

    class Config:
        strict = True


class Charges(pa.DataFrameModel):
    account_id: str = pa.Field(str_length={"min_value": 1})
    scope_id: str = pa.Field(str_length={"min_value": 1})
    product_code: str
    plan_id: str
    plan_version: pl.Date
    chargeable: str = pa.Field(isin=["product", "resource", "user"])
    meter: str
    algorithm: str = pa.Field(
        isin=[
            "fixed",
            "unique_users",
            "unique_resources",
            "daily_unique_users",
            "daily_unique_resources",
            "sum",
            "peak",
        ]
    )
    billing_period: str = pa.Field(isin=["hour", "day", "month"])
    threshold_scope: str = pa.Field(isin=["account", "scope"])
    period_start: pl.Date
    tier: pl.Int32 = pa.Field(ge=1)
    tier_above: Credits = pa.Field(ge=0)
    unit_price: Credits = pa.Field(ge=0)
    units: Credits = pa.Field(gt=0)
    credits: Credits = pa.Field(ge=0)
    transaction_id: str = pa.Field(str_length={"min_value": 32, "max_value": 32}, unique=True)

    @pa.dataframe_check(name="credits_equal_units_times_price")
    def credits_rounded_product(cls, data: pa.PolarsData) -> pl.LazyFrame:  # noqa: N805
        # An independent float check of the exact SQL: |credits - units x price| <= half a
        # micro-credit (plus float slack far below the sixth place for realistic sizes).
        exact = pl.col("units").cast(pl.Float64) * pl.col("unit_price").cast(pl.Float64)
        diff = (pl.col("credits").cast(pl.Float64) - exact).abs()
        return data.lazyframe.select(diff <= DECIMAL_TOLERANCE + exact.abs() * 1e-12)

    key_unique_and_sorted = key_sorted("charges")

    class Config:
        strict = True


class Quarantine(pa.DataFrameModel):
    event_id: str = pa.Field(nullable=True)
    ts: pl.Datetime = pa.Field(nullable=True)
    account_id: str = pa.Field(nullable=True)
    scope_id: str = pa.Field(nullable=True)
    product_code: str = pa.Field(nullable=True)
    meter: str = pa.Field(nullable=True)
    user_id: str = pa.Field(nullable=True)
    resource_id: str = pa.Field(nullable=True)
    quantity: pl.Float64 = pa.Field(nullable=True)
    reason: str = pa.Field(str_length={"min_value": 1})
    source_file: str = pa.Field(str_length={"min_value": 1})

    class Config:
        strict = True


class SubjectsState(pa.DataFrameModel):
    """Published sorted by its key (charging.OUTPUTS), so uniqueness is checked as strict
    key order."""

    plan_id: str
    period_start: pl.Date
    account_id: str
    threshold_key: str
    subject_scope: str
    subject_id: str

    key_unique_and_sorted = key_sorted("subjects_state")

    class Config:
        strict = True


class Runs(pa.DataFrameModel):
    run_id: str = pa.Field(str_length={"min_value": 1})
    command: str = pa.Field(isin=["run", "backfill", "demo"])
    started_at: pl.Datetime
    finished_at: pl.Datetime
    status: str = pa.Field(isin=["succeeded"])
    rows_read: pl.Int64 = pa.Field(ge=0)
    rows_accepted: pl.Int64 = pa.Field(ge=0)
    rows_quarantined: pl.Int64 = pa.Field(ge=0)
    duplicates: pl.Int64 = pa.Field(ge=0)
    input_files: pl.Int64 = pa.Field(ge=0)
    input_manifest: str
    unread_files: str  # JSON list of what the partition holds that is not read
    inputs_sha256: str = pa.Field(str_length={"min_value": 64, "max_value": 64})
    code_version: str
    config_sha256: str = pa.Field(str_length={"min_value": 64, "max_value": 64})

    @pa.dataframe_check(name="rows_conserved")
    def rows_conserved(cls, data: pa.PolarsData) -> pl.LazyFrame:  # noqa: N805
        return data.lazyframe.select(
            pl.col("rows_read")
            == pl.col("rows_accepted") + pl.col("rows_quarantined") + pl.col("duplicates")
        )

    class Config:
        strict = True
        unique = key("runs")


# SPEC §5 and §10. void, rollover_out and rollover_in name the slice (grant_id) they draw
# from or create, like transfer entries; only overdraft has none.
ENTRY_TYPES = (
    "grant", "transfer_in", "transfer_out", "consume", "expire", "overdraft",
    "void", "rollover_out", "rollover_in",
)  # fmt: skip
ADDING_ENTRY_TYPES = ("grant", "transfer_in", "rollover_in")  # amount > 0; the rest < 0


class CreditLedger(pa.DataFrameModel):
    account_id: str = pa.Field(str_length={"min_value": 1})
    grant_id: str = pa.Field(nullable=True)
    currency: str = pa.Field(str_length={"min_value": 1})
    entry_type: str = pa.Field(isin=list(ENTRY_TYPES))
    amount: Credits
    product_code: str = pa.Field(nullable=True)
    ref: str = pa.Field(nullable=True)
    grant_remaining: Credits = pa.Field(nullable=True, ge=0)
    entry_order: pl.Int32 = pa.Field(ge=1, le=4)

    @pa.dataframe_check(name="amount_sign_follows_entry_type")
    def amount_sign(cls, data: pa.PolarsData) -> pl.LazyFrame:  # noqa: N805
        adds = pl.col("entry_type").is_in(list(ADDING_ENTRY_TYPES))
        return data.lazyframe.select(
            pl.when(adds).then(pl.col("amount") > 0).otherwise(pl.col("amount") < 0)
        )

    @pa.dataframe_check(name="grant_id_except_overdraft")
    def grant_id_present(cls, data: pa.PolarsData) -> pl.LazyFrame:  # noqa: N805
        return data.lazyframe.select(
            (pl.col("entry_type") == "overdraft") == pl.col("grant_id").is_null()
        )

    class Config:
        strict = True


class Balances(pa.DataFrameModel):
    account_id: str = pa.Field(str_length={"min_value": 1})
    currency: str = pa.Field(str_length={"min_value": 1})
    opening: Credits
    granted: Credits = pa.Field(ge=0)
    transferred_in: Credits = pa.Field(ge=0)
    transferred_out: Credits = pa.Field(ge=0)
    consumed: Credits = pa.Field(ge=0)
    expired: Credits = pa.Field(ge=0)
    voided: Credits = pa.Field(ge=0)
    overdraft: Credits = pa.Field(ge=0)
    available: Credits = pa.Field(ge=0)
    overdraft_total: Credits = pa.Field(ge=0)
    purchased_total: Credits
    used_total: Credits = pa.Field(ge=0)
    expired_total: Credits = pa.Field(ge=0)
    voided_total: Credits = pa.Field(ge=0)
    available_pct: pl.Decimal(9, 2) = pa.Field(nullable=True)
    band: str = pa.Field(isin=["green", "red"])
    expiring_90d: Credits = pa.Field(ge=0)
    in_overdraft: pl.Boolean
    entitled: pl.Boolean  # available >= 1 (SPEC §10)

    @pa.dataframe_check(name="available_is_opening_plus_movements")
    def conserved(cls, data: pa.PolarsData) -> pl.LazyFrame:  # noqa: N805
        c = pl.col
        moved = opening_plus_movements()
        return data.lazyframe.select(moved == c("available"))

    @pa.dataframe_check(name="entitled_is_available_at_least_one")
    def entitled_rule(cls, data: pa.PolarsData) -> pl.LazyFrame:  # noqa: N805
        return data.lazyframe.select(pl.col("entitled") == (pl.col("available") >= 1))

    key_unique_and_sorted = key_sorted("balances")

    class Config:
        strict = True


class Forecast(pa.DataFrameModel):
    """One compact row per as_of day, account and currency (SPEC §5 v3); the day-by-day
    curve is the view ``forecast_daily``, computed on read. Published sorted by its key (the
    registry's order, tables.py), so uniqueness is checked as strict key order (see
    ``strictly_ascending``)."""

    account_id: str
    currency: str
    burn_rate: Credits = pa.Field(ge=0)
    depletion_date: pl.Date = pa.Field(nullable=True)
    projected_available_30d: Credits
    projected_available_60d: Credits
    projected_available_90d: Credits

    key_unique_and_sorted = key_sorted("forecast")

    @pa.dataframe_check(name="projection_never_rises")
    def projection_never_rises(cls, data: pa.PolarsData) -> pl.LazyFrame:  # noqa: N805
        c = pl.col
        return data.lazyframe.select(
            (c("projected_available_60d") <= c("projected_available_30d"))
            & (c("projected_available_90d") <= c("projected_available_60d"))
        )

    class Config:
        strict = True


class Alerts(pa.DataFrameModel):
    account_id: str = pa.Field(str_length={"min_value": 1})
    kind: str = pa.Field(
        isin=[
            "low_balance",
            "expiring_soon",
            "depletion_forecast",
            "overdraft",
            "user_limit_exceeded",
            "transfer_rejected",
            "entitlement_lost",
            "balance_recovered",
        ]
    )
    severity: str = pa.Field(isin=["info", "warning", "critical"])
    message: str = pa.Field(str_length={"min_value": 1})
    amount: Credits = pa.Field(nullable=True)
    ref: str = pa.Field(nullable=True)

    # one alert per condition and day: deterministic files
    key_unique_and_sorted = key_sorted("alerts")

    class Config:
        strict = True


class Topups(pa.DataFrameModel):
    """Top-ups issued on their trigger day (the partition), effective the day after
    (SPEC §10); expires_on, priority and products (beyond the SPEC) are the terms the grant
    takes effect with, so that a day reads them from OUT alone."""

    rule_id: str = pa.Field(str_length={"min_value": 1})
    account_id: str = pa.Field(str_length={"min_value": 1})
    currency: str = pa.Field(str_length={"min_value": 1})
    grant_id: str = pa.Field(str_length={"min_value": 1})
    effective_on: pl.Date
    amount: Credits = pa.Field(gt=0)
    unit_cost: Credits = pa.Field(ge=0)
    cost_currency: str
    available_at_trigger: Credits = pa.Field(ge=0)
    expires_on: pl.Date = pa.Field(nullable=True)
    priority: pl.Int32
    products: str

    key_unique_and_sorted = key_sorted("topups")

    class Config:
        strict = True


class GrantSlices(pa.DataFrameModel):
    account_id: str
    grant_id: str
    currency: str
    priority: pl.Int32
    expires_on: pl.Date = pa.Field(nullable=True)
    unit_cost: Credits = pa.Field(ge=0)
    cost_currency: str
    effective_on: pl.Date
    products: str
    origin_id: str  # the grant (grants file or top-up) the slice descends from (SPEC §10)
    rolled_over: pl.Boolean  # a GRANT~rollover slice or one made from it: never rolls again
    remaining: Credits = pa.Field(ge=0)
    drawn: Credits = pa.Field(ge=0)  # credits drawn from the slice so far (SPEC §9)
    value: Credits  # the slice's value in its cost currency (SPEC §9)

    key_unique_and_sorted = key_sorted("grant_state")

    class Config:
        strict = True


class Revenue(pa.DataFrameModel):
    """SPEC §9: value deferred, recognised and broken per account, credit currency and cost
    currency, in the cost currency."""

    account_id: str = pa.Field(str_length={"min_value": 1})
    currency: str = pa.Field(str_length={"min_value": 1})
    cost_currency: str = pa.Field(str_length={"min_value": 1})
    deferred_opening: Credits
    purchased: Credits = pa.Field(ge=0)
    # a draw is >= 0, but the draw that empties a slice received by transfer carries the
    # value moved less what was drawn, which can be a micro-unit below 0 (README, revenue)
    transferred_in_value: Credits
    transferred_out_value: Credits
    recognised: Credits
    breakage: Credits
    voided_value: Credits
    deferred_closing: Credits

    @pa.dataframe_check(name="deferred_closing_is_opening_plus_flows")
    def conserved(cls, data: pa.PolarsData) -> pl.LazyFrame:  # noqa: N805
        c = pl.col
        moved = (
            c("deferred_opening")
            + c("purchased")
            + c("transferred_in_value")
            - c("transferred_out_value")
            - c("recognised")
            - c("breakage")
            - c("voided_value")
        )
        return data.lazyframe.select(moved == c("deferred_closing"))

    key_unique_and_sorted = key_sorted("revenue")

    class Config:
        strict = True


class RevenueEntries(pa.DataFrameModel):
    """The value (SPEC §9) of each ledger entry that touches a slice, signed like its
    credits: + puts value into a slice, - draws it."""

    account_id: str = pa.Field(str_length={"min_value": 1})
    grant_id: str = pa.Field(str_length={"min_value": 1})
    currency: str = pa.Field(str_length={"min_value": 1})
    cost_currency: str = pa.Field(str_length={"min_value": 1})
    entry_type: str = pa.Field(
        isin=[
            "grant",
            "transfer_in",
            "transfer_out",
            "consume",
            "expire",
            "void",
            "rollover_out",
            "rollover_in",
        ]
    )
    product_code: str = pa.Field(nullable=True)
    ref: str = pa.Field(nullable=True)
    credits: Credits
    unit_cost: Credits = pa.Field(ge=0)
    value: Credits
    value_remaining: Credits
    entry_order: pl.Int32 = pa.Field(ge=1)

    class Config:
        strict = True
        unique = key("revenue_entries")


class Restatements(pa.DataFrameModel):
    """One row per account and currency whose day changed when a run republished it."""

    run_id: str = pa.Field(str_length={"min_value": 1})
    previous_run_id: str = pa.Field(nullable=True)
    account_id: str = pa.Field(str_length={"min_value": 1})
    currency: str = pa.Field(str_length={"min_value": 1})
    reason: str = pa.Field(isin=["inputs_changed", "config_changed", "cascade"])
    consumed_before: Credits = pa.Field(nullable=True)
    consumed_after: Credits = pa.Field(nullable=True)
    overdraft_before: Credits = pa.Field(nullable=True)
    overdraft_after: Credits = pa.Field(nullable=True)
    available_before: Credits = pa.Field(nullable=True)
    available_after: Credits = pa.Field(nullable=True)

    class Config:
        strict = True
        unique = key("restatements")


OUTPUT_MODELS: dict[str, type[pa.DataFrameModel]] = {
    "usage_daily": UsageDaily,
    "usage_by_user_daily": UsageByUserDaily,
    "charges": Charges,
    "quarantine": Quarantine,
    "_state/subjects": SubjectsState,
    "runs": Runs,
    "credit_ledger": CreditLedger,
    "balances": Balances,
    "forecast": Forecast,
    "alerts": Alerts,
    "topups": Topups,
    "_state/grants": GrantSlices,
    "revenue": Revenue,
    "revenue_entries": RevenueEntries,
    "restatements": Restatements,
    "statements": Statements,
    "corrections": Corrections,
}


def usage_event_rejections(
    frame: pl.DataFrame,
    day: date,
    user_meters: set[tuple[str, str]],
    resource_meters: set[tuple[str, str]],
) -> pl.Series:
    """Per row, whether ``UsageEvent``, the partition-day rule or a plan-dependent rule
    rejects it. Used by tests and ad-hoc checks of a Polars frame; the job runs the SQL."""
    try:
        UsageEvent.validate(frame, lazy=True)
        failed_rows: list[int] = []
    except pa.errors.SchemaErrors as exc:
        failed_rows = exc.failure_cases["index"].drop_nulls().cast(pl.Int64).to_list()
    start = datetime.combine(day, time())
    pair = pl.concat_str([pl.col("product_code"), pl.col("meter")], separator="\x1f")
    keys = lambda pairs: ["\x1f".join(p) for p in pairs]  # noqa: E731
    rejected = frame.select(
        pl.int_range(pl.len()).is_in(failed_rows)
        | pl.col("ts").is_null()
        | (pl.col("ts") < start)
        | (pl.col("ts") >= start + timedelta(days=1))
        | (pair.is_in(keys(user_meters)) & ~_non_empty("user_id"))
        | (pair.is_in(keys(resource_meters)) & ~_non_empty("resource_id"))
    )
    return rejected.to_series().fill_null(True).alias("rejected")
