"""The books end to end (SPEC §8) on real files through the CLI: a month-end on sample
days (close, late data, the correction, exports byte for byte), every refusal one line
with exit 2, the unattended close, and kills during a close and during a correcting run
that never lose or double a correction."""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest
from test_publication import SUBPROCESS_ENV, count_ops, io, run_cli

from flexbatch.config import Paths
from flexbatch.job import pipeline

from helpers import add_late_file, copy_sample

pytestmark = pytest.mark.slow

SPAN = [date(2026, 9, 28) + timedelta(days=i) for i in range(4)]  # 28 Sep .. 1 Oct
LATE = date(2026, 9, 29)


@pytest.fixture(scope="module")
def closed_out(tmp_path_factory) -> tuple[Path, Path]:
    """Four sample days across a month end, September closed."""
    root = tmp_path_factory.mktemp("books")
    inp = copy_sample(root / "in", SPAN)
    out = root / "out"
    pipeline.backfill(Paths(inp, out), SPAN[0], SPAN[-1])
    code, err = run_cli(["close", "--month", "2026-09", *io(inp, out)])
    assert code == 0, err
    return inp, out


def fresh_copy(closed_out, tmp_path: Path) -> tuple[Path, Path]:
    inp, out = closed_out
    shutil.copytree(inp, tmp_path / "in", copy_function=shutil.copy2)
    shutil.copytree(out, tmp_path / "out", copy_function=shutil.copy2, symlinks=True)
    return tmp_path / "in", tmp_path / "out"


def sql(out: Path, query: str) -> list[tuple]:
    con = duckdb.connect(str(out / "flexbatch.duckdb"), read_only=True)
    try:
        return con.sql(query).fetchall()
    finally:
        con.close()


def tree(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name != "_lock"
    }


def assert_books_invariants(out: Path) -> None:
    """SPEC §8, computed independently from ``balances``: every closed statement plus its
    corrections is the month's ledger now, and the first open month opens at the last
    closed closing plus what is booked on it."""
    closed = sql(out, "select distinct month from statements where status = 'closed'")
    for (month,) in closed:
        wrong = sql(
            out,
            f"""
            with now as (
                select account_id, currency, sum(consumed) as consumed,
                    sum(overdraft) as overdraft, sum(granted) as granted,
                    sum(expired) as expired
                from balances where date_trunc('month', date) = DATE '{month}'
                group by all
            ),
            booked as (
                select account_id, currency, sum(consumed_delta) as consumed,
                    sum(overdraft_delta) as overdraft, sum(granted_delta) as granted,
                    sum(expired_delta) as expired
                from corrections where closed_month = DATE '{month}' group by all
            )
            select s.account_id, s.currency
            from statements as s
            full join now as n using (account_id, currency)
            left join booked as b using (account_id, currency)
            where s.month = DATE '{month}' and (
                s.consumed + coalesce(b.consumed, 0) <> coalesce(n.consumed, 0)
                or s.overdraft + coalesce(b.overdraft, 0) <> coalesce(n.overdraft, 0)
                or s.granted + coalesce(b.granted, 0) <> coalesce(n.granted, 0)
                or s.expired + coalesce(b.expired, 0) <> coalesce(n.expired, 0))
            """,
        )
        assert wrong == [], (month, wrong)
    opening = sql(
        out,
        """
        with last_closed as (select max(month) as month from statements where status = 'closed')
        select o.account_id, o.currency, o.opening, c.closing, o.corrections_available
        from statements as o
        join last_closed as lc on o.month = lc.month + interval 1 month
        left join statements as c
            on c.month = lc.month and c.account_id = o.account_id and c.currency = o.currency
        where o.opening <> coalesce(c.closing, 0) + o.corrections_available
        """,
    )
    assert opening == []


