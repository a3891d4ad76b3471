"""Revenue where finance looks (SPEC §9), end to end on the sample: the `revenue` view of
`flexbatch sql`, `flexbatch export revenue`, the monthly summary in the report's index;
and a fault planted in a published revenue partition stopping the next run before it
publishes anything. Values are worked out by hand from data/grants.csv and transfers.csv.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from decimal import Decimal as D
from pathlib import Path

import polars as pl
from test_catalog import demo_output

from flexbatch.tables import table

from helpers import copy_sample


def sql_json(flexbatch, out: Path, query: str) -> list[dict]:
    result = flexbatch("sql", query, "--output", str(out), "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_revenue_in_sql_export_and_the_report_index(flexbatch, tmp_path_factory, tmp_path):
    out = demo_output(tmp_path_factory.getbasetemp())
    # purchased on the first day, amount x unit_cost: acme 2500 x 0.95 (its legacy cloud
    # credit costs nothing: a row at 0), globex 500 x 1.10 + 400 x 1.00 (EUR; its voided
    # promo and rolling bonus are free), initech
    # 600 x 0.90 (cost currency empty = USD), umbrella 150 x 1.00
    first = sql_json(
        flexbatch,
        out,
        "select account_id, currency, cost_currency, purchased from revenue "
        "where date = '2026-09-01' order by all",
    )
    assert [tuple(r.values()) for r in first] == [
        ("acme", "cloud_credit", "USD", "0.000000"),
        ("acme", "flex_credit", "USD", "2375.000000"),
        ("globex", "flex_token", "EUR", "950.000000"),
        ("initech", "flex_credit", "USD", "540.000000"),
        ("umbrella", "flex_credit", "USD", "150.000000"),
    ]
    # T-2026-0001 moves 200 flex_credit of G-ACME-2026-001 (0.95) to initech: 190.000000
    moved = sql_json(
        flexbatch,
        out,
        "select account_id, transferred_in_value, transferred_out_value from revenue "
        "where date = '2026-09-20' and currency = 'flex_credit' "
        "and account_id in ('acme', 'initech') order by all",
    )
    assert [tuple(r.values()) for r in moved] == [
        ("acme", "0.000000", "190.000000"),
        ("initech", "190.000000", "0.000000"),
    ]
    # the month per cost currency: September USD 2375 + 540 + 150; October USD initech's
    # replenishment 250 x 0.90 (acme's promotional grant is free); October EUR globex's
    # top-up triggered on 10-19, effective 10-20: 250 x 1.10 (the 10-31 one is November's)
    months = sql_json(
        flexbatch,
        out,
        "select cast(month as varchar) as month, cost_currency, purchased, "
        "deferred_at_month_end from revenue_monthly order by all",
    )
    purchased = {(r["month"], r["cost_currency"]): r["purchased"] for r in months}
    assert purchased == {
        ("2026-09-01", "EUR"): "950.000000",
        ("2026-09-01", "USD"): "3065.000000",
        ("2026-10-01", "EUR"): "275.000000",
        ("2026-10-01", "USD"): "225.000000",
    }
    revenue = pl.read_parquet(out / "revenue" / "date=*" / "*.parquet", hive_partitioning=True)
    october_end = revenue.filter(pl.col("date") == pl.date(2026, 10, 31))
    deferred = {r["month"][:7] + r["cost_currency"]: D(r["deferred_at_month_end"]) for r in months}
    assert (
        deferred["2026-10USD"]
        == october_end.filter(pl.col("cost_currency") == "USD")["deferred_closing"].sum()
    )

    exported = flexbatch(
        *("export", "revenue", "--output", str(out), "--format", "csv", "--account"),
        *("initech", "--from", "2026-09-20", "--to", "2026-09-20"),
    )
    assert exported.exit_code == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert list(rows[0]) == [
        "date", "account_id", "currency", "cost_currency", "deferred_opening", "purchased",
        "transferred_in_value", "transferred_out_value", "recognised", "breakage",
        "voided_value", "deferred_closing",
    ]  # fmt: skip
    assert [(r["date"], r["transferred_in_value"]) for r in rows] == [("2026-09-20", "190.000000")]

    report = flexbatch("report", "--all", "--output", str(out), "--to", str(tmp_path / "r"))
    assert report.exit_code == 0, report.stderr
    index = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    assert "<h2>Revenue by month</h2>" in index
    assert 'data-month="2026-09-01" data-cost-currency="USD"' in index
    assert 'data-metric="purchased" data-value="3065.000000"' in index


def _digests(out: Path, day: str) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob(f"date={day}/*.parquet"))
    }


def test_a_planted_violation_in_published_revenue_stops_the_next_run(flexbatch, tmp_path):
    inp = copy_sample(tmp_path / "in", ["2026-09-01", "2026-09-02"])
    out = tmp_path / "out"
    args = ("--input", str(inp), "--output", str(out))
    assert flexbatch("backfill", "--from", "2026-09-01", "--to", "2026-09-02", *args).exit_code == 0
    before = _digests(out, "2026-09-02")
    # one micro-unit more deferred at the end of 2026-09-01 than its slices hold
    path = out / table("revenue").partition("2026-09-01") / "part-0.parquet"
    frame = pl.read_parquet(path)
    planted = frame.with_columns(
        pl.when(pl.col("account_id") == "globex")
        .then(pl.col("deferred_closing") + D("0.000001"))
        .otherwise(pl.col("deferred_closing"))
        .alias("deferred_closing")
    )
    planted.write_parquet(path)
    result = flexbatch("run", "--date", "2026-09-02", *args)
    assert result.exit_code == 1
    assert "audit_revenue_conservation" in result.stderr
    assert "nothing was published" in result.stderr
    assert _digests(out, "2026-09-02") == before
