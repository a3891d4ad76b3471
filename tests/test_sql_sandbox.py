"""``flexbatch sql`` is read-only by construction: DuckDB has no file access once the
views exist, and its configuration is locked. Every write, attach, extension, setting and
read outside the views fails with one line and exit 2, and OUT stays byte for byte as it
was; the statement filter is only the first line of defence (tested without it too)."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from flexbatch.config import Paths
from flexbatch.job import pipeline
from flexbatch.serving import query

from helpers import event, plan_toml, read_table, write_plans, write_usage

DAY = "2026-01-05"


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    """A one-day OUT: 3 streams at 1.5 credits each."""
    root = tmp_path_factory.mktemp("sandbox")
    inp, out = root / "in", root / "out"
    write_plans(inp, plan_toml(tiers="[ { above = 0, price = 1.5 } ]"))
    write_usage(inp, DAY, [event(f"{DAY}T10:00:00", resource=f"r{i}") for i in range(3)])
    pipeline.run(Paths(inp, out), date.fromisoformat(DAY))
    return out


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (links not followed) and its content's sha256."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def published_file(out: Path) -> Path:
    (path,) = (out / "charges" / f"date={DAY}").glob("*.parquet")
    return path


HOSTILE = {
    "explain-analyze-copy-over-a-partition": (
        "explain analyze copy (select * exclude (credits), 0 as credits from charges) "
        "to '{charges}'"
    ),
    "explain-analyze-copy-to-tmp": "explain analyze copy (select 1) to '{tmp}/leak.csv'",
    "copy": "copy charges to '{tmp}/leak.csv'",
    "copy-from": "copy charges from '{charges}'",
    "attach-file": "attach '{tmp}/new.duckdb' as other",
    "attach-memory": "attach ':memory:' as other",
    "install": "install httpfs",
    "load": "load httpfs",
    "set": "set enable_external_access = true",
    "reset-lock": "reset lock_configuration",
    "pragma": "pragma enable_profiling",
    "read-text-passwd": "select * from read_text('/etc/passwd')",
    "read-csv-etc": "select * from read_csv('/etc/hosts')",
    "read-blob-proc": "select * from read_blob('/proc/self/environ')",
    "read-parquet-by-path": "select * from read_parquet('{charges}')",
    "glob-root": "select * from glob('/*')",
    "export-database": "export database '{tmp}/dump'",
    "create-table": "create table t as select 1",
    "second-statement": "select 1; copy (select 1) to '{tmp}/leak.csv'",
    "cte-read-outside": "with x as (select 1) select * from read_text('/etc/hostname')",
    "explain-analyze-read": "explain analyze select * from read_text('/etc/passwd')",
    "http": "select * from read_parquet('http://127.0.0.1:9/x.parquet')",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_statement_is_exit_2_one_line_and_out_unchanged(flexbatch, out, tmp_path, name):
    sql = HOSTILE[name].format(charges=published_file(out), tmp=tmp_path)
    before = snapshot(out)
    result = flexbatch("sql", sql, "--output", str(out))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    line = one_line(result.stderr)
    assert line.startswith("flexbatch: sql: ") and "fix:" in line
    assert snapshot(out) == before
    assert list(tmp_path.iterdir()) == []  # nothing written outside OUT either


SANDBOX_ONLY = {
    "copy-over-a-partition": ("copy (select 0 as credits) to '{charges}'", "Permission"),
    "attach-file": ("attach '{tmp}/new.duckdb' as other", "Permission"),
    "install": ("install httpfs", "Permission"),
    "load": ("load httpfs", "Permission"),
    "set": ("set enable_external_access = true", "locked"),
    "set-allowed": ("set allowed_directories = ['/']", "locked"),
    "read-text": ("select * from read_text('/etc/passwd')", "Permission"),
    "export": ("export database '{tmp}/dump'", "Permission"),
}


@pytest.mark.parametrize("name", sorted(SANDBOX_ONLY))
def test_the_connection_itself_refuses_without_the_statement_filter(out, tmp_path, name):
    """Read-only by construction: the raw sandbox connection, with no parsing in front."""
    sql, expected = SANDBOX_ONLY[name]
    before = snapshot(out)
    con = query.sandbox(out)
    try:
        with pytest.raises(duckdb.Error, match=expected):
            con.execute(sql.format(charges=published_file(out), tmp=tmp_path))
    finally:
        con.close()
    assert snapshot(out) == before
    assert list(tmp_path.iterdir()) == []


def test_views_read_the_published_tables(flexbatch, out):
    result = flexbatch(
        "sql",
        "select count(*) as n, sum(credits) as credits, min(date) as day from charges",
        "--output", str(out), "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    expected = read_table(out, "charges")
    assert expected["credits"].sum() == Decimal("4.5")
    assert json.loads(result.stdout) == [{"n": 1, "credits": "4.500000", "day": DAY}]


def test_helper_views_and_every_table_are_queryable(flexbatch, out):
    tables = ["usage_daily", "charges", "credit_ledger", "balances", "forecast", "alerts"]
    tables += ["quarantine", "restatements", "runs", "usage_by_product_90d", "usage_by_user_90d"]
    union = " union all ".join(f"select '{t}' as t, count(*) as n from {t}" for t in tables)
    result = flexbatch("sql", union + " order by t", "--output", str(out), "--format", "csv")
    assert result.exit_code == 0, result.stderr
    counts = dict(line.split(",") for line in result.stdout.splitlines()[1:])
    assert counts["charges"] == "1" and counts["runs"] == "1" and counts["quarantine"] == "0"
    assert counts["restatements"] == "0"  # no file yet: a typed empty view


INTERVAL_SQL = "select interval 1 month + interval 2 day as i, [interval 3 hour] as l, 7 as n"


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("csv", "i,l,n\n1 month 2 days,['03:00:00'],7\n"),
        ("json", '[{"i":"1 month 2 days","l":"[\'03:00:00\']","n":7}]'),
    ],
)
def test_interval_results_print_as_duckdb_text(flexbatch, out, fmt, expected):
    result = flexbatch("sql", INTERVAL_SQL, "--output", str(out), "--format", fmt)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == expected


def test_interval_table_and_parquet(flexbatch, out, tmp_path):
    result = flexbatch("sql", INTERVAL_SQL, "--output", str(out))
    assert result.exit_code == 0, result.stderr
    assert "1 month 2 days" in result.stdout and "['03:00:00']" in result.stdout
    target = tmp_path / "i.parquet"
    result = flexbatch("sql", INTERVAL_SQL, "--output", str(out), "--format", "parquet",
                       "--to", str(target))  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert pl.read_parquet(target).row(0) == ("1 month 2 days", "['03:00:00']", 7)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["i.parquet"]  # no .tmp left


def test_other_types_polars_cannot_hold_print_as_text(flexbatch, out):
    sql = (
        "select 170141183460469231731687303715884105727::hugeint as h, '\\x00\\xFF'::blob as b,"
        " map {'k': 1} as m, '101'::bit as bits, union_value(k := 1) as u"
    )
    result = flexbatch("sql", sql, "--output", str(out), "--format", "json")
    assert result.exit_code == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["h"] == "170141183460469231731687303715884105727"
    assert row["b"] == "\\x00\\xFF" and row["m"] == "{k=1}" and row["bits"] == "101"


@pytest.mark.parametrize("where", ["inside-out", "a-folder"])
def test_to_inside_out_or_a_folder_is_refused(flexbatch, out, tmp_path, where):
    target = out / "charges" / "evil.csv" if where == "inside-out" else tmp_path
    before = snapshot(out)
    result = flexbatch("sql", "select 1", "--output", str(out), "--format", "csv",
                       "--to", str(target))  # fmt: skip
    assert result.exit_code == 2
    line = one_line(result.stderr)
    assert str(target) in line and "fix:" in line
    assert snapshot(out) == before and list(tmp_path.iterdir()) == []


def test_a_refused_query_to_a_file_leaves_no_file(flexbatch, out, tmp_path):
    target = tmp_path / "r.csv"
    result = flexbatch("sql", "select * from read_text('/etc/passwd')", "--output", str(out),
                       "--format", "csv", "--to", str(target))  # fmt: skip
    assert result.exit_code == 2
    assert list(tmp_path.iterdir()) == []


def test_the_catalog_file_is_not_written_by_sql(flexbatch, out):
    files = [p for p in out.iterdir() if p.suffix in {".duckdb", ".wal"}]
    stamps = {p: p.stat().st_mtime_ns for p in files}
    assert flexbatch("sql", "select 1", "--output", str(out)).exit_code == 0
    assert {p: p.stat().st_mtime_ns for p in files} == stamps
    assert pq.read_schema(published_file(out)).names[0] == "account_id"
