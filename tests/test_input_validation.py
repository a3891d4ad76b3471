"""Usage input validation (SPEC §3.1, §2 exit codes, §5 quarantine and runs).

Every expected value here is computed by hand from the few rows each test writes.
The README fixes what the spec left open: the quarantine reasons and their order, the
dedupe rule (first by ``ts``, independent of file order), which algorithms need a
``user_id``/``resource_id`` and ``source_file`` relative to ``IN``.
"""

from __future__ import annotations

import math
import tempfile
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flexbatch.config import Paths
from flexbatch.errors import InputSchemaError
from flexbatch.job import pipeline
from flexbatch.schemas import usage_event_rejections

from helpers import USAGE_SCHEMA, plan_toml, read_table, write_plans, write_usage

DAY = "2026-01-05"
D = date(2026, 1, 5)
SOURCE = f"usage/date={DAY}/part-0.parquet"

# A fixed small plan set: one resource-counting plan, one user-counting plan, one sum
# plan (needs neither id). Day billing periods keep every day independent.
PLANS = (
    plan_toml(
        "RES",
        algorithm="daily_unique_resources",
        chargeable="resource",
        product="ADH",
        meter="streams_accessed",
        tiers="[ { above = 0, price = 0 }, { above = 1, price = 0.5 } ]",
    )
    + plan_toml(
        "USR",
        algorithm="unique_users",
        chargeable="user",
        product="DES",
        meter="app_day",
        tiers="[ { above = 0, price = 1.5 } ]",
    )
    + plan_toml(
        "SUM",
        algorithm="sum",
        chargeable="resource",
        product="ADH",
        meter="storage_gb",
        tiers="[ { above = 0, price = 0.25 } ]",
    )
)
USER_METERS = {("DES", "app_day")}
RESOURCE_METERS = {("ADH", "streams_accessed")}

COLUMNS = [field.name for field in USAGE_SCHEMA]
POLARS_SCHEMA = {
    "event_id": pl.String,
    "ts": pl.Datetime("us"),
    "account_id": pl.String,
    "scope_id": pl.String,
    "product_code": pl.String,
    "meter": pl.String,
    "user_id": pl.String,
    "resource_id": pl.String,
    "quantity": pl.Float64,
}


def row(**overrides: object) -> dict:
    """One usage row of DAY: a valid ADH streams_accessed event unless overridden."""
    base = {
        "event_id": "bad",
        "ts": datetime(2026, 1, 5, 12, 0, 0),
        "account_id": "acme",
        "scope_id": "ns-2",
        "product_code": "ADH",
        "meter": "streams_accessed",
        "user_id": None,
        "resource_id": "r9",
        "quantity": None,
    }
    unknown = set(overrides) - set(base)
    assert not unknown, unknown
    return {**base, **overrides}


GOOD = row(event_id="good", scope_id="ns-1", resource_id="r1", ts=datetime(2026, 1, 5, 10))


def run_day(flexbatch, inp: Path, out: Path, day: str = DAY):
    return flexbatch("run", "--date", day, "--input", str(inp), "--output", str(out))


def runs_counts(out: Path, day: date = D) -> tuple[int, int, int, int]:
    runs = read_table(out, "runs").filter(pl.col("date") == day)
    assert runs.height == 1, runs
    r = runs.row(0, named=True)
    assert r["rows_read"] == r["rows_accepted"] + r["rows_quarantined"] + r["duplicates"]
    return r["rows_read"], r["rows_accepted"], r["rows_quarantined"], r["duplicates"]


def usage_rows(out: Path) -> list[tuple]:
    usage = read_table(out, "usage_daily")
    if usage.is_empty():
        return []
    usage = usage.sort("account_id", "scope_id", "product_code", "meter")
    cols = [
        "date",
        "account_id",
        "scope_id",
        "product_code",
        "meter",
        "events",
        "unique_users",
        "unique_resources",
        "quantity_sum",
        "quantity_max",
    ]
    return [tuple(r[c] for c in cols) for r in usage.iter_rows(named=True)]


def parquet_files(out: Path) -> list[Path]:
    return sorted(out.rglob("*.parquet")) if out.exists() else []


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


# --- one test per quarantine reason -----------------------------------------------------