def exported(out: Path, tmp: Path, fmt: str, name: str) -> bytes:
    target = tmp / f"{name}.{fmt}"
    code, err = run_cli(
        ["export", "credit_ledger", "--output", str(out), "--from", "2026-09-01", "--to",
         "2026-09-30", "--format", fmt, "--to", str(target)]
    )  # fmt: skip
    assert code == 0, err
    return target.read_bytes()


def test_month_end_late_data_is_booked_once_and_exports_stay_issued(closed_out, tmp_path):
    inp, out = fresh_copy(closed_out, tmp_path)
    before = {fmt: exported(out, tmp_path, fmt, f"before-{fmt}") for fmt in ("csv", "focus")}
    issued = sql(out, "select account_id, currency, consumed, overdraft, closing from "
                      "statements where month = DATE '2026-09-01' order by all")  # fmt: skip
    add_late_file(inp, LATE)
    code, err = run_cli(["run", "--date", str(LATE), *io(inp, out)])
    assert code == 0, err
    # the issued September is untouched, the ledger moved, the difference booked in October
    september = "statements where month = DATE '2026-09-01' order by all"
    assert sql(
        out, f"select account_id, currency, consumed, overdraft, closing from {september}"
    ) == (issued)
    corrections = sql(
        out,
        "select account_id, currency, closed_month, booked_month, reason, consumed_delta, "
        "overdraft_delta, available_delta from corrections order by all",
    )
    assert corrections, "the late file changed September's ledger"
    now = dict(
        ((a, c), (cons, over))
        for a, c, cons, over in sql(
            out,
            "select account_id, currency, sum(consumed), sum(overdraft) from balances "
            "where date between DATE '2026-09-01' and DATE '2026-09-30' group by all",
        )
    )
    for (
        account,
        currency,
        closed_m,
        booked_m,
        reason,
        consumed,
        overdraft,
        available,
    ) in corrections:
        (_, _, was_consumed, was_overdraft, _) = next(
            r for r in issued if r[:2] == (account, currency)
        )
        assert (closed_m, booked_m) == (date(2026, 9, 1), date(2026, 10, 1))
        assert reason == "inputs_changed"
        assert consumed == now[(account, currency)][0] - was_consumed
        assert overdraft == now[(account, currency)][1] - was_overdraft
        assert available == -consumed  # no grant, transfer or expiry moved
    assert_books_invariants(out)
    after = {fmt: exported(out, tmp_path, fmt, f"after-{fmt}") for fmt in ("csv", "focus")}
    assert after == before  # byte for byte: the issued rows
    focus = run_cli(["export", "credit_ledger", "--output", str(out), "--format", "focus",
                     "--to", str(tmp_path / "all.csv")])  # fmt: skip
    assert focus[0] == 0, focus[1]
    rows = pl.read_csv(tmp_path / "all.csv", infer_schema=False)
    fixes = rows.filter(pl.col("ChargeClass") == "Correction")
    usage = [c for c in corrections if c[5] != 0]
    assert fixes.height == len(usage)
    assert set(fixes["BillingPeriodStart"]) == {"2026-10-01T00:00:00Z"}
    assert set(fixes["ChargePeriodStart"]) == {"2026-09-01T00:00:00Z"}
    assert sorted(Decimal(v) for v in fixes["PricingCurrencyEffectiveCost"]) == sorted(
        c[5] for c in usage
    )
    # a second run books nothing more; status says what is booked where
    code, err = run_cli(["run", "--date", str(SPAN[-1]), *io(inp, out)])
    assert code == 0, err
    assert len(sql(out, "select * from corrections")) == len(corrections)
    code, text = run_cli_out(["status", *io(inp, out)])
    assert "2026-09  closed at" in text and "corrections booked on it" in text
    code, text = run_cli_out(["status", *io(inp, out), "--format", "json"])
    assert {tuple(sorted(r)) for r in json.loads(text)} == {
        ("date", "finished_at", "reason", "run_id", "state")
    }


