"""`flexbatch export TABLE` as CSV and Parquet: UTC `Z` timestamps, exact decimals, CSV
formula injection neutralised (every OWASP leading character) while numbers keep their
sign, account and date filters. Expected values are read from the Parquet files with
polars/pyarrow or written by hand."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_catalog import demo_output, scan

from flexbatch.config import Paths
from flexbatch.errors import ConfigError
from flexbatch.job import pipeline
from flexbatch.serving.export import export_table

from helpers import event, plan_toml, write_grants, write_plans, write_usage

DAY = date(2026, 9, 1)
# One account per character OWASP lists as a formula start (TAB, CR and LF included).
INJECTIONS = ("=1+1", "+SUM(1)", "-2+3", "@cmd", "\tTAB", "\rCR", "\nLF")
Z_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z")


@pytest.fixture(scope="session")
def demo_out(tmp_path_factory) -> Path:
    return demo_output(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def tiny_out(tmp_path_factory) -> Path:
    """One day: the injection accounts, a 0.1-credit charge for acme against a grant, and
    a quarantined row with a whole-second timestamp."""
    base = tmp_path_factory.mktemp("export")
    inp, out = base / "in", base / "out"
    write_plans(
        inp,
        plan_toml(
            "P-ADH",
            algorithm="sum",
            chargeable="resource",
            billing_period="day",
            meter="m",
            tiers="[ { above = 0, price = 1 } ]",
        ),
    )
    rows = [
        event("2026-09-01T10:00:00", account="acme", meter="m", resource="r1", quantity=0.1),
        event("2026-09-01T11:00:00", account="acme", meter="m", resource="r1", quantity=-5.0),
    ]
    rows += [
        event("2026-09-01T12:00:00", account=name, meter="m", resource="r1", quantity=2.0)
        for name in INJECTIONS
    ]
    write_usage(inp, DAY, rows)
    write_grants(
        inp,
        [{"grant_id": "G1", "account_id": "acme", "currency": "flex_credit", "amount": "10",
          "effective_on": "2026-09-01", "unit_cost": "0.5"}],
    )  # fmt: skip
    pipeline.backfill(Paths(inp, out), DAY, DAY)
    return out


def export_csv(out: Path, table: str, tmp_path: Path, **filters) -> list[dict]:
    target = tmp_path / f"{table}.csv"
    export_table(
        out,
        table,
        fmt="csv",
        account=filters.get("account"),
        start=filters.get("start"),
        end=filters.get("end"),
        to_file=target,
    )
    with target.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_timestamps_are_iso_utc_with_z(tiny_out, demo_out, tmp_path):
    rows = export_csv(tiny_out, "quarantine", tmp_path)
    assert [r["ts"] for r in rows] == ["2026-09-01T11:00:00Z"]
    assert rows[0]["date"] == "2026-09-01"
    runs = export_csv(demo_out, "runs", tmp_path)
    expected = scan(demo_out, "runs").select("started_at", "finished_at")
    assert len(runs) == expected.height
    for row in runs:
        assert Z_TIMESTAMP.fullmatch(row["started_at"]), row["started_at"]
        assert Z_TIMESTAMP.fullmatch(row["finished_at"]), row["finished_at"]
    as_text = sorted(
        ts.strftime("%Y-%m-%dT%H:%M:%S")
        + (f".{ts.microsecond:06d}" if ts.microsecond else "")
        + "Z"
        for ts in expected["started_at"]
    )
    assert sorted(r["started_at"] for r in runs) == as_text


def test_decimals_are_exact_text_and_negative_numbers_keep_their_sign(tiny_out, demo_out, tmp_path):
    rows = export_csv(tiny_out, "credit_ledger", tmp_path, account="acme")
    amounts = {(r["entry_type"], r["amount"]) for r in rows}
    assert ("consume", "-0.100000") in amounts  # not -0.1, not '-0.100000
    assert ("grant", "10.000000") in amounts
    frames = [
        (p.parent.name[5:], pq.read_table(p).to_pylist())
        for p in sorted((demo_out / "credit_ledger").glob("date=*/*.parquet"))
    ]
    expected = Counter(
        (day, r["entry_type"], r["grant_id"] or "", str(r["amount"]), r["ref"] or "")
        for day, rows_of_day in frames
        for r in rows_of_day
    )
    got = Counter(
        (r["date"], r["entry_type"], r["grant_id"], r["amount"], r["ref"])
        for r in export_csv(demo_out, "credit_ledger", tmp_path)
    )
    assert got == expected
    assert any(amount.startswith("-") for _, _, _, amount, _ in got)


@pytest.mark.parametrize("name", INJECTIONS, ids=[repr(n[0]) for n in INJECTIONS])
def test_each_formula_leading_character_is_neutralised(tiny_out, tmp_path, name):
    rows = export_csv(tiny_out, "usage_daily", tmp_path, account=name)
    assert [r["account_id"] for r in rows] == ["'" + name]
    assert rows[0]["events"] == "1"  # numbers are never prefixed
    assert rows[0]["quantity_sum"] == "2.000000"


def test_text_without_a_formula_start_is_unchanged(tiny_out, tmp_path):
    rows = export_csv(tiny_out, "usage_daily", tmp_path, account="acme")
    assert {r["account_id"] for r in rows} == {"acme"}
    assert {r["scope_id"] for r in rows} == {"ns-1"}


def test_account_and_date_filters(demo_out, tmp_path):
    start, end = date(2026, 9, 10), date(2026, 9, 20)
    rows = export_csv(demo_out, "credit_ledger", tmp_path, account="globex", start=start, end=end)
    expected = scan(demo_out, "credit_ledger").filter(
        (pl.col("account_id") == "globex") & pl.col("date").is_between(start, end)
    )
    assert len(rows) == expected.height > 0
    assert {r["account_id"] for r in rows} == {"globex"}
    assert min(r["date"] for r in rows) >= "2026-09-10"
    assert max(r["date"] for r in rows) <= "2026-09-20"
    forecast = export_csv(demo_out, "forecast", tmp_path, account="acme", start=date(2026, 10, 31))
    assert {r["as_of"] for r in forecast} == {"2026-10-31"}
    assert list(forecast[0])[0] == "as_of"  # the partition column comes first
    # the burndown curve, computed on read, exports the same way: 90 days per currency
    daily = export_csv(
        demo_out, "forecast_daily", tmp_path, account="acme", start=date(2026, 10, 31)
    )
    assert list(daily[0]) == ["as_of", "account_id", "currency", "date", "projected_available"]
    assert {r["as_of"] for r in daily} == {"2026-10-31"}
    assert len(daily) == 90 * len(forecast)
    points = {(r["currency"], r["date"]): r["projected_available"] for r in daily}
    assert {(r["currency"], points[(r["currency"], "2026-11-30")]) for r in forecast} == {
        (r["currency"], r["projected_available_30d"]) for r in forecast
    }


def test_parquet_keeps_the_types(demo_out, tmp_path):
    target = tmp_path / "balances.parquet"
    export_table(
        demo_out, "balances", fmt="parquet", account="acme", start=None, end=None, to_file=target
    )
    table = pq.read_table(target)
    assert table.schema.field("date").type == pa.date32()
    assert table.schema.field("available").type == pa.decimal128(38, 6)
    assert table.schema.field("band").type == pa.string()
    expected = scan(demo_out, "balances").filter(pl.col("account_id") == "acme")
    assert table.num_rows == expected.height
    assert sum(table.column("consumed").to_pylist()) == expected["consumed"].sum()


def test_csv_goes_to_stdout_without_to(flexbatch, tiny_out):
    result = flexbatch("export", "alerts", "--output", str(tiny_out), "--format", "csv")
    if result.exit_code == 2 and "no partitions" in result.stderr:
        pytest.skip("no alerts in the tiny output")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows and list(rows[0])[0] == "date"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nope", "--format", "csv"), "unknown table"),
        (("charges", "--format", "focus"), "--format focus"),
        (("balances", "--format", "csv", "--account", "zzz"), "--account"),
        (("runs", "--format", "csv", "--account", "acme"), "no account_id"),
        (("balances", "--format", "csv", "--from", "2026-10-02", "--to", "2026-10-01"), "after"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(flexbatch, demo_out, args, message):
    result = flexbatch("export", *args, "--output", str(demo_out))
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_missing_output_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError):
        export_table(
            tmp_path / "nope",
            "balances",
            fmt="csv",
            account=None,
            start=None,
            end=None,
            to_file=None,
        )


def test_csv_round_trips_exact_values_through_a_csv_reader(tiny_out, tmp_path):
    rows = export_csv(tiny_out, "balances", tmp_path, account="acme")
    assert [D(r["available"]) for r in rows] == [D("9.900000")]
    assert rows[0]["available"] == "9.900000"
