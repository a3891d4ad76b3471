"""The command line (SPEC §2): help on every command, path resolution, argument errors
(exit 2, one line), read-only ``sql``, JSON logs, and the README's set-up commands."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from flexbatch.cli import cli

from helpers import event, plan_toml, read_table, write_plans, write_usage

DAY = "2026-01-05"
REPO = Path(__file__).resolve().parent.parent
PLANS = plan_toml("P", tiers="[ { above = 0, price = 0 }, { above = 1, price = 0.5 } ]")


@pytest.fixture(autouse=True)
def _restore_logging():
    """Each CLI call installs a handler on the capture stream; undo it after the test."""
    logger = logging.getLogger("flexbatch")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


@pytest.fixture
def no_path_config(monkeypatch, tmp_path):
    """No FLEXBATCH_* variable and an empty cwd: no path comes from the environment."""
    for name in ("FLEXBATCH_INPUT", "FLEXBATCH_OUTPUT", "FLEXBATCH_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def make_input(inp: Path) -> Path:
    """Three distinct streams on DAY: 1 free, 2 at 0.5 = 1 credit."""
    write_plans(inp, PLANS)
    rows = [event(f"{DAY}T10:00:00", resource=f"r{i}") for i in range(3)]
    write_usage(inp, DAY, rows)
    return inp


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def has_day(out: Path) -> bool:
    return (out / "usage_daily" / f"date={DAY}" / "part-0.parquet").is_file()


@pytest.fixture
def out_with_charges(tmp_path, flexbatch) -> Path:
    inp, out = make_input(tmp_path / "in"), tmp_path / "out"
    result = flexbatch("run", "--date", DAY, "--input", str(inp), "--output", str(out))
    assert result.exit_code == 0, result.stderr
    return out


# --- help ---------------------------------------------------------------------------


def test_group_answers_help(flexbatch):
    result = flexbatch("--help")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("Usage: flexbatch")
    for name in cli.commands:
        assert name in result.stdout


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_answers_help(flexbatch, command):
    result = flexbatch(command, "--help")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"Usage: flexbatch {command}")
    assert "--help" in result.stdout
    assert result.stderr == ""


# --- paths ----------------------------------------------------------------------------


def test_run_without_input_names_the_ways_to_give_it(flexbatch, no_path_config, tmp_path):
    result = flexbatch("run", "--date", DAY)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    line = one_line(result.stderr)
    assert "FLEXBATCH_INPUT" in line
    assert "--input" in line
    assert "fix:" in line


def test_run_without_output_names_the_ways_to_give_it(flexbatch, no_path_config, tmp_path):
    inp = make_input(tmp_path / "in")
    result = flexbatch("run", "--date", DAY, "--input", str(inp))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "FLEXBATCH_OUTPUT" in one_line(result.stderr)


def test_paths_from_environment(flexbatch, no_path_config, monkeypatch, tmp_path):
    inp, out = make_input(tmp_path / "in"), tmp_path / "env-out"
    monkeypatch.setenv("FLEXBATCH_INPUT", str(inp))
    monkeypatch.setenv("FLEXBATCH_OUTPUT", str(out))

    result = flexbatch("run", "--date", DAY)

    assert result.exit_code == 0, result.stderr
    assert has_day(out)
    assert read_table(out, "charges")["credits"].sum() == Decimal(1)


def test_paths_from_flexbatch_toml_in_cwd(flexbatch, no_path_config, tmp_path):
    cwd = no_path_config
    make_input(cwd / "in")
    (cwd / "flexbatch.toml").write_text('[paths]\ninput = "in"\noutput = "out"\n')

    result = flexbatch("run", "--date", DAY)

    assert result.exit_code == 0, result.stderr
    assert has_day(cwd / "out")
    # sql finds the output through the same file
    result = flexbatch("sql", "select count(*) as n from charges", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["n", "2"]


def test_option_beats_environment_beats_toml(flexbatch, no_path_config, monkeypatch, tmp_path):
    cwd = no_path_config
    inp = make_input(tmp_path / "in")
    (cwd / "flexbatch.toml").write_text(
        f'[paths]\ninput = "{cwd / "nowhere"}"\noutput = "{cwd / "toml-out"}"\n'
    )
    monkeypatch.setenv("FLEXBATCH_INPUT", str(inp))
    monkeypatch.setenv("FLEXBATCH_OUTPUT", str(tmp_path / "env-out"))

    assert flexbatch("run", "--date", DAY).exit_code == 0
    assert has_day(tmp_path / "env-out")
    assert not (cwd / "toml-out").exists()

    result = flexbatch("run", "--date", DAY, "--output", str(tmp_path / "opt-out"))
    assert result.exit_code == 0, result.stderr
    assert has_day(tmp_path / "opt-out")
    assert not (cwd / "toml-out").exists()


def test_flexbatch_config_names_another_toml(flexbatch, no_path_config, monkeypatch, tmp_path):
    inp = make_input(tmp_path / "in")
    config = tmp_path / "elsewhere.toml"
    config.write_text(f'[paths]\ninput = "{inp}"\noutput = "{tmp_path / "cfg-out"}"\n')
    monkeypatch.setenv("FLEXBATCH_CONFIG", str(config))

    result = flexbatch("run", "--date", DAY)

    assert result.exit_code == 0, result.stderr
    assert has_day(tmp_path / "cfg-out")


def test_unknown_key_in_flexbatch_toml_is_exit_2(flexbatch, no_path_config):
    (no_path_config / "flexbatch.toml").write_text('[paths]\ninptu = "in"\n')
    result = flexbatch("run", "--date", DAY)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    line = one_line(result.stderr)
    assert "flexbatch.toml" in line
    assert "inptu" in line
    assert "fix:" in line


# --- argument errors -------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["2026-13-01", "2026-02-30", "tomorrow", "05/01/2026"])
def test_bad_date_is_exit_2_one_line(flexbatch, tmp_path, bad):
    inp = make_input(tmp_path / "in")
    out = tmp_path / "out"
    result = flexbatch("run", "--date", bad, "--input", str(inp), "--output", str(out))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    line = one_line(result.stderr)
    assert "--date" in line
    assert bad in line
    assert "YYYY-MM-DD" in line
    assert not has_day(out)


def test_bad_backfill_date_is_exit_2(flexbatch, tmp_path):
    inp = make_input(tmp_path / "in")
    result = flexbatch(
        "backfill", "--from", "2026-01-32", "--to", DAY, "--input", str(inp), "--output", "o"
    )
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "--from" in one_line(result.stderr)


def test_backfill_reversed_range_is_exit_2(flexbatch, tmp_path):
    inp, out = make_input(tmp_path / "in"), tmp_path / "out"
    result = flexbatch(
        "backfill", "--from", DAY, "--to", "2026-01-04", "--input", str(inp), "--output", str(out)
    )
    assert result.exit_code == 2, (result.stdout, result.stderr)
    line = one_line(result.stderr)
    assert "--to" in line and "--from" in line
    assert "fix:" in line
    assert not has_day(out)


def test_missing_required_option_is_exit_2(flexbatch):
    result = flexbatch("run")
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "--date" in result.stderr
    assert "Traceback" not in result.stderr


def test_unexpected_error_is_still_one_line(flexbatch, monkeypatch, tmp_path):
    """SPEC §2: every failure prints one clear line, even a bug (exit 1)."""
    from flexbatch.job import pipeline

    def boom(*args, **kwargs):
        raise RuntimeError("first line\nsecond line\n  third line")

    monkeypatch.setattr(pipeline, "run", boom)
    result = flexbatch("run", "--date", DAY, "--input", str(tmp_path), "--output", str(tmp_path))
    assert result.exit_code == 1
    line = one_line(result.stderr)
    assert "RuntimeError" in line and "first line" in line


# --- sql ------------------------------------------------------------------------------

CHARGES_QUERY = "select plan_id, tier, units, credits from charges order by tier"


def test_sql_csv_has_a_header(flexbatch, out_with_charges):
    result = flexbatch("sql", CHARGES_QUERY, "--output", str(out_with_charges), "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["plan_id", "tier", "units", "credits"]
    assert [(p, int(t), Decimal(u), Decimal(c)) for p, t, u, c in rows[1:]] == [
        ("P", 1, Decimal(1), Decimal(0)),
        ("P", 2, Decimal(2), Decimal(1)),
    ]


def test_sql_json(flexbatch, out_with_charges):
    result = flexbatch("sql", CHARGES_QUERY, "--output", str(out_with_charges), "--format", "json")
    assert result.exit_code == 0, result.stderr
    records = json.loads(result.stdout)
    assert [(r["plan_id"], r["tier"], Decimal(str(r["credits"]))) for r in records] == [
        ("P", 1, Decimal(0)),
        ("P", 2, Decimal(1)),
    ]


def test_sql_table_and_to_file(flexbatch, out_with_charges, tmp_path):
    result = flexbatch("sql", CHARGES_QUERY, "--output", str(out_with_charges))
    assert result.exit_code == 0, result.stderr
    assert "plan_id" in result.stdout and "credits" in result.stdout

    target = tmp_path / "result.csv"
    result = flexbatch(
        "sql",
        CHARGES_QUERY,
        "--output",
        str(out_with_charges),
        "--format",
        "csv",
        "--to",
        str(target),
    )
    assert result.exit_code == 0, result.stderr
    assert target.read_text().splitlines()[0] == "plan_id,tier,units,credits"


@pytest.mark.parametrize(
    "statement",
    [
        "COPY charges TO '{target}'",
        "COPY (select * from charges) TO '{target}' (FORMAT csv)",
        "CREATE TABLE t AS SELECT 1",
        "select 1; COPY charges TO '{target}'",
        "ATTACH '{target}' AS other",
    ],
    ids=["copy", "copy-query", "create", "select-then-copy", "attach"],
)
def test_sql_refuses_writes(flexbatch, out_with_charges, tmp_path, statement):
    target = tmp_path / "x.csv"
    query = statement.format(target=target)
    result = flexbatch("sql", query, "--output", str(out_with_charges))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    line = one_line(result.stderr)
    assert "fix:" in line
    assert not target.exists()


def test_sql_syntax_error_is_exit_2_one_line(flexbatch, out_with_charges):
    result = flexbatch("sql", "selec * fro charges", "--output", str(out_with_charges))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "selec" in one_line(result.stderr)


def test_sql_unknown_table_is_exit_2_one_line(flexbatch, out_with_charges):
    result = flexbatch("sql", "select * from no_such_table", "--output", str(out_with_charges))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "no_such_table" in one_line(result.stderr)


# --- logging ---------------------------------------------------------------------------


def test_json_logs_on_stderr(flexbatch, tmp_path):
    inp, out = make_input(tmp_path / "in"), tmp_path / "out"
    result = flexbatch(
        "--log-format",
        "json",
        "--log-level",
        "info",
        "run",
        "--date",
        DAY,
        "--input",
        str(inp),
        "--output",
        str(out),
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) >= 2
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all(isinstance(r, dict) for r in records)
    assert {r["level"] for r in records} == {"info"}
    assert all(r["message"] for r in records)
    assert any("charges" in r["message"] for r in records)
    for r in records:
        datetime.fromisoformat(r["ts"])
    # stdout stays the human summary, not logs
    assert result.stdout.startswith(DAY)


def test_spark_engine_without_the_extra_is_a_one_line_exit_2(tmp_path, flexbatch, monkeypatch):
    """The base install has no pyspark/sqlglot: asking for Spark says what to install."""
    monkeypatch.setitem(sys.modules, "sqlglot", None)  # import sqlglot now fails
    monkeypatch.delitem(sys.modules, "flexbatch.engines.spark_engine", raising=False)
    out = tmp_path / "out"
    result = flexbatch(
        "run", "--date", "2026-09-01", "--input", str(REPO / "data"), "--output", str(out),
        "--engine", "spark",
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "flexbatch: --engine spark needs sqlglot, which is not installed; "
        "fix: pip install 'flexbatch[spark]'"
    ]
    assert not (out / "usage_daily").exists()


# --- README set-up and demo ------------------------------------------------------------


def test_readme_starts_with_the_two_setup_commands():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"^```bash\n(.*?)^```", text, flags=re.S | re.M)
    assert block, "README.md has no ```bash block"
    first, second = block.group(1).splitlines()[:2]
    assert re.search(r"pip install \.(\s|$)", first), first  # as a user installs it
    assert "flexbatch demo" in first
    # the same extras CI installs: nothing the suite needs is left out of the command
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    extras = re.search(r"pip install --quiet -e '(\.\[[a-z,]+\])'", ci).group(1)
    assert f"pip install -e '{extras}'" in second
    assert "pytest" in second
    # the README's first fenced block is this one: it is what a reader runs first
    assert text.index("```bash") == text.index("```")


def test_demo_runs_and_prints_the_output_path(flexbatch, tmp_path):
    out = tmp_path / "demo-out"
    result = flexbatch("demo", "--output", str(out))
    assert result.exit_code == 0, result.stderr
    assert str(out) in result.stdout
    days = sorted(p.name for p in (out / "usage_daily").glob("date=*"))
    assert len(days) == 61
    assert days[0] == "date=2026-09-01" and days[-1] == "date=2026-10-31"
    runs = read_table(out, "runs")
    # the month-end: September closed, a late file for 30 September reruns it and the
    # days after it (32 days), and the correction is booked into October
    assert runs.height == 61 + 32
    assert "closed 2026-09" in result.stdout and "2026-09 -> 2026-10" in result.stdout
    assert list((out / "corrections").glob("month=2026-10/run-*.parquet"))
    assert (
        runs["rows_read"] == runs["rows_accepted"] + runs["rows_quarantined"] + runs["duplicates"]
    ).all()
    assert read_table(out, "charges").height > 0
    # SPEC §10 in the summary: globex's voided promo, rolled-over bonus and top-ups
    void = -read_table(out, "credit_ledger").filter(pl.col("entry_type") == "void")["amount"]
    assert "grant lifecycle:" in result.stdout
    assert f"G-GLOBEX-PROMO-VOID: {void.sum():,.2f} voided on 2026-09-10" in result.stdout
    assert "G-GLOBEX-Q3-BONUS: 100.00 rolled over on 2026-10-01" in result.stdout
    assert "2 top-ups of flex_token, 500.00 in all" in result.stdout
