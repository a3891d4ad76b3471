"""``flexbatch simulate`` (SPEC §7): a draft equal to the live plans changes nothing, a
doubled price doubles exactly its plan's credits, OUT (catalog included) is byte-for-byte
unchanged, and bad arguments are exit 2."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal as D
from pathlib import Path

import polars as pl
import pytest

from flexbatch.config import Paths
from flexbatch.job import pipeline

from helpers import copy_sample, read_table

SPAN = [date(2026, 9, 28) + timedelta(days=i) for i in range(6)]  # 09-28 .. 10-03
DOUBLED = "ADH-STREAMS-STORED"  # integer units at 0.4: doubling the price is exact


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("simulate")
    inp, out = copy_sample(root / "in", SPAN), root / "out"
    pipeline.backfill(Paths(inp, out), SPAN[0], SPAN[-1])
    return inp, out


def snapshot(out: Path) -> dict[str, str]:
    """Every file under OUT (the catalog too) by its sha256."""
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def unchanged(sample):
    """Asserts after the test that OUT is byte-for-byte what it was before."""
    before = snapshot(sample[1])
    assert "flexbatch.duckdb" in before
    yield
    assert snapshot(sample[1]) == before


def simulate(flexbatch, sample, draft: Path, start: str, end: str, *extra: str):
    inp, out = sample
    return flexbatch(
        "simulate", "--plans", str(draft), "--from", start, "--to", end,
        "--input", str(inp), "--output", str(out), *extra,
    )  # fmt: skip


def window_credits(out: Path, start: date, end: date) -> dict[tuple, D]:
    """Charged credits per account, scope, product, plan and month, summed here from
    OUT's charges (independently of simulate's SQL)."""
    charges = read_table(out, "charges").filter(pl.col("date").is_between(start, end))
    totals: dict[tuple, D] = defaultdict(D)
    for r in charges.iter_rows(named=True):
        month = r["date"].replace(day=1)
        totals[(r["account_id"], r["scope_id"], r["product_code"], r["plan_id"], month)] += r[
            "credits"
        ]
    return dict(totals)


def test_live_plans_as_draft_give_an_all_zero_diff(flexbatch, sample, unchanged, tmp_path):
    inp, out = sample
    draft = tmp_path / "draft.toml"
    draft.write_bytes((inp / "rate_plans.toml").read_bytes())
    target = tmp_path / "diff.csv"

    result = simulate(flexbatch, sample, draft, "2026-10-01", "2026-10-03", "--diff", str(target))

    assert result.exit_code == 0, result.stderr
    diff = pl.read_csv(target, schema_overrides={"month": pl.Date}, infer_schema=False)
    assert diff.columns == [
        "account_id", "scope_id", "product_code", "plan_id", "month",
        "credits_actual", "credits_simulated", "delta",
    ]  # fmt: skip
    got = {
        (r["account_id"], r["scope_id"], r["product_code"], r["plan_id"], r["month"]): (
            D(r["credits_actual"]),
            D(r["credits_simulated"]),
            D(r["delta"]),
        )
        for r in diff.iter_rows(named=True)
    }
    expected = window_credits(out, date(2026, 10, 1), date(2026, 10, 3))
    assert {k: v[0] for k, v in got.items()} == expected
    assert all(actual == simulated and delta == 0 for actual, simulated, delta in got.values())
    assert "recomputed 2026-10-01..2026-10-03 (3 days)" in result.stdout
    assert f"0 of {len(got)} account/scope/product/plan/month rows changed" in result.stdout


def test_doubling_one_price_doubles_exactly_that_plans_credits(
    flexbatch, sample, unchanged, tmp_path
):
    inp, out = sample
    plans = (inp / "rate_plans.toml").read_text(encoding="utf-8")
    block = plans.index(f'id = "{DOUBLED}"')
    tiers = plans.index("price = 0.4 }", block)
    assert plans.count("price = 0.4 }") == 1
    draft = tmp_path / "draft.toml"
    draft.write_text(plans[:tiers] + "price = 0.8 }" + plans[tiers + 13 :], encoding="utf-8")
    target = tmp_path / "diff.parquet"

    # across a month end: September is recomputed from its first processed day (09-28)
    result = simulate(flexbatch, sample, draft, "2026-09-29", "2026-10-02", "--diff", str(target))

    assert result.exit_code == 0, result.stderr
    assert "recomputed 2026-09-28..2026-10-02 (5 days)" in result.stdout
    diff = pl.read_parquet(target)
    assert diff.schema["delta"] == pl.Decimal(38, 6)
    assert set(diff["month"]) == {date(2026, 9, 1), date(2026, 10, 1)}
    doubled = diff.filter(pl.col("plan_id") == DOUBLED)
    others = diff.filter(pl.col("plan_id") != DOUBLED)
    assert doubled["credits_actual"].sum() > 0
    for r in doubled.iter_rows(named=True):
        assert r["credits_simulated"] == 2 * r["credits_actual"]
        assert r["delta"] == r["credits_actual"]
    assert (others["delta"] == 0).all()
    expected = window_credits(out, date(2026, 9, 29), date(2026, 10, 2))
    assert {
        (r["account_id"], r["scope_id"], r["product_code"], r["plan_id"], r["month"]): r[
            "credits_actual"
        ]
        for r in diff.iter_rows(named=True)
    } == expected


def test_summary_difference_is_what_the_ledger_charged_more(flexbatch, sample, unchanged, tmp_path):
    """The printed per account and currency difference (from the ledgers) adds up, per
    account, to the diff's charges."""
    inp, _ = sample
    plans = (inp / "rate_plans.toml").read_text(encoding="utf-8")
    draft = tmp_path / "draft.toml"
    draft.write_text(plans.replace("price = 0.4 }", "price = 0.8 }"), encoding="utf-8")
    target = tmp_path / "diff.csv"
    result = simulate(flexbatch, sample, draft, "2026-10-01", "2026-10-03", "--diff", str(target))
    assert result.exit_code == 0, result.stderr
    diff = pl.read_csv(target, infer_schema=False)
    per_account: dict[str, D] = defaultdict(D)
    for r in diff.iter_rows(named=True):
        per_account[r["account_id"]] += D(r["delta"])
    printed: dict[str, D] = defaultdict(D)
    table = result.stdout.splitlines()[2:-1]
    header = table[0].split()
    assert header[:5] == ["account", "currency", "charged", "actual", "simulated"]
    for line in table[1:]:
        account, _currency, actual, simulated, difference = line.split()[:5]
        assert D(simulated) - D(actual) == D(difference)
        printed[account] += D(difference)
    assert dict(printed) == dict(per_account)
    assert any(v > 0 for v in printed.values())


def test_days_not_processed_are_exit_2(flexbatch, sample, unchanged):
    inp, _ = sample
    result = simulate(flexbatch, sample, inp / "rate_plans.toml", "2026-10-02", "2026-10-05")
    assert result.exit_code == 2
    assert "2026-10-04 is not a processed day" in result.stderr


def test_invalid_draft_is_exit_2_naming_it(flexbatch, sample, unchanged, tmp_path):
    inp, _ = sample
    draft = tmp_path / "bad.toml"
    draft.write_text(
        (inp / "rate_plans.toml").read_text(encoding="utf-8").replace("above = 50", "above = -5"),
        encoding="utf-8",
    )
    result = simulate(flexbatch, sample, draft, "2026-10-01", "2026-10-02")
    assert result.exit_code == 2
    assert str(draft) in result.stderr


def test_unknown_diff_format_is_exit_2(flexbatch, sample, unchanged, tmp_path):
    inp, _ = sample
    result = simulate(
        flexbatch, sample, inp / "rate_plans.toml", "2026-10-01", "2026-10-02",
        "--diff", str(tmp_path / "diff.txt"),
    )  # fmt: skip
    assert result.exit_code == 2
    assert ".csv or .parquet" in result.stderr