INF = float("inf")
REASON_CASES = [
    ("event_id_empty", row(event_id="")),
    ("event_id_empty", row(event_id=None)),
    ("ts_missing", row(ts=None)),
    ("ts_outside_partition_day", row(ts=datetime(2026, 1, 6, 0, 0, 0))),  # day_end excluded
    ("ts_outside_partition_day", row(ts=datetime(2026, 1, 4, 23, 59, 59, 999999))),
    ("account_id_empty", row(account_id="")),
    ("account_id_empty", row(account_id=None)),
    ("account_id_too_long", row(account_id="a" * 129)),
    ("scope_id_empty", row(scope_id="")),
    ("scope_id_empty", row(scope_id=None)),
    ("product_code_empty", row(product_code="")),
    ("product_code_empty", row(product_code=None)),
    ("meter_empty", row(meter="")),
    ("meter_empty", row(meter=None)),
    ("quantity_not_finite", row(quantity=float("nan"))),
    ("quantity_not_finite", row(quantity=INF)),
    ("quantity_not_finite", row(quantity=-INF)),
    ("quantity_negative", row(quantity=-0.5)),
    (
        "user_id_missing_for_user_plan",
        row(product_code="DES", meter="app_day", user_id="", resource_id=None),
    ),
    (
        "user_id_missing_for_user_plan",
        row(product_code="DES", meter="app_day", user_id=None, resource_id="r9"),
    ),
    ("resource_id_missing_for_resource_plan", row(resource_id=None, user_id="u1")),
    ("resource_id_missing_for_resource_plan", row(resource_id="")),
]


def _case_id(case: tuple[str, dict]) -> str:
    reason, bad = case
    changed = [k for k in COLUMNS if bad[k] != row()[k] and k != "event_id"] or ["event_id"]
    value = bad[changed[0]]
    shown = value if not isinstance(value, str) or len(value) < 10 else f"{len(value)}chars"
    return f"{reason}-{changed[0]}={shown!r}"


@pytest.mark.parametrize(("reason", "bad"), REASON_CASES, ids=map(_case_id, REASON_CASES))
def test_each_quarantine_reason(tmp_path, flexbatch, reason, bad):
    inp, out = tmp_path / "in", tmp_path / "out"
    write_plans(inp, PLANS)
    write_usage(inp, DAY, [GOOD, bad])

    result = run_day(flexbatch, inp, out)

    assert result.exit_code == 0, result.stderr  # quarantined rows do not fail a run
    quarantine = read_table(out, "quarantine")
    assert quarantine.height == 1, quarantine
    q = quarantine.row(0, named=True)
    assert q["reason"] == reason
    assert q["source_file"] == SOURCE
    assert q["date"] == D
    # the input columns are kept as they were read
    for column in ("event_id", "account_id", "scope_id", "product_code", "meter", "user_id"):
        assert q[column] == bad[column], column
    assert q["resource_id"] == bad["resource_id"]
    assert q["ts"] == bad["ts"]
    if bad["quantity"] is not None and math.isnan(bad["quantity"]):
        assert math.isnan(q["quantity"])
    else:
        assert q["quantity"] == bad["quantity"]

    # the good row is counted, priced at the first (free) tier
    assert usage_rows(out) == [
        (D, "acme", "ns-1", "ADH", "streams_accessed", 1, 0, 1, Decimal(1), Decimal(1))
    ]
    assert runs_counts(out) == (2, 1, 1, 0)


# A row that breaks several rules is reported with the first one, in the README order.
FIRST_RULE_CASES = [
    ("event_id_empty", row(event_id="", ts=None, quantity=-1.0)),
    ("ts_missing", row(ts=None, account_id="", meter="")),
    ("ts_outside_partition_day", row(ts=datetime(2026, 1, 7), account_id="")),
    ("account_id_empty", row(account_id="", scope_id="", quantity=float("nan"))),
    ("account_id_too_long", row(account_id="x" * 200, scope_id="")),
    ("scope_id_empty", row(scope_id="", product_code="")),
    ("product_code_empty", row(product_code="", meter="")),
    ("meter_empty", row(meter="", quantity=INF)),
    ("quantity_not_finite", row(quantity=float("nan"), resource_id=None)),
    ("quantity_negative", row(quantity=-2.0, resource_id=None)),
    (
        "user_id_missing_for_user_plan",
        row(product_code="DES", meter="app_day", user_id=None, resource_id=None),
    ),
]


@pytest.mark.parametrize(("reason", "bad"), FIRST_RULE_CASES, ids=[c[0] for c in FIRST_RULE_CASES])
def test_first_broken_rule_is_the_reason(tmp_path, flexbatch, reason, bad):
    inp, out = tmp_path / "in", tmp_path / "out"
    write_plans(inp, PLANS)
    write_usage(inp, DAY, [GOOD, bad])

    result = run_day(flexbatch, inp, out)

    assert result.exit_code == 0, result.stderr
    assert read_table(out, "quarantine")["reason"].to_list() == [reason]
    assert runs_counts(out) == (2, 1, 1, 0)