def run_cli_out(args: list[str]) -> tuple[int, str]:
    """The CLI in a process of its own: exit code and stdout."""
    proc = subprocess.run(
        [sys.executable, "-m", "flexbatch", *args],
        capture_output=True, text=True, env=SUBPROCESS_ENV, timeout=300,
    )  # fmt: skip
    return proc.returncode, proc.stdout


def test_refusals_are_one_line_and_exit_2(closed_out, tmp_path, flexbatch):
    inp, out = fresh_copy(closed_out, tmp_path)
    cases = {
        ("--month", "2026-13"): "is not a month",
        ("--month", "2026-08"): "OUT has no day of 2026-08",
        ("--month", "2026-11"): "month 2026-10 is still open",
        ("--month", "2026-10"): "day 2026-10-02 of 2026-10 is not processed",
    }
    for args, words in cases.items():
        result = flexbatch("close", *args, *io(inp, out))
        assert result.exit_code == 2, result
        assert result.stderr.count("\n") == 1 and words in result.stderr, result.stderr
    untouched = tree(out)
    again = flexbatch("close", "--month", "2026-09", *io(inp, out))
    assert again.exit_code == 0 and "already closed" in again.stdout
    assert tree(out) == untouched  # closing a closed month changes nothing
    fresh = tmp_path / "other"
    inp2 = copy_sample(fresh / "in", SPAN)
    pipeline.backfill(Paths(inp2, fresh / "out"), SPAN[0], SPAN[-1])
    add_late_file(inp2, LATE)  # not run: 29 September is stale
    result = flexbatch("close", "--month", "2026-09", *io(inp2, fresh / "out"))
    assert result.exit_code == 2
    assert "day 2026-09-29 of 2026-09 is stale (inputs changed)" in result.stderr


def test_bad_close_after_days_is_exit_2(flexbatch, monkeypatch, tmp_path):
    monkeypatch.setenv("FLEXBATCH_CLOSE_AFTER_DAYS", "-1")
    result = flexbatch("status", "--input", str(tmp_path), "--output", str(tmp_path))
    assert result.exit_code == 2 and "FLEXBATCH_CLOSE_AFTER_DAYS" in result.stderr


def test_unattended_close_closes_what_is_due_in_order(tmp_path, flexbatch, monkeypatch):
    inp = copy_sample(tmp_path / "in", SPAN)
    monkeypatch.setenv("FLEXBATCH_CLOSE_AFTER_DAYS", "2")  # 30 Sep + 2 > 1 Oct: not yet
    assert flexbatch("backfill", "--from", str(SPAN[0]), "--to", str(SPAN[-1]),
                     *io(inp, tmp_path / "out")).exit_code == 0  # fmt: skip
    assert not (tmp_path / "out" / "_books" / "closes").exists()
    monkeypatch.setenv("FLEXBATCH_CLOSE_AFTER_DAYS", "1")
    assert flexbatch("run", "--date", str(SPAN[-1]), *io(inp, tmp_path / "out")).exit_code == 0
    assert [p.name for p in (tmp_path / "out" / "_books" / "closes").iterdir()] == ["2026-09.json"]
    assert sql(tmp_path / "out", "select distinct status from statements where "
                                 "month = DATE '2026-09-01'") == [("closed",)]  # fmt: skip


# --- kills --------------------------------------------------------------------------------


def books_state(out: Path) -> tuple:
    """What the books say, run ids and times aside: closed months, statements, corrections."""
    closes = sorted(p.name for p in (out / "_books" / "closes").glob("*.json"))
    statements = pl.concat(
        [pl.read_parquet(p).with_columns(pl.lit(p.parent.name).alias("folder"))
         for p in sorted((out / "statements").glob("month=*/part-0.parquet"))]
    ).drop("run_id", "closed_at").sort("folder", "account_id", "currency")  # fmt: skip
    files = sorted((out / "corrections").glob("month=*/*.parquet"))
    corrections = (
        pl.concat([pl.read_parquet(p) for p in files]).drop("run_id").sort(pl.all())
        if files
        else None
    )
    return closes, statements.rows(), corrections.rows() if corrections is not None else None


