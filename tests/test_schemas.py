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

    def forecast(days: list[int]) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "account_id": ["a"] * len(days),
                "currency": ["flex_credit"] * len(days),
                "date": [date(2026, 1, d) for d in days],
                "projected_available": [Decimal("1.000000")] * len(days),
                "burn_rate": [Decimal("0.000000")] * len(days),
                "depletion_date": [None] * len(days),
            },
            schema_overrides={
                "projected_available": pl.Decimal(38, 6),
                "burn_rate": pl.Decimal(38, 6),
                "depletion_date": pl.Date,
            },
        )

    Forecast.validate(forecast([2, 3, 4]))
    for bad in ([2, 2], [3, 2]):
        with pytest.raises(pandera.errors.SchemaError):
            Forecast.validate(forecast(bad))