def test_boundary_values_are_accepted(tmp_path, flexbatch):
    """The edges of each rule that are still valid: day start and last microsecond, 128
    characters, quantity 0 and null (= 1), ids not needed by sum plans or unpriced meters."""
    inp, out = tmp_path / "in", tmp_path / "out"
    write_plans(inp, PLANS)
    long_account = "a" * 128
    rows = [
        row(event_id="start", ts=datetime(2026, 1, 5), scope_id="ns-1", resource_id="r1"),
        row(
            event_id="end",
            ts=datetime(2026, 1, 5, 23, 59, 59, 999999),
            scope_id="ns-1",
            resource_id="r2",
            quantity=0.0,
        ),
        row(event_id="long", account_id=long_account, scope_id="ns-1", resource_id="r1"),
        row(event_id="sum1", scope_id="ns-1", meter="storage_gb", resource_id=None),
        row(event_id="sum2", scope_id="ns-1", meter="storage_gb", resource_id="", quantity=2.5),
        row(event_id="other", scope_id="ns-1", meter="other_meter", resource_id=None),
        row(
            event_id="user",
            scope_id="ns-1",
            product_code="DES",
            meter="app_day",
            user_id="u1",
            resource_id=None,
        ),
    ]
    write_usage(inp, DAY, rows)

    result = run_day(flexbatch, inp, out)

    assert result.exit_code == 0, result.stderr
    assert read_table(out, "quarantine").height == 0
    assert runs_counts(out) == (7, 7, 0, 0)
    one = Decimal(1)
    assert usage_rows(out) == [
        (D, long_account, "ns-1", "ADH", "streams_accessed", 1, 0, 1, one, one),
        (D, "acme", "ns-1", "ADH", "other_meter", 1, 0, 0, one, one),
        (D, "acme", "ns-1", "ADH", "storage_gb", 2, 0, 0, Decimal("3.5"), Decimal("2.5")),
        # quantity null counts 1, quantity 0 counts 0
        (D, "acme", "ns-1", "ADH", "streams_accessed", 2, 0, 2, one, one),
        (D, "acme", "ns-1", "DES", "app_day", 1, 1, 0, one, one),
    ]
    charges = read_table(out, "charges").sort("account_id", "plan_id", "tier")
    got = [
        (r["account_id"], r["plan_id"], r["tier"], r["units"], r["credits"])
        for r in charges.iter_rows(named=True)
    ]
    assert got == [
        (long_account, "RES", 1, one, Decimal(0)),
        ("acme", "RES", 1, one, Decimal(0)),  # 2 distinct streams: 1 free, 1 at 0.5
        ("acme", "RES", 2, one, Decimal("0.5")),
        ("acme", "SUM", 1, Decimal("3.5"), Decimal("0.875")),  # 3.5 GB x 0.25
        ("acme", "USR", 1, one, Decimal("1.5")),
    ]


def test_huge_finite_quantity_does_not_crash_the_day(tmp_path, flexbatch):
    """1e308 is finite and >= 0 but does not fit DECIMAL(38, 6): one such row must not
    fail the night with exit 1; it belongs in quarantine (a row is never dropped)."""
    inp, out = tmp_path / "in", tmp_path / "out"
    write_plans(inp, PLANS)
    huge = row(meter="storage_gb", resource_id=None, quantity=1e308)
    write_usage(inp, DAY, [GOOD, huge])

    result = run_day(flexbatch, inp, out)

    assert result.exit_code == 0, result.stderr
    quarantine = read_table(out, "quarantine")
    assert quarantine["event_id"].to_list() == ["bad"]
    assert quarantine["reason"].to_list()[0].startswith("quantity_")
    assert runs_counts(out) == (2, 1, 1, 0)


def test_nan_beside_zeros_is_quarantined(tmp_path, flexbatch):
    """Parquet min/max statistics leave NaN out: a file whose other quantities are all
    -0.0 / 0.0 once made DuckDB fold isnan(quantity) to false, accept the NaN row and
    fail the night on its DECIMAL cast (found by test_sql_quarantine_equals_pandera_rules)."""
    inp, out = tmp_path / "in", tmp_path / "out"
    write_plans(inp, PLANS)
    nan_row = row(meter="storage_gb", resource_id=None, quantity=math.nan)
    zero = row(event_id="zero", meter="storage_gb", resource_id=None, quantity=-0.0)
    write_usage(inp, DAY, [nan_row, zero])

    result = run_day(flexbatch, inp, out)

    assert result.exit_code == 0, result.stderr
    quarantine = read_table(out, "quarantine")
    assert quarantine["reason"].to_list() == ["quantity_not_finite"]
    assert runs_counts(out) == (2, 1, 1, 0)


