"""``import flexbatch`` (SPEC §11): the commands as functions, with the CLI's checks, exit
codes carried by the exceptions, typed results, and nothing printed."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

import flexbatch as fb
from flexbatch.storage.lock import output_lock

from helpers import SAMPLE, add_late_file, copy_sample, read_table

REPO = Path(__file__).resolve().parents[1]
DAYS = [date(2026, 9, 1), date(2026, 9, 2), date(2026, 9, 3)]


# -- fast: the package and the arguments ---------------------------------------------------


def test_import_loads_no_engine_and_exposes_every_command():
    code = (
        "import sys, flexbatch\n"
        "heavy = [m for m in ('duckdb', 'polars', 'pandera', 'pyarrow', 'boto3', 'rich') "
        "if m in sys.modules]\n"
        "names = [n for n in ('run', 'backfill', 'run_since_changed', 'close', 'status', 'sql', "
        "'explain', 'simulate') if callable(getattr(flexbatch, n))]\n"
        "import flexbatch.sql  # the SQL files' subpackage must not hide the function\n"
        "from flexbatch.resources import sql_text; sql_text('charges')\n"
        "print(heavy, len(names), callable(flexbatch.sql), flexbatch.sql.__module__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/"
    ).stdout
    assert out.split() == ["[]", "8", "True", "flexbatch.api"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: fb.run("2026-13-01", "x", "y"), "day '2026-13-01' is not a date"),
        (lambda: fb.run("20260901", "x", "y"), "is not a date"),
        (lambda: fb.run(date(1800, 1, 1), "x", "y"), "outside the days"),
        (lambda: fb.backfill(date(2026, 9, 2), "2026-09-01", SAMPLE, "/nonexistent/o"),
         "is before --from"),
        (lambda: fb.run("2026-09-01", "/nonexistent/in", "/tmp/o"), "no such folder"),
        (lambda: fb.run("2026-09-01", SAMPLE, "/tmp/o", engine="pandas"), "unknown"),
        (lambda: fb.close("2026-9", SAMPLE, "/tmp/o"), "is not a month"),
        (lambda: fb.sql("delete from charges", SAMPLE), "refused"),
    ],
)  # fmt: skip
def test_bad_arguments_raise_config_errors_with_exit_code_2(call, message):
    with pytest.raises(fb.ConfigError, match=message) as info:
        call()
    assert info.value.exit_code == 2
    assert isinstance(info.value, fb.FlexbatchError)


def test_a_missing_partition_is_exit_3_and_leaves_no_output(tmp_path):
    inp = copy_sample(tmp_path / "in", DAYS[:1])
    out = tmp_path / "out"
    with pytest.raises(fb.MissingPartitionError) as info:
        fb.run(DAYS[1], inp, out)
    assert info.value.exit_code == 3
    assert not out.exists()  # the CLI's clean-up: a failed first run leaves no OUT


def test_a_held_lock_is_exit_4(tmp_path):
    inp = copy_sample(tmp_path / "in", DAYS[:1])
    out = tmp_path / "out"
    with output_lock(out, "test"), pytest.raises(fb.LockHeldError) as info:
        fb.run(DAYS[0], str(inp), str(out))
    assert info.value.exit_code == 4 and "locked by pid" in str(info.value)


def test_close_refuses_a_missing_output_and_an_unprocessed_month(tmp_path):
    with pytest.raises(fb.ConfigError, match="no such folder") as info:
        fb.close(date(2026, 9, 1), SAMPLE, tmp_path / "out")
    assert info.value.exit_code == 2


# -- slow: the job through the library -------------------------------------------------------


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory) -> tuple[Path, Path, fb.RunSummary]:
    root = tmp_path_factory.mktemp("api")
    inp = copy_sample(root / "in", DAYS)
    out = root / "out"
    summary = fb.backfill(DAYS[0], str(DAYS[-1]), inp, str(out))
    return inp, out, summary


@pytest.mark.slow
def test_backfill_returns_what_it_published(backfilled):
    inp, out, summary = backfilled
    assert isinstance(summary, fb.RunSummary)
    assert summary.command == "backfill" and summary.processed == tuple(DAYS)
    charges = read_table(out, "charges")
    for day in summary.days:
        files = sorted((inp / "usage" / f"date={day.day}").glob("*.parquet"))
        assert day.input_files == len(files)
        assert day.rows_read == sum(pq.read_metadata(f).num_rows for f in files)
        assert day.rows_read == day.rows_accepted + day.rows_quarantined + day.duplicates
        of_day = charges.filter(pl.col("date") == day.day)
        assert day.charge_rows == of_day.height
        assert isinstance(day.credits, Decimal) and day.credits == of_day["credits"].sum()
    assert summary.credits == charges["credits"].sum()
    with pytest.raises(AttributeError):
        summary.command = "x"  # frozen


@pytest.mark.slow
def test_close_through_the_library_refuses_a_month_with_unprocessed_days(backfilled):
    # only 2026-09-01..03 are processed: September cannot close, and nothing changes
    inp, out, _ = backfilled
    with pytest.raises(fb.ConfigError) as info:
        fb.close("2026-09", inp, out)
    assert info.value.exit_code == 2 and "2026-09-04" in str(info.value)


def test_reads_equal_the_cli(backfilled, flexbatch, tmp_path):
    """status, sql and explain give what the CLI prints as JSON/CSV."""
    inp, out, _ = backfilled
    statuses = fb.status(inp, out)  # (the fixture named flexbatch is the CLI)
    io = ["--input", str(inp), "--output", str(out), "--format", "json"]
    assert statuses == json.loads(flexbatch_cli(flexbatch, "status", *io))
    assert [s["state"] for s in fb.status(inp, out)] == ["fresh"] * 3
    query = "select account_id, sum(credits) as credits from charges group by 1 order by 1"
    frame = fb.sql(query, out)
    assert frame.schema["credits"] == pl.Decimal(38, 6)
    charges = read_table(out, "charges")
    want = charges.group_by("account_id").agg(pl.col("credits").sum()).sort("account_id")
    assert frame.to_dicts() == want.to_dicts()
    tid = charges.sort("credits", descending=True)["transaction_id"][0]
    got = fb.explain(tid, inp, out)
    assert got == json.loads(flexbatch_cli(flexbatch, "explain", tid, *io))
    assert got["charge"]["transaction_id"] == tid


def flexbatch_cli(cli, *args: str) -> str:
    result = cli(*args)
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.mark.slow
def test_late_data_run_since_changed_and_simulate(tmp_path, capfd):
    """A late file makes day 2 stale; run_since_changed recomputes 2 and 3 and restates;
    simulate of the live plans changes nothing. Nothing is printed throughout."""
    inp = copy_sample(tmp_path / "in", DAYS)
    out = tmp_path / "out"
    fb.backfill(DAYS[0], DAYS[-1], inp, out)
    assert fb.run_since_changed(inp, out).days == ()
    add_late_file(inp, DAYS[1])
    assert [s["reason"] for s in fb.status(inp, out)] == [None, "inputs changed", None]
    summary = fb.run_since_changed(inp, out)
    assert summary.processed == tuple(DAYS[1:]) and summary.command == "run"
    assert summary.days[0].restated > 0
    diff = fb.simulate(inp / "rate_plans.toml", DAYS[0], DAYS[-1], inp, out)
    assert diff.height > 0 and set(diff["delta"].to_list()) == {Decimal(0)}
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


def readme_example() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## From Python", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


@pytest.mark.slow
def test_the_readme_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(readme_example(), "README.md", "exec"), namespace)
    summary = namespace["summary"]
    assert summary.processed == (date(2026, 9, 1), date(2026, 9, 2), date(2026, 9, 3))
    assert namespace["by_account"].height == 4  # the sample's four accounts


def test_days_months_and_s3_uris_are_parsed_as_the_cli_does():
    from datetime import datetime

    from flexbatch.api import parse_day, parse_month
    from flexbatch.storage.s3 import split_uri

    assert parse_day("2026-09-01") == parse_day(date(2026, 9, 1)) == date(2026, 9, 1)
    with pytest.raises(fb.ConfigError, match="is a datetime"):
        parse_day(datetime(2026, 9, 1, 12))
    assert parse_month("2026-09") == parse_month(date(2026, 9, 17)) == date(2026, 9, 1)
    with pytest.raises(fb.ConfigError, match="not a month"):
        parse_month("2026-09-01")
    assert split_uri("s3://bkt") == ("bkt", "")
    assert split_uri("s3://bkt/a b/[1]*?/") == ("bkt", "a b/[1]*?/")
    with pytest.raises(fb.ConfigError, match="no bucket"):
        split_uri("s3://")
