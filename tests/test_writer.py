"""The day writer (``job/writer.py``): tables sorted in Python and tables DuckDB sorted
into a scratch file publish the same bytes, and a table that breaks its model is never
written, whichever way it came."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from pandera.errors import SchemaError

from flexbatch.job.writer import DayWriter
from flexbatch.transform import sql_steps

from helpers import copy_sample

SPAN = [date(2026, 9, 1), date(2026, 9, 2)]


def _published(out: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob("part-0.parquet"))
        # the books' statements carry the run that wrote them
        if not p.relative_to(out).parts[0].startswith("_days")
        and p.relative_to(out).parts[0] != "statements"
    }


def test_tables_sorted_by_duckdb_into_a_file_publish_the_same_bytes(
    flexbatch, tmp_path, monkeypatch
):
    inp = copy_sample(tmp_path / "in", SPAN)
    args = ["backfill", "--from", "2026-09-01", "--to", "2026-09-02", "--input", str(inp)]
    assert flexbatch(*args, "--output", str(tmp_path / "held")).exit_code == 0
    # past the limit every non-empty table is sorted by DuckDB into a scratch file and
    # streamed from it into the table's file
    monkeypatch.setattr(sql_steps, "POLARS_SORT_MAX_ROWS", 0)
    assert flexbatch(*args, "--output", str(tmp_path / "streamed")).exit_code == 0
    held, streamed = _published(tmp_path / "held"), _published(tmp_path / "streamed")
    assert any(name.startswith("_state/subjects/") for name in held)
    assert held.keys() == streamed.keys()
    assert [name for name in held if held[name] != streamed[name]] == []
    assert not (tmp_path / "streamed" / "_staging").exists()  # scratch files went with it


class _Stage:
    def __init__(self) -> None:
        self.added: list[str] = []

    def add(self, table_path: str, frame: object) -> None:
        self.added.append(table_path)


@pytest.mark.parametrize("streamed", [False, True])
def test_a_table_that_breaks_its_model_is_not_written(tmp_path, streamed):
    # two rows with the same subject key: the state must be unique and in key order
    row = {
        "plan_id": "p",
        "period_start": date(2026, 9, 1),
        "account_id": "a",
        "threshold_key": "",
        "subject_scope": "",
        "subject_id": "u1",
    }
    frame = pl.DataFrame([row, row])
    path = tmp_path / "subjects.parquet"
    frame.write_parquet(path)
    stage = _Stage()
    with (
        pytest.raises(SchemaError, match="key_unique_and_sorted"),
        DayWriter(stage) as writer,  # type: ignore[arg-type]
    ):
        writer.add("_state/subjects", path if streamed else frame)
        writer.finish()
    assert stage.added == []


def _usage_daily(rows: list[tuple[str, int]]) -> pl.DataFrame:
    from decimal import Decimal

    return pl.DataFrame(
        {
            "account_id": [r[0] for r in rows],
            "scope_id": ["s"] * len(rows),
            "product_code": ["ADH"] * len(rows),
            "meter": ["m"] * len(rows),
            "events": [r[1] for r in rows],
            "unique_users": [0] * len(rows),
            "unique_resources": [0] * len(rows),
            "quantity_sum": [Decimal(1)] * len(rows),
            "quantity_max": [Decimal(1)] * len(rows),
        },
        schema_overrides={"quantity_sum": pl.Decimal(38, 6), "quantity_max": pl.Decimal(38, 6)},
    )


@pytest.mark.parametrize(
    ("rows", "check"),
    [
        ([("a", 1), ("a", 1)], "key_unique_and_sorted"),  # one key twice
        ([("b", 1), ("a", 1)], "key_unique_and_sorted"),  # not in key order
        ([("a", 1), ("b", 0)], "greater_than_or_equal_to"),  # a row with no events
    ],
    ids=["duplicate", "unsorted", "row-check"],
)
def test_a_charging_table_that_breaks_its_model_fails_the_day(rows, check):
    # usage_daily's key is checked as strict key order (no hash of every row): a broken
    # key or row still stops the writer with Pandera's SchemaError, and nothing is written
    stage = _Stage()
    with pytest.raises(SchemaError, match=check), DayWriter(stage) as writer:  # type: ignore[arg-type]
        writer.add("usage_daily", _usage_daily(rows).lazy())
        writer.finish()
    assert stage.added == []