def test_a_killed_close_is_wholly_open_or_wholly_closed(tmp_path):
    root = tmp_path / "ref"
    inp = copy_sample(root / "in", SPAN)
    ref = root / "out"
    pipeline.backfill(Paths(inp, ref), SPAN[0], SPAN[-1])
    opened = tmp_path / "opened"
    shutil.copytree(ref, opened, symlinks=True)
    close = ["close", "--month", "2026-09", *io(inp, ref)]
    total = count_ops(close, tmp_path)
    want = books_state(ref)
    rng = random.Random(23)
    for kill_at in sorted(rng.sample(range(1, total + 1), min(total, 6))):
        out = tmp_path / f"k{kill_at}"
        shutil.copytree(opened, out, symlinks=True)
        args = ["close", "--month", "2026-09", *io(inp, out)]
        code, err = run_cli(args, kill_at=kill_at)
        assert code == -signal.SIGKILL, err
        record = (out / "_books" / "closes" / "2026-09.json").exists()
        # a reader before any recovery: the issued copies exist only once the close committed
        issued = (out / "_books" / "issued" / "month=2026-09" / "focus.parquet").exists()
        assert issued <= record
        code, err = run_cli(args)
        assert code == 0, err
        assert books_state(out) == want
        assert not list((out / "_books").glob("closing/*"))


def test_a_killed_correcting_run_books_each_correction_once(closed_out, tmp_path):
    inp, out0 = fresh_copy(closed_out, tmp_path)
    add_late_file(inp, LATE)
    ref = tmp_path / "ref"
    shutil.copytree(out0, ref, symlinks=True)
    rerun = ["run", "--date", str(LATE), *io(inp, ref)]
    total = count_ops(rerun, tmp_path)
    want = books_state(ref)
    assert want[2], "the late file books corrections"
    rng = random.Random(8)
    tail = range(max(1, total - 12), total + 1)  # the books are settled after the days
    for kill_at in sorted({*rng.sample(tail, 4), *rng.sample(range(1, total + 1), 2)}):
        out = tmp_path / f"k{kill_at}"
        shutil.copytree(out0, out, symlinks=True)
        code, err = run_cli(["run", "--date", str(LATE), *io(inp, out)], kill_at=kill_at)
        assert code == -signal.SIGKILL, err
        booked = books_state(out)[2] or []
        if len(booked) < len(want[2]):
            _, text = run_cli_out(["status", *io(inp, out)])
            # the ledger moved and nothing is booked yet: status says a correction waits,
            # or that days are stale (the kill came before the last day was published)
            assert "corrections pending" in text or "stale" in text, text
        code, err = run_cli(["run", "--since-changed", *io(inp, out)])
        assert code == 0, err
        if books_state(out)[2] != want[2]:  # a kill after the days: the next run of any day
            code, err = run_cli(["run", "--date", str(SPAN[-1]), *io(inp, out)])
            assert code == 0, err
        assert books_state(out) == want, kill_at
        assert_books_invariants(out)


def test_a_backfill_over_a_closed_month_books_what_a_nightly_run_books(closed_out, tmp_path):
    inp, nightly = fresh_copy(closed_out, tmp_path)
    add_late_file(inp, LATE)
    backfilled = tmp_path / "backfilled"
    shutil.copytree(nightly, backfilled, symlinks=True)
    code, err = run_cli(["run", "--date", str(LATE), *io(inp, nightly)])
    assert code == 0, err
    code, err = run_cli(
        ["backfill", "--from", str(SPAN[0]), "--to", str(SPAN[-1]), *io(inp, backfilled)]
    )
    assert code == 0, err
    assert books_state(backfilled) == books_state(nightly)
    assert books_state(nightly)[2]  # something was booked