# --- duplicates ---------------------------------------------------------------------


def _dup_outputs(root: Path, flexbatch, files: dict[str, list[dict]]):
    inp, out = root / "in", root / "out"
    write_plans(inp, PLANS)
    for name, rows in files.items():
        write_usage(inp, DAY, rows, name=name)
    result = run_day(flexbatch, inp, out)
    assert result.exit_code == 0, result.stderr
    charges = read_table(out, "charges").drop("date").sort("account_id", "plan_id", "tier")
    return usage_rows(out), charges, runs_counts(out), read_table(out, "quarantine")


def test_duplicate_event_id_keeps_the_earliest_whatever_the_file_names(tmp_path, flexbatch):
    late = row(event_id="d1", ts=datetime(2026, 1, 5, 10), meter="storage_gb", quantity=7.0)
    early = row(event_id="d1", ts=datetime(2026, 1, 5, 9), meter="storage_gb", quantity=3.0)
    other = row(event_id="u1", ts=datetime(2026, 1, 5, 11), meter="storage_gb", quantity=1.0)

    first = _dup_outputs(
        tmp_path / "a", flexbatch, {"a.parquet": [late, other], "b.parquet": [early]}
    )
    swapped = _dup_outputs(
        tmp_path / "b", flexbatch, {"a.parquet": [early], "b.parquet": [late, other]}
    )

    usage, charges, counts, quarantine = first
    # the 09:00 copy (3 GB) is kept, the 10:00 one (7 GB) is a duplicate: 3 + 1 = 4 GB
    assert usage == [
        (D, "acme", "ns-2", "ADH", "storage_gb", 2, 0, 1, Decimal(4), Decimal(3)),
    ]
    assert charges["units"].to_list() == [Decimal(4)]
    assert charges["credits"].to_list() == [Decimal("1")]  # 4 x 0.25
    assert counts == (3, 2, 0, 1)
    assert quarantine.height == 0
    assert swapped[0] == usage
    assert swapped[1].equals(charges)
    assert swapped[2] == counts


def test_duplicate_tie_on_ts_does_not_depend_on_file_order(tmp_path, flexbatch):
    """Same id, same ts, different quantity: ties are broken by the other columns, so
    swapping which file holds which copy gives byte-equal outputs."""
    x = row(event_id="t1", meter="storage_gb", quantity=3.0)
    y = row(event_id="t1", meter="storage_gb", quantity=7.0)
    first = _dup_outputs(tmp_path / "a", flexbatch, {"a.parquet": [x], "b.parquet": [y]})
    swapped = _dup_outputs(tmp_path / "b", flexbatch, {"a.parquet": [y], "b.parquet": [x]})
    assert first[0] == swapped[0]
    assert first[1].equals(swapped[1])
    assert first[2] == swapped[2] == (2, 1, 0, 1)
    assert first[0][0][8] in (Decimal(3), Decimal(7))


def test_duplicates_within_a_file_and_invalid_row_sharing_the_id(tmp_path, flexbatch):
    """Dedupe is among valid rows: an invalid copy is quarantined even if it is the
    earliest; exact copies of the kept row are duplicates too."""
    inp, out = tmp_path / "in", tmp_path / "out"
    write_plans(inp, PLANS)
    kept = row(event_id="x", ts=datetime(2026, 1, 5, 7), meter="storage_gb", quantity=2.0)
    later = row(event_id="x", ts=datetime(2026, 1, 5, 8), meter="storage_gb", quantity=5.0)
    invalid = row(event_id="x", ts=datetime(2026, 1, 5, 6), meter="storage_gb", quantity=-1.0)
    write_usage(inp, DAY, [later, kept, invalid, later, kept])

    result = run_day(flexbatch, inp, out)

    assert result.exit_code == 0, result.stderr
    assert runs_counts(out) == (5, 1, 1, 3)
    assert usage_rows(out) == [
        (D, "acme", "ns-2", "ADH", "storage_gb", 1, 0, 1, Decimal(2), Decimal(2)),
    ]
    quarantine = read_table(out, "quarantine")
    assert quarantine.select("event_id", "quantity", "reason").rows() == [
        ("x", -1.0, "quantity_negative")
    ]


