"""The uniqueness check of the subjects state: strict key order, not a hash of every row."""

from __future__ import annotations

from datetime import date

import pandera.errors
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flexbatch.schemas import SubjectsState


def _subjects(rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "plan_id": ["P"] * len(rows),
            "period_start": [date(2026, 1, 1)] * len(rows),
            "account_id": [r[0] for r in rows],
            "threshold_key": [""] * len(rows),
            "subject_scope": [r[1] for r in rows],
            "subject_id": [r[2] for r in rows],
        }
    )


def test_sorted_unique_subjects_pass():
    SubjectsState.validate(_subjects([("a", "s1", "u1"), ("a", "s1", "u2"), ("b", "", "u1")]))


@pytest.mark.parametrize(
    "rows",
    [
        [("a", "s1", "u1"), ("a", "s1", "u1")],  # a repeated key
        [("b", "", "u1"), ("a", "s1", "u1")],  # out of key order
        [("a", "s2", "u1"), ("a", "s1", "u9")],  # order decided by a later column
    ],
    ids=["duplicate", "unsorted", "unsorted-later-column"],
)
def test_duplicate_or_unsorted_subjects_fail(rows):
    with pytest.raises(pandera.errors.SchemaError):
        SubjectsState.validate(_subjects(rows))


def test_forecast_key_is_checked_the_same_way():
    from decimal import Decimal

    from flexbatch.schemas import Forecast

    def forecast(accounts: list[str], projected=(9, 6, 3)) -> pl.DataFrame:
        n = len(accounts)
        return pl.DataFrame(
            {
                "account_id": accounts,
                "currency": ["flex_credit"] * n,
                "burn_rate": [Decimal("0.100000")] * n,
                "depletion_date": [None] * n,
                **{
                    f"projected_available_{days}d": [Decimal(value)] * n
                    for days, value in zip((30, 60, 90), projected, strict=True)
                },
            },
            schema_overrides={
                "burn_rate": pl.Decimal(38, 6),
                "depletion_date": pl.Date,
                **{f"projected_available_{d}d": pl.Decimal(38, 6) for d in (30, 60, 90)},
            },
        )

    Forecast.validate(forecast(["a", "b", "c"]))
    Forecast.validate(forecast(["a"], projected=(5, 5, -1)))  # flat, then below zero
    for bad in (["a", "a"], ["b", "a"]):
        with pytest.raises(pandera.errors.SchemaError):
            Forecast.validate(forecast(bad))
    with pytest.raises(pandera.errors.SchemaError, match="projection_never_rises"):
        Forecast.validate(forecast(["a"], projected=(5, 6, 4)))


def test_every_model_enforces_its_tables_registry_key():
    from flexbatch.schemas import OUTPUT_MODELS
    from flexbatch.tables import TABLES

    for spec in TABLES:
        schema = OUTPUT_MODELS[spec.path].to_schema()
        checks = {c.name for c in schema.checks}
        if not spec.key:
            assert schema.unique is None, spec.name
        elif schema.unique is None:  # strict key order: the files are sorted by the key
            assert spec.key_order == spec.key and "key_unique_and_sorted" in checks, spec.name
        else:
            assert schema.unique == list(spec.key), spec.name


def _alerts(rows: list[tuple[str, str, str | None]]) -> pl.DataFrame:
    from decimal import Decimal

    return pl.DataFrame(
        {
            "account_id": [r[0] for r in rows],
            "kind": [r[1] for r in rows],
            "severity": ["warning"] * len(rows),
            "message": ["plan P: 3 users in the period, limit 2"] * len(rows),
            "amount": [Decimal(3)] * len(rows),
            "ref": [r[2] for r in rows],
        },
        schema_overrides={"amount": pl.Decimal(38, 6), "ref": pl.String},
    )


def test_alerts_one_per_account_kind_and_ref():
    from flexbatch.schemas import Alerts

    Alerts.validate(_alerts([("a", "user_limit_exceeded", "P"), ("a", "user_limit_exceeded", "Q")]))
    Alerts.validate(_alerts([("a", "low_balance", "flex"), ("a", "overdraft", "flex")]))
    # published in key order (account_id, kind, ref), nulls last like the files
    Alerts.validate(_alerts([("a", "transfer_rejected", "t1"), ("a", "transfer_rejected", None)]))
    for bad in (
        [("a", "overdraft", "flex"), ("a", "low_balance", "flex")],  # out of key order
        [("a", "transfer_rejected", None), ("a", "transfer_rejected", "t1")],  # null first
        [("a", "transfer_rejected", None), ("a", "transfer_rejected", None)],  # a null twice
    ):
        with pytest.raises(pandera.errors.SchemaError, match="key_unique_and_sorted"):
            Alerts.validate(_alerts(bad))
    # two rows of one condition (an hour plan's 24 periods, or two scopes of a
    # threshold_scope = "scope" plan, each raising user_limit_exceeded for plan P) would
    # publish in an arbitrary order: the model refuses them
    with pytest.raises(pandera.errors.SchemaError, match="unique"):
        Alerts.validate(
            _alerts([("a", "user_limit_exceeded", "P"), ("a", "user_limit_exceeded", "P")])
        )


def test_usage_by_user_daily_key_is_checked_as_strict_order():
    from decimal import Decimal

    from flexbatch.schemas import UsageByUserDaily

    def users(ids: list[str]) -> pl.DataFrame:
        n = len(ids)
        return pl.DataFrame(
            {
                "account_id": ["a"] * n,
                "scope_id": ["s"] * n,
                "product_code": ["ADH"] * n,
                "meter": ["m"] * n,
                "user_id": ids,
                "events": [1] * n,
                "quantity_sum": [Decimal(1)] * n,
            },
            schema_overrides={"quantity_sum": pl.Decimal(38, 6)},
        )

    UsageByUserDaily.validate(users(["u1", "u2"]))
    for bad in (["u1", "u1"], ["u2", "u1"]):
        with pytest.raises(pandera.errors.SchemaError, match="key_unique_and_sorted"):
            UsageByUserDaily.validate(users(bad))


_KEY_PART = st.one_of(st.none(), st.sampled_from(["", "a", "b", "é"]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_KEY_PART, _KEY_PART), max_size=8))
def test_strictly_ascending_is_strict_key_order_with_nulls_last(rows):
    # counted here in Python: each row must sort strictly after the one before it,
    # comparing (is null, value) per column, which puts nulls last and ties two nulls
    from flexbatch.schemas import strictly_ascending

    def rank(row: tuple[str | None, str | None]) -> tuple:
        return tuple((v is None, v or "") for v in row)

    expected = [i == 0 or rank(rows[i - 1]) < rank(rows[i]) for i in range(len(rows))]
    frame = pl.DataFrame(rows, schema=["k1", "k2"], orient="row")
    got = frame.select(strictly_ascending(["k1", "k2"])).to_series().to_list()
    assert got == expected


def test_every_key_sorted_models_table_is_published_in_key_order():
    # a model checks its key as strict order only where the registry publishes the table
    # sorted by exactly that key and the writer sorts it (sql_steps.sorted_lazy)
    from flexbatch.schemas import OUTPUT_MODELS
    from flexbatch.tables import TABLES

    key_sorted = set()
    for spec in TABLES:
        checks = {c.name for c in OUTPUT_MODELS[spec.path].to_schema().checks}
        if "key_unique_and_sorted" in checks:
            assert spec.key_order == spec.key and spec.producer in ("charging", "ledger")
            key_sorted.add(spec.name)
    assert {"usage_daily", "charges", "balances", "alerts", "grant_state"} <= key_sorted
