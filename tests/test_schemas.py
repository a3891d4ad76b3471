"""The uniqueness check of the subjects state: strict key order, not a hash of every row."""

from __future__ import annotations

from datetime import date

import pandera.errors
import polars as pl
import pytest

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