def test_ids_are_deduplicated_within_a_day_only(tmp_path, flexbatch):
    inp, out = tmp_path / "in", tmp_path / "out"
    write_plans(inp, PLANS)
    write_usage(inp, "2026-01-04", [row(event_id="same", ts=datetime(2026, 1, 4, 9))])
    write_usage(inp, DAY, [row(event_id="same")])
    result = flexbatch(
        "backfill", "--from", "2026-01-04", "--to", DAY, "--input", str(inp), "--output", str(out)
    )
    assert result.exit_code == 0, result.stderr
    assert runs_counts(out, date(2026, 1, 4)) == (1, 1, 0, 0)
    assert runs_counts(out, D) == (1, 1, 0, 0)


# --- file shapes ------------------------------------------------------------------------


def test_column_order_and_extra_columns_are_read(tmp_path, flexbatch):
    inp, out = tmp_path / "in", tmp_path / "out"
    write_plans(inp, PLANS)
    write_usage(inp, DAY, [GOOD], name="a.parquet")
    reordered = pa.schema(
        [pa.field("note", pa.string()), *reversed(list(USAGE_SCHEMA)), ("extra", pa.int64())]
    )
    shuffled = row(event_id="s1", scope_id="ns-1", resource_id="r2", quantity=4.0)
    write_usage(
        inp, DAY, [{**shuffled, "note": "hello", "extra": 42}], name="b.parquet", schema=reordered
    )

    result = run_day(flexbatch, inp, out)

    assert result.exit_code == 0, result.stderr
    assert runs_counts(out) == (2, 2, 0, 0)
    assert usage_rows(out) == [
        (D, "acme", "ns-1", "ADH", "streams_accessed", 2, 0, 2, Decimal(5), Decimal(4)),
    ]
    assert "extra" not in read_table(out, "usage_daily").columns


def _ts_schema(dtype: pa.DataType) -> pa.Schema:
    return pa.schema([pa.field("ts", dtype) if f.name == "ts" else f for f in USAGE_SCHEMA])


def test_zoned_ns_and_naive_us_timestamps_on_one_day(tmp_path, flexbatch):
    inp, out = tmp_path / "in", tmp_path / "out"
    write_plans(inp, PLANS)
    naive = row(event_id="n1", ts=datetime(2026, 1, 5, 0, 30), resource_id="r1")
    write_usage(inp, DAY, [naive], name="naive.parquet")  # timestamp('us'), naive = UTC
    zoned = row(event_id="z1", ts=datetime(2026, 1, 5, 23, 30, tzinfo=UTC), resource_id="r2")
    late = row(event_id="z2", ts=datetime(2026, 1, 6, 0, 0, tzinfo=UTC), resource_id="r3")
    schema = _ts_schema(pa.timestamp("ns", tz="UTC"))
    write_usage(inp, DAY, [zoned, late], name="zoned.parquet", schema=schema)

    result = run_day(flexbatch, inp, out)

    assert result.exit_code == 0, result.stderr
    assert runs_counts(out) == (3, 2, 1, 0)
    assert usage_rows(out) == [
        (D, "acme", "ns-2", "ADH", "streams_accessed", 2, 0, 2, Decimal(2), Decimal(1)),
    ]
    quarantine = read_table(out, "quarantine")
    assert quarantine.select("event_id", "ts", "reason", "source_file").rows() == [
        ("z2", datetime(2026, 1, 6), "ts_outside_partition_day", f"usage/date={DAY}/zoned.parquet")
    ]


@pytest.mark.parametrize("zone", [None, "UTC"])
def test_nanoseconds_truncate_to_the_microsecond(tmp_path, flexbatch, zone):
    """23:59:59.999999999 is the day's last instant, not the next midnight: nanoseconds are
    truncated (a plain cast to TIMESTAMP rounds, and quarantined such events)."""
    inp, out = tmp_path / "in", tmp_path / "out"
    write_plans(inp, PLANS)
    last = datetime(2026, 1, 5, 23, 59, 59, 999999, tzinfo=UTC)
    nanos = (int(last.timestamp()) * 10**6 + last.microsecond) * 1000 + 999
    table = pa.Table.from_pylist([row(event_id="n1", ts=None, resource_id="r1")], USAGE_SCHEMA)
    table = table.set_column(1, "ts", pa.array([nanos], pa.timestamp("ns", tz=zone)))
    folder = inp / "usage" / f"date={DAY}"
    folder.mkdir(parents=True)
    pq.write_table(table, folder / "nanos.parquet")

    result = run_day(flexbatch, inp, out)

    assert result.exit_code == 0, result.stderr
    assert runs_counts(out) == (1, 1, 0, 0)
    assert read_table(out, "quarantine").height == 0


