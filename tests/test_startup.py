"""Start-up stays light (issue 27): ``flexbatch --help`` and every command's ``--help``
load no engine or dataframe library; ``status`` loads neither pyarrow nor Pandera (JSON:
Polars alone; text, on an OUT with days and months: Polars and DuckDB), and lists each
day's partition of IN once, so the CLI answers at once. A check of which modules load
and what is listed, not of time: it holds on a loaded machine."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal

import pytest

HEAVY = ("duckdb", "pandas", "pandera", "polars", "pyarrow", "pyspark", "hypothesis")

PROBE = """
import json, sys
from flexbatch.cli import main
sys.argv = ["flexbatch", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in json.loads(sys.argv[-1]))))
"""


def probe(*args: str) -> tuple[str, list[str]]:
    """What ``flexbatch ARGS`` prints in a fresh interpreter, and the heavy modules it
    holds afterwards."""
    probe = PROBE.replace("json.loads(sys.argv[-1])", repr(set(HEAVY)))
    done = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(list(args))],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stderr == ""  # nothing third-party writes to stderr either
    *printed, modules = done.stdout.strip().splitlines()
    return "\n".join(printed), json.loads(modules)


def loaded(*args: str) -> list[str]:
    """The heavy modules a fresh interpreter holds after ``flexbatch ARGS``."""
    return probe(*args)[1]


def test_help_imports_no_engine_or_dataframe_library():
    assert loaded("--help") == []


@pytest.mark.parametrize("command", ["run", "backfill", "sql", "export", "status", "report"])
def test_command_help_imports_no_engine_or_dataframe_library(command):
    assert loaded(command, "--help") == []


# status reads OUT's records with Polars; nothing of the days needs DuckDB, pyarrow,
# Pandera or Spark
DAYS_READ = {"polars"}


def test_status_loads_no_engine_nor_validation_library(tmp_path):
    from helpers import SAMPLE

    args = ("status", "--input", str(SAMPLE), "--output", str(tmp_path), "--format", "json")
    assert {name.split(".")[0] for name in loaded(*args)} <= DAYS_READ


def test_the_probe_sees_an_import(tmp_path):
    # the check can fail: the SQL command's work imports DuckDB
    assert "duckdb" in loaded("sql", "select 1", "--output", str(tmp_path))


SPAN = [date(2026, 9, 29) + timedelta(days=i) for i in range(3)]  # two open months


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    """IN with three sample days and OUT with them processed (statements published)."""
    from flexbatch import api

    from helpers import copy_sample

    root = tmp_path_factory.mktemp("processed")
    inp = copy_sample(root / "in", SPAN)
    api.backfill(SPAN[0], SPAN[-1], inp, root / "out")
    return inp, root / "out"


def status_text(inp, out) -> tuple[str, list[str]]:
    return probe("status", "--input", str(inp), "--output", str(out))


# the text form checks each open month's statements against the ledger: sql/books on an
# in-memory DuckDB (a light import; frames cross as Arrow C streams, without pyarrow),
# from Pandera-free column lists
BOOKS_READ = {"polars", "duckdb"}


def test_text_status_of_processed_days_loads_no_validation_library(processed):
    text, modules = status_text(*processed)
    assert {name.split(".")[0] for name in modules} <= BOOKS_READ
    days = [line.split()[0] for line in text.splitlines()[: len(SPAN)]]
    assert days == [d.isoformat() for d in SPAN]
    assert text.splitlines()[len(SPAN) :] == ["months:", "  2026-09  open", "  2026-10  open"]


def test_json_status_of_processed_days_loads_no_engine_nor_validation_library(processed):
    # the JSON form is the days only: no statements computed
    text, modules = probe("status", "--input", str(processed[0]), "--output",
                          str(processed[1]), "--format", "json")  # fmt: skip
    assert {name.split(".")[0] for name in modules} <= DAYS_READ
    assert [s["state"] for s in json.loads(text)] == ["fresh"] * len(SPAN)


def test_text_status_lists_each_partition_of_in_once(processed, tmp_path, monkeypatch):
    # one listing of a day's partition gives both its staleness (the manifest) and what
    # it holds unread; a stray file (not a usage file: the day stays fresh) shows that
    # the one listing reaches the text
    from click.testing import CliRunner

    from flexbatch.cli import cli
    from flexbatch.storage.stores import LocalStore

    inp, out = processed
    copy = tmp_path / "in"
    shutil.copytree(inp, copy)
    (copy / "usage" / f"date={SPAN[1]}" / "late-events.csv").write_text("x\n")
    listed: list[str] = []
    list_files = LocalStore.list_files

    def counted(self, folder):
        listed.append(folder)
        return list_files(self, folder)

    monkeypatch.setattr(LocalStore, "list_files", counted)
    done = CliRunner().invoke(cli, ["status", "--input", str(copy), "--output", str(out)])
    assert done.exit_code == 0, done.output
    usage = sorted(f for f in listed if f.startswith("usage/"))
    assert usage == [f"usage/date={d}" for d in SPAN]  # each day once
    lines = done.output.splitlines()
    assert lines[0].endswith("  fresh")
    assert lines[1].endswith(f"  fresh  (not read: usage/date={SPAN[1]}/late-events.csv)")


def test_text_status_says_when_a_month_no_longer_follows_the_ledger(processed, tmp_path):
    # a command killed between publishing a day and republishing its month's statements:
    # 30 September's balances moved (one more credit consumed), its statement did not
    import polars as pl

    inp, out = processed
    moved = tmp_path / "out"
    shutil.copytree(out, moved)
    (balances,) = (moved / "balances" / "date=2026-09-30").glob("*.parquet")
    frame = pl.read_parquet(balances)
    bump = pl.when(pl.int_range(pl.len()) == 0).then(Decimal(1)).otherwise(Decimal(0))
    frame.with_columns(pl.col("consumed") + bump.cast(pl.Decimal(38, 6))).write_parquet(balances)
    text, modules = status_text(inp, moved)
    assert {name.split(".")[0] for name in modules} <= BOOKS_READ
    assert text.splitlines()[len(SPAN) :] == [
        "months:",
        "  2026-09  open  (statements out of date: the next run recomputes them)",
        "  2026-10  open",  # its own days and corrections did not move
    ]


def test_text_status_with_a_closed_month_loads_no_validation_library(processed, tmp_path):
    # a closed month: status counts the corrections it needs (none here), by
    # sql/books/corrections.sql
    from flexbatch import api

    inp, out = processed
    books = tmp_path / "out"
    shutil.copytree(out, books)
    api.close("2026-09", inp, books)
    text, modules = status_text(inp, books)
    assert {name.split(".")[0] for name in modules} <= BOOKS_READ
    september, october = text.splitlines()[len(SPAN) + 1 :]
    assert september.startswith("  2026-09  closed at ") and september.endswith("Z")
    assert october == "  2026-10  open"


def test_the_column_lists_status_reads_are_the_pandera_models():
    # status reads these Pandera-free lists; the published models are the contract
    from flexbatch.books.frames import BALANCES, CORRECTIONS, STATEMENTS
    from flexbatch.books.statements import CORRECTION_SUMS
    from flexbatch.job.changes import RUN_COLUMNS
    from flexbatch.schemas import OUTPUT_MODELS

    def model(name: str) -> dict:
        return {c: d.type for c, d in OUTPUT_MODELS[name].to_schema().dtypes.items()}

    assert list(STATEMENTS.items()) == list(model("statements").items())  # order too
    assert list(CORRECTIONS.items()) == list(model("corrections").items())
    for columns, name in ((BALANCES, "balances"), (CORRECTION_SUMS, "corrections"),
                          (RUN_COLUMNS, "runs")):  # fmt: skip
        published = {c: t for c, t in columns.items() if c != "date"}  # date: the folder
        assert published == {c: model(name)[c] for c in published}, name
