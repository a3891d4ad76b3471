"""``--engine spark`` gives exactly the rows ``--engine duckdb`` gives, in every table.

Spark runs in local mode with 2 threads (one JVM for the whole module). The tests skip
when pyspark or Java is missing and CI is unset, and fail when CI is set: CI installs both.
"""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from polars.testing import assert_frame_equal

from random_inputs import DAYS, event_rows, write_event_rows

SAMPLE = Path(__file__).resolve().parent.parent / "data"
# every partition-keyed table the job writes, including its state
TABLES = (
    "usage_daily",
    "usage_by_user_daily",
    "charges",
    "quarantine",
    "credit_ledger",
    "balances",
    "forecast",
    "alerts",
    "runs",
    "_state/subjects",
    "_state/grants",
)
RUN_VARIES = ("run_id", "started_at", "finished_at")  # when and as what a run ran


def _need_spark() -> None:
    missing = None
    try:
        import pyspark  # noqa: F401
    except ImportError:
        missing = "pyspark is not installed (pip install -e '.[spark]')"
    if missing is None and shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        missing = "no Java runtime for Spark"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)


@pytest.fixture(scope="module", autouse=True)
def spark_local():
    _need_spark()
    previous = os.environ.get("FLEXBATCH_SPARK_MASTER")
    os.environ["FLEXBATCH_SPARK_MASTER"] = "local[2]"
    yield
    if previous is None:
        os.environ.pop("FLEXBATCH_SPARK_MASTER", None)
    else:
        os.environ["FLEXBATCH_SPARK_MASTER"] = previous


def _table(out: Path, table: str, ignore: tuple[str, ...] = ()) -> pl.DataFrame:
    """All partitions of ``table`` with their key column but the ``ignore``d columns, in a
    canonical row order."""
    files = sorted((out / table).glob("*=*/*.parquet"))
    frames = [
        pl.read_parquet(f).with_columns(pl.lit(f.parent.name.split("=", 1)[1]).alias("_part"))
        for f in files
    ]
    if not frames:
        return pl.DataFrame()
    frame = pl.concat(frames, how="vertical")
    if table == "runs":
        frame = frame.drop(*RUN_VARIES)
    frame = frame.drop(ignore, strict=False)
    return frame.sort(frame.columns, nulls_last=True)


def assert_same_output(duck: Path, spark: Path, ignore: tuple[str, ...] = ()) -> dict[str, int]:
    """Every table equal row for row, type for type (but ``ignore``d columns); returns
    rows per table."""
    rows = {}
    for table in TABLES:
        left, right = (_table(out, table, ignore) for out in (duck, spark))
        try:
            assert_frame_equal(left, right, check_exact=True, check_dtypes=True)
        except AssertionError as exc:
            raise AssertionError(f"{table}: {exc}") from None
        rows[table] = left.height
    return rows


def _backfill(flexbatch, inp: Path, out: Path, start: date, end: date, engine: str) -> None:
    result = flexbatch(
        "backfill",
        "--from",
        str(start),
        "--to",
        str(end),
        "--input",
        str(inp),
        "--output",
        str(out),
        "--engine",
        engine,
    )
    assert result.exit_code == 0, result.stderr


def test_transpiled_hash_is_64_bit():
    from flexbatch.spark_engine import spark_sql

    # the dedupe pre-check's hash() must not become Spark's 32-bit hash()
    assert "XXHASH64(EVENT_ID)" in spark_sql("select hash(event_id) from t").upper()


@pytest.mark.parametrize(
    ("start", "end", "quarantined"),
    [
        # an empty account id, a negative quantity, three duplicated event ids
        (date(2026, 9, 8), date(2026, 9, 10), 2),
        # a month end, the cloud_credit grant expiring on 10-01, a day without usage
        # (10-04), every algorithm (missing user/resource ids: the random inputs below)
        (date(2026, 9, 30), date(2026, 10, 4), 0),
    ],
)
def test_sample_backfill_equals_duckdb(tmp_path, flexbatch, start, end, quarantined):
    _backfill(flexbatch, SAMPLE, tmp_path / "duck", start, end, "duckdb")
    _backfill(flexbatch, SAMPLE, tmp_path / "spark", start, end, "spark")
    rows = assert_same_output(tmp_path / "duck", tmp_path / "spark")
    # the comparison compared something: every table has rows, the quarantine the
    # planted faults of the window
    assert rows.pop("quarantine") == quarantined
    assert all(n > 0 for n in rows.values()), rows
    assert _table(tmp_path / "spark", "runs").height == (end - start).days + 1


def test_nightly_run_on_spark_continues_duckdb_state(tmp_path, flexbatch):
    """A day run on Spark after days run on DuckDB reads the same state: a mixed history
    equals a DuckDB-only one (so a deployment can switch engines between nights)."""
    duck, mixed = tmp_path / "duck", tmp_path / "mixed"
    start, end = date(2026, 10, 14), date(2026, 10, 16)  # the price change of 10-15
    _backfill(flexbatch, SAMPLE, duck, start, end, "duckdb")
    _backfill(flexbatch, SAMPLE, mixed, start, date(2026, 10, 14), "duckdb")
    for day in ("2026-10-15", "2026-10-16"):
        result = flexbatch(
            "run", "--date", day, "--input", str(SAMPLE), "--output", str(mixed),
            "--engine", "spark",
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
    assert_same_output(duck, mixed, ignore=("command",))  # run, not backfill


@settings(
    max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=event_rows)
def test_random_inputs_equal_duckdb(tmp_path_factory, flexbatch, rows):
    root = tmp_path_factory.mktemp("case")
    write_event_rows(root / "in", rows)
    _backfill(flexbatch, root / "in", root / "duck", DAYS[0], DAYS[-1], "duckdb")
    _backfill(flexbatch, root / "in", root / "spark", DAYS[0], DAYS[-1], "spark")
    assert_same_output(root / "duck", root / "spark")