def test_non_utc_zone_is_converted_to_utc(tmp_path, flexbatch):
    """20:00Z on the 5th is 05:00 on the 6th in Tokyo (inside the UTC day 5); 20:00Z on
    the 4th is 05:00 on the 5th in Tokyo (outside it)."""
    inp, out = tmp_path / "in", tmp_path / "out"
    write_plans(inp, PLANS)
    write_usage(inp, DAY, [GOOD], name="naive.parquet")
    inside = row(event_id="k1", ts=datetime(2026, 1, 5, 20, tzinfo=UTC), resource_id="r3")
    outside = row(event_id="k2", ts=datetime(2026, 1, 4, 20, tzinfo=UTC), resource_id="r4")
    schema = _ts_schema(pa.timestamp("ms", tz="Asia/Tokyo"))
    write_usage(inp, DAY, [inside, outside], name="tokyo.parquet", schema=schema)

    result = run_day(flexbatch, inp, out)

    assert result.exit_code == 0, result.stderr
    assert runs_counts(out) == (3, 2, 1, 0)
    assert usage_rows(out) == [
        (D, "acme", "ns-1", "ADH", "streams_accessed", 1, 0, 1, Decimal(1), Decimal(1)),
        (D, "acme", "ns-2", "ADH", "streams_accessed", 1, 0, 1, Decimal(1), Decimal(1)),
    ]
    quarantine = read_table(out, "quarantine")
    assert quarantine.select("event_id", "ts", "reason", "source_file").rows() == [
        (
            "k2",
            datetime(2026, 1, 4, 20),  # stored in UTC
            "ts_outside_partition_day",
            f"usage/date={DAY}/tokyo.parquet",
        )
    ]


def test_compatible_physical_types_are_read(tmp_path, flexbatch):
    """README: null-typed nullable columns, dictionary strings, integer quantity and any
    timestamp unit are accepted."""
    inp, out = tmp_path / "in", tmp_path / "out"
    write_plans(inp, PLANS)
    table = pa.table(
        {
            "event_id": pa.array(["c1", "c2"]).dictionary_encode(),
            "ts": pa.array([datetime(2026, 1, 5, 1), datetime(2026, 1, 5, 2)], pa.timestamp("ms")),
            "account_id": pa.array(["acme", "acme"]).dictionary_encode(),
            "scope_id": ["ns-1", "ns-1"],
            "product_code": pa.array(["ADH", "ADH"], pa.large_string()),
            "meter": ["storage_gb", "storage_gb"],
            "user_id": pa.nulls(2),
            "resource_id": pa.nulls(2),
            "quantity": pa.array([2, 5], pa.int64()),
        }
    )
    folder = inp / "usage" / f"date={DAY}"
    folder.mkdir(parents=True)
    pq.write_table(table, folder / "part-0.parquet")

    result = run_day(flexbatch, inp, out)

    assert result.exit_code == 0, result.stderr
    assert runs_counts(out) == (2, 2, 0, 0)
    assert usage_rows(out) == [
        (D, "acme", "ns-1", "ADH", "storage_gb", 2, 0, 0, Decimal(7), Decimal(5)),
    ]


# --- schema errors, missing and empty partitions ---------------------------------------


def _schema_without(column: str) -> pa.Schema:
    return pa.schema([f for f in USAGE_SCHEMA if f.name != column])


def _schema_with(column: str, dtype: pa.DataType) -> pa.Schema:
    return pa.schema([pa.field(column, dtype) if f.name == column else f for f in USAGE_SCHEMA])


def _stringify(rows: list[dict], column: str) -> list[dict]:
    return [{**r, column: None if r[column] is None else str(r[column])} for r in rows]


SCHEMA_ERRORS = [
    ("meter", "missing", _schema_without("meter"), None),
    ("quantity", "missing", _schema_without("quantity"), None),
    ("user_id", "missing", _schema_without("user_id"), None),
    ("quantity", "string", _schema_with("quantity", pa.string()), "quantity"),
    ("ts", "string", _schema_with("ts", pa.string()), "ts"),
    ("ts", "date", _schema_with("ts", pa.date32()), None),
    ("account_id", "int64", _schema_with("account_id", pa.int64()), "int"),
]


@pytest.mark.parametrize(
    ("column", "problem", "schema", "convert"),
    SCHEMA_ERRORS,
    ids=[f"{c}-{p}" for c, p, _, _ in SCHEMA_ERRORS],
)
def test_schema_error_is_exit_2_and_writes_nothing(
    tmp_path, flexbatch, column, problem, schema, convert
):
    inp, out = tmp_path / "in", tmp_path / "out"
    write_plans(inp, PLANS)
    # an earlier, good day is already published and must stay as it is
    write_usage(inp, "2026-01-04", [row(event_id="prev", ts=datetime(2026, 1, 4, 9))])
    assert run_day(flexbatch, inp, out, "2026-01-04").exit_code == 0
    before = {p: p.read_bytes() for p in parquet_files(out)}

    write_usage(inp, DAY, [GOOD], name="a-good.parquet")
    bad_rows = [row(quantity=2.0)]
    if convert == "int":
        bad_rows = [{**bad_rows[0], "account_id": 7}]
    elif convert == "ts":
        bad_rows = [{**bad_rows[0], "ts": "2026-01-05T12:00:00"}]
    elif convert:
        bad_rows = _stringify(bad_rows, convert)
    elif problem == "date":
        bad_rows = [{**bad_rows[0], "ts": date(2026, 1, 5)}]
    bad_rows = [{k: v for k, v in r.items() if k in schema.names} for r in bad_rows]
    bad = write_usage(inp, DAY, bad_rows, name="b-bad.parquet", schema=schema)

    result = run_day(flexbatch, inp, out)

    assert result.exit_code == 2, (result.stdout, result.stderr)
    line = one_line(result.stderr)
    assert bad.name in line
    assert f"'{column}'" in line
    assert "fix:" in line
    assert result.stdout == ""
    # nothing of day D was written; the earlier day is untouched
    after = {p: p.read_bytes() for p in parquet_files(out)}
    assert after == before
    assert not any(f"date={DAY}" in str(p) for p in after)


def test_missing_partition_is_exit_3(tmp_path, flexbatch):
    inp, out = tmp_path / "in", tmp_path / "out"
    write_plans(inp, PLANS)
    write_usage(inp, "2026-01-04", [row(ts=datetime(2026, 1, 4, 9))])

    result = run_day(flexbatch, inp, out)

    assert result.exit_code == 3, (result.stdout, result.stderr)
    line = one_line(result.stderr)
    assert f"date={DAY}" in line
    assert parquet_files(out) == []


def test_empty_partition_folder_is_a_day_without_usage(tmp_path, flexbatch):
    inp, out = tmp_path / "in", tmp_path / "out"
    write_plans(inp, PLANS)
    (inp / "usage" / f"date={DAY}").mkdir(parents=True)

    result = run_day(flexbatch, inp, out)

    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    usage_file = out / "usage_daily" / f"date={DAY}" / "part-0.parquet"
    assert usage_file.is_file()
    assert pl.read_parquet(usage_file).height == 0
    assert read_table(out, "charges").height == 0
    assert read_table(out, "quarantine").height == 0
    assert runs_counts(out) == (0, 0, 0, 0)
    assert read_table(out, "runs")["input_files"].to_list() == [0]


def test_missing_rate_plans_is_exit_2(tmp_path, flexbatch):
    inp, out = tmp_path / "in", tmp_path / "out"
    write_usage(inp, DAY, [GOOD])

    result = run_day(flexbatch, inp, out)

    assert result.exit_code == 2, (result.stdout, result.stderr)
    line = one_line(result.stderr)
    assert "rate_plans.toml" in line
    assert "fix:" in line
    assert parquet_files(out) == []


def test_bad_rate_plan_is_exit_2_with_a_fix(tmp_path, flexbatch):
    inp, out = tmp_path / "in", tmp_path / "out"
    write_plans(
        inp, plan_toml("BAD", tiers="[ { above = 10, price = 0 }, { above = 500, price = 1 } ]")
    )
    write_usage(inp, DAY, [GOOD])

    result = run_day(flexbatch, inp, out)

    assert result.exit_code == 2, (result.stdout, result.stderr)
    line = one_line(result.stderr)
    assert "rate_plans.toml" in line
    assert "BAD" in line
    assert "tiers[0].above" in line
    assert "fix:" in line
    assert parquet_files(out) == []


# --- property: the SQL rules equal the Pandera/Polars mirror ---------------------------

DAY_START = datetime(2026, 1, 5)
US = timedelta(microseconds=1)

timestamps = st.one_of(
    st.none(),
    st.sampled_from(
        [DAY_START, DAY_START - US, DAY_START + timedelta(days=1) - US, DAY_START + timedelta(1)]
    ),
    st.datetimes(min_value=datetime(2026, 1, 3), max_value=datetime(2026, 1, 8)),
)
texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6)
account_ids = st.one_of(
    st.none(),
    st.sampled_from(["", "acme", "beta", "a" * 128, "a" * 129, "é" * 128, "é" * 129]),
    texts,
    st.text(alphabet="ab€", min_size=120, max_size=135),
)
quantities = st.one_of(
    st.none(),
    st.sampled_from([float("nan"), INF, -INF, -0.0, 0.0, -1e-9, 1.0, 2.5]),
    st.floats(min_value=-1e6, max_value=1e6),  # in DECIMAL(38, 6) range (see huge test)
)


@st.composite
def usage_frames(draw) -> list[dict]:
    n = draw(st.integers(min_value=1, max_value=8))
    rows = []
    for i in range(n):
        id_kind = draw(st.sampled_from(["id", "id", "id", "", None]))
        rows.append(
            {
                "event_id": f"ev{i}" if id_kind == "id" else id_kind,
                "ts": draw(timestamps),
                "account_id": draw(account_ids),
                "scope_id": draw(st.sampled_from([None, "", "ns-1", "ns-2", " "])),
                "product_code": draw(st.sampled_from([None, "", "ADH", "DES", "X"])),
                "meter": draw(
                    st.sampled_from([None, "", "streams_accessed", "app_day", "storage_gb", "m"])
                ),
                "user_id": draw(st.sampled_from([None, "", "u1", "u2"])),
                "resource_id": draw(st.sampled_from([None, "", "r1", "r2"])),
                "quantity": draw(quantities),
            }
        )
    return rows


def _row_key(r: dict) -> tuple:
    """A hashable identity of a row (NaN compares equal to NaN through repr)."""
    return tuple(repr(r[c]) if c == "quantity" else r[c] for c in COLUMNS)


@settings(max_examples=30, deadline=None)
@given(rows=usage_frames())
def test_sql_quarantine_equals_pandera_rules(rows):
    frame = pl.DataFrame(rows, schema=POLARS_SCHEMA)
    rejected = usage_event_rejections(frame, D, USER_METERS, RESOURCE_METERS).to_list()
    expected = Counter(_row_key(r) for r, bad in zip(rows, rejected, strict=True) if bad)

    with tempfile.TemporaryDirectory() as tmp:
        inp, out = Path(tmp) / "in", Path(tmp) / "out"
        write_plans(inp, PLANS)
        write_usage(inp, DAY, rows)
        [result] = pipeline.run(Paths(inp, out), D)
        quarantine = read_table(out, "quarantine")

    got = Counter(_row_key(r) for r in quarantine.iter_rows(named=True))
    assert got == expected
    # valid ids are unique per row here, so nothing is a duplicate
    counts = result.counts
    assert counts.rows_read == len(rows)
    assert counts.rows_quarantined == sum(rejected)
    assert counts.rows_accepted == len(rows) - sum(rejected)
    assert counts.duplicates == 0


# --- footers read as bytes (how a remote IN's files are checked) ------------------------


def test_footer_bytes_give_the_schema_the_file_gives(tmp_path):
    """A usage file on a Hadoop store is checked from its footer's bytes alone: the same
    signature as pyarrow reading the whole file, for every accepted physical type, and
    the same one-line error for a file that is not Parquet."""
    from flexbatch.ingest.usage_input import file_signature
    from flexbatch.storage.stores import LocalStore

    rows = [{c: None for c in USAGE_SCHEMA.names} | {"event_id": "e1"}]
    variants = {
        "plain": pa.Table.from_pylist(rows, schema=USAGE_SCHEMA),
        "zoned_ns": pa.Table.from_pylist(
            rows, schema=_schema_with("ts", pa.timestamp("ns", tz="UTC"))
        ),
        "zoned_us": pa.Table.from_pylist(
            rows, schema=_schema_with("ts", pa.timestamp("us", tz="UTC"))
        ),
        "null_user": pa.Table.from_pylist(rows, schema=_schema_with("user_id", pa.null())),
    }
    store = LocalStore(tmp_path)
    signatures = set()
    for name, table in variants.items():
        pq.write_table(table, tmp_path / f"{name}.parquet")
        (info,) = [f for f in store.list_files("") if f.name == f"{name}.parquet"]
        signature = file_signature(info, store)
        assert signature == file_signature(tmp_path / f"{name}.parquet")
        signatures.add(signature)
    assert len(signatures) == len(variants)  # each variant is read its own way
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not a parquet file")
    (info,) = [f for f in store.list_files("") if f.name == "bad.parquet"]
    with pytest.raises(InputSchemaError, match=r"bad.parquet: not a readable Parquet file"):
        file_signature(info, store)
