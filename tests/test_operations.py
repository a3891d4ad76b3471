"""Running unattended (issue 4, SPEC §2): late data and config changes, the output lock,
reading each raw day once, and machine-readable logs. (Crash safety under SIGKILL is
tests/test_publication.py.)

The lock and stale-lock tests use real subprocesses (``python -m flexbatch.cli``), the
others run the CLI in-process. Inputs are copies of a few days of the sample data.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

from flexbatch.config import Paths
from flexbatch.engines import duckdb_engine
from flexbatch.ingest import usage_input
from flexbatch.job import pipeline
from flexbatch.storage import publish
from flexbatch.storage.publish import DAYS
from flexbatch.storage.stores import STAGING, LocalStore

from helpers import read_table

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data"
FIRST = date(2026, 9, 1)
LOGS = ("runs", "restatements")  # a file per run: history, not a day's results
PARTITION = re.compile(r"^(date|as_of)=(\d{4}-\d{2}-\d{2})$")


@pytest.fixture(autouse=True)
def restore_logging():
    """Each CLI call installs a handler on the capture stream; undo it after the test."""
    logger = logging.getLogger("flexbatch")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


def days(n: int, start: date = FIRST) -> list[date]:
    return [start + timedelta(days=i) for i in range(n)]


def copy_sample(root: Path, span: list[date]) -> Path:
    """IN with the sample's configuration and the usage partitions of ``span``."""
    root.mkdir(parents=True)
    for name in ("rate_plans.toml", "grants.csv", "transfers.csv"):
        shutil.copy2(SAMPLE / name, root / name)
    for day in span:
        shutil.copytree(SAMPLE / "usage" / f"date={day}", root / "usage" / f"date={day}")
    return root


def io_args(inp: Path, out: Path) -> list[str]:
    return ["--input", str(inp), "--output", str(out)]


def backfill_args(span: list[date], inp: Path, out: Path) -> list[str]:
    return ["backfill", "--from", str(span[0]), "--to", str(span[-1]), *io_args(inp, out)]


def clean_backfill(inp: Path, out: Path, span: list[date]) -> Path:
    """The reference: one uninterrupted backfill into an empty OUT."""
    pipeline.backfill(Paths(inp, out), span[0], span[-1])
    return out


# --- subprocesses ------------------------------------------------------------------------

SUBPROCESS_ENV = {k: v for k, v in os.environ.items() if not k.startswith("FLEXBATCH_")}


def start(*args: str, stdout=subprocess.PIPE) -> subprocess.Popen:
    """``flexbatch ARGS`` as a real process of its own."""
    return subprocess.Popen(
        [sys.executable, "-m", "flexbatch.cli", *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        env=SUBPROCESS_ENV,
    )


def finish(proc: subprocess.Popen, timeout: float = 120) -> tuple[int, str]:
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


def sigkill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def lock_holder(out: Path) -> dict:
    try:
        return json.loads((out / "_lock").read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}


def wait_for_lock(out: Path, pid: int, proc: subprocess.Popen, timeout: float = 60) -> dict:
    """Until process ``pid`` has written itself into OUT/_lock, i.e. holds the lock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        holder = lock_holder(out)
        if holder.get("pid") == pid:
            return holder
        assert proc.poll() is None, f"exited {proc.returncode} before taking the lock"
        time.sleep(0.01)
    raise AssertionError(f"pid {pid} never took {out / '_lock'}")


# --- what a reader sees ------------------------------------------------------------------


def processed_days(out: Path) -> list[date]:
    return publish.processed_days(LocalStore(out))


def partition_files(out: Path) -> list[Path]:
    """Every published Parquet file, as a reader reaches it:
    OUT/<table>/<key>=<day>/<file>.parquet."""
    return sorted(
        p
        for pattern in ("*/*=*/*.parquet", "_state/*/*=*/*.parquet")
        for p in out.glob(pattern)
        if p.relative_to(out).parts[0] not in (STAGING, DAYS) and PARTITION.match(p.parent.name)
    )


def table_of(path: Path, out: Path) -> str:
    return path.parent.parent.relative_to(out).as_posix()


def day_of(path: Path) -> date:
    return date.fromisoformat(PARTITION.match(path.parent.name).group(2))


def published_days(out: Path, tables: list[str]) -> dict[str, set[date]]:
    found: dict[str, set[date]] = {table: set() for table in tables}
    for path in partition_files(out):
        found.setdefault(table_of(path, out), set()).add(day_of(path))
    return found


def snapshot(out: Path) -> dict[str, pl.DataFrame]:
    """Every table but ``runs``, read back whole (each file must be readable), sorted."""
    frames: dict[str, list[pl.DataFrame]] = {}
    for path in partition_files(out):
        table = table_of(path, out)
        if table in LOGS:
            continue
        frame = pl.read_parquet(path, glob=False).with_columns(
            pl.lit(day_of(path)).alias("_partition")
        )
        frames.setdefault(table, []).append(frame)
    tables = {}
    for table, parts in frames.items():
        frame = pl.concat(parts, how="diagonal_relaxed")
        tables[table] = frame.sort(frame.columns, nulls_last=True)
    return tables


def assert_same_output(actual: Path, expected: Path) -> None:
    def layout(out: Path) -> list[str]:
        return [
            p.relative_to(out).as_posix()
            for p in partition_files(out)
            if table_of(p, out) not in LOGS
        ]

    assert layout(actual) == layout(expected)
    got, want = snapshot(actual), snapshot(expected)
    assert sorted(got) == sorted(want)
    for table in want:
        try:
            assert_frame_equal(got[table], want[table], check_exact=True)
        except AssertionError as exc:
            raise AssertionError(f"table {table} differs: {exc}") from None


# --- late data and configuration changes -------------------------------------------------


def status_lines(flexbatch, inp: Path, out: Path) -> dict[date, str]:
    result = flexbatch("status", *io_args(inp, out))
    assert result.exit_code == 0, result.stderr
    states = {}
    for line in result.stdout.splitlines():
        day, _, rest = line.partition(" ")
        if len(day) != 10:  # the books' month lines (SPEC §8) follow the days
            continue
        parts = [part.strip() for part in rest.split("  ") if part.strip()]
        states[date.fromisoformat(day)] = parts[1]  # after finished_at; notes follow
    return states


def printed_days(stdout: str) -> list[date]:
    return [date.fromisoformat(line.split()[0]) for line in stdout.splitlines() if line.strip()]


def add_late_file(inp: Path, day: date) -> Path:
    """New events for ``day`` in a new file of its partition: new resources and users."""
    source = sorted((inp / "usage" / f"date={day}").glob("*.parquet"))[0]
    table = pq.read_table(source)
    for column in ("event_id", "resource_id", "user_id"):
        index = table.schema.get_field_index(column)
        late = pc.binary_join_element_wise(pa.scalar("late-"), table[column], "")
        table = table.set_column(index, column, late)
    path = source.parent / "late-arrival.parquet"
    pq.write_table(table, path)
    return path


def test_late_file_makes_its_day_stale_and_since_changed_recomputes_from_it(flexbatch, tmp_path):
    span = days(5)
    inp = copy_sample(tmp_path / "in", span)
    out = tmp_path / "out"
    assert flexbatch(*backfill_args(span, inp, out)).exit_code == 0
    assert status_lines(flexbatch, inp, out) == {d: "fresh" for d in span}
    before = read_table(out, "usage_daily")

    late_day = span[2]
    add_late_file(inp, late_day)
    expected = {d: "fresh" for d in span} | {late_day: "stale: inputs changed"}
    assert status_lines(flexbatch, inp, out) == expected

    result = flexbatch("run", "--since-changed", *io_args(inp, out))
    assert result.exit_code == 0, result.stderr
    assert printed_days(result.stdout) == span[2:]  # that day and every later day
    runs = read_table(out, "runs").group_by("date").len().sort("date")
    assert runs["len"].to_list() == [1, 1, 2, 2, 2]

    assert_same_output(out, clean_backfill(inp, tmp_path / "clean", span))
    after = read_table(out, "usage_daily")
    assert after.filter(pl.col("date") == late_day)["events"].sum() > (
        before.filter(pl.col("date") == late_day)["events"].sum()
    )
    assert status_lines(flexbatch, inp, out) == {d: "fresh" for d in span}
    # nothing stale: nothing to do
    result = flexbatch("run", "--since-changed", *io_args(inp, out))
    assert result.exit_code == 0 and result.stdout == ""


def test_config_change_makes_every_day_stale(flexbatch, tmp_path):
    span = days(3)
    inp = copy_sample(tmp_path / "in", span)
    out = tmp_path / "out"
    assert flexbatch(*backfill_args(span, inp, out)).exit_code == 0

    grants = inp / "grants.csv"
    grants.write_text(
        grants.read_text(encoding="utf-8")
        + "G-ACME-TOPUP,acme,flex_credit,100,2026-09-02,2027-09-01,,,purchase,1,USD\n",
        encoding="utf-8",
    )
    assert status_lines(flexbatch, inp, out) == {d: "stale: config changed" for d in span}

    result = flexbatch("run", "--since-changed", *io_args(inp, out))
    assert result.exit_code == 0, result.stderr
    assert printed_days(result.stdout) == span
    assert_same_output(out, clean_backfill(inp, tmp_path / "clean", span))
    assert status_lines(flexbatch, inp, out) == {d: "fresh" for d in span}
    ledger = read_table(out, "credit_ledger")
    assert "G-ACME-TOPUP" in ledger["grant_id"].to_list()


# --- one writer ---------------------------------------------------------------------------


def test_second_run_on_a_locked_output_exits_4_at_once_naming_the_holder(tmp_path):
    span = days(5)
    inp = copy_sample(tmp_path / "in", span)
    out = tmp_path / "out"

    first = start(*backfill_args(span, inp, out), stdout=subprocess.DEVNULL)
    holder = wait_for_lock(out, first.pid, first)
    began = time.monotonic()
    second = start("run", "--date", str(span[0]), *io_args(inp, out))
    code, err = finish(second)
    waited = time.monotonic() - began
    still_running = first.poll() is None

    assert code == 4, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert f"pid {first.pid}" in lines[0]
    assert socket.gethostname() in lines[0]
    assert holder["started_at"] in lines[0]
    assert "Traceback" not in err
    # it did not wait for the lock: the first run was still going when it gave up
    assert still_running, f"the second run took {waited:.1f}s, after the first had finished"

    code, err = finish(first)
    assert code == 0, err
    assert processed_days(out) == span
    assert read_table(out, "runs")["command"].unique().to_list() == ["backfill"]


HOLD_LOCK = r"""
import sys, time
from pathlib import Path
from flexbatch.storage.lock import output_lock

with output_lock(Path(sys.argv[1]), "holder"):
    print("held", flush=True)
    time.sleep(600)
"""


def test_lock_of_a_killed_process_is_taken_over(flexbatch, tmp_path):
    span = days(2)
    inp = copy_sample(tmp_path / "in", span)
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(out)],
        stdout=subprocess.PIPE,
        text=True,
        env=SUBPROCESS_ENV,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        refused = flexbatch("run", "--date", str(span[0]), *io_args(inp, out))
        assert refused.exit_code == 4
        assert f"pid {holder.pid}" in refused.stderr
        assert not (out / "usage_daily").exists()
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.communicate(timeout=30)

    # the dead holder's pid is still written in OUT/_lock, but the lock is free
    assert lock_holder(out)["pid"] == holder.pid
    result = flexbatch(*backfill_args(span, inp, out))
    assert result.exit_code == 0, result.stderr
    assert processed_days(out) == span
    assert lock_holder(out) == {}  # released on the way out


class NotABackfill(AssertionError):
    """OUT differs from one clean backfill of its inputs."""


def test_days_to_recompute_are_chosen_under_the_lock(flexbatch, tmp_path, monkeypatch):
    """A late-data rerun of day 1 that starts while the nightly run of day 3 is finishing:
    the nightly publishes day 3 and releases the lock just after the rerun listed the
    days it must recompute. The rerun waits for nothing (no exit 4: the lock is free by
    then), so it must still recompute day 3, computed by the nightly from the old day 2."""
    span = days(3)
    inp = copy_sample(tmp_path / "in", span)
    out = tmp_path / "out"
    assert flexbatch(*backfill_args(span[:2], inp, out)).exit_code == 0
    add_late_file(inp, span[0])

    real_load = pipeline.JobConfig.load.__func__
    nightly = []

    def load_after_the_nightly(cls, input_root):
        if not nightly:  # between listing the days and taking the lock
            nightly.append(finish(start("run", "--date", str(span[2]), *io_args(inp, out))))
        return real_load(cls, input_root)

    monkeypatch.setattr(pipeline.JobConfig, "load", classmethod(load_after_the_nightly))
    result = flexbatch("run", "--date", str(span[0]), *io_args(inp, out))
    assert nightly and nightly[0][0] == 0, nightly
    assert result.exit_code == 0, result.stderr
    assert processed_days(out) == span

    monkeypatch.undo()
    try:
        assert_same_output(out, clean_backfill(inp, tmp_path / "clean", span))
    except AssertionError as exc:
        recomputed = printed_days(result.stdout)
        raise NotABackfill(f"the rerun recomputed only {recomputed}: {exc}") from None


# --- cost: each raw day read once ---------------------------------------------------------


def test_long_backfill_reads_each_raw_day_once_in_order(flexbatch, tmp_path, monkeypatch):
    span = days(20)
    inp = copy_sample(tmp_path / "in", span)
    out = tmp_path / "out"
    # the last days are already processed: the backfill of the first ones recomputes them
    tail = span[18:]
    assert flexbatch(*backfill_args(tail, inp, out)).exit_code == 0

    registered: list[date] = []
    listed: list[str] = []
    real_register, real_list_files = duckdb_engine.register_raw_events, LocalStore.list_files

    def spy_register(con, input_root, listing):
        registered.append(listing.day)
        return real_register(con, input_root, listing)

    def spy_list_files(self, folder):
        if folder.startswith("usage/"):
            listed.append(folder)
        return real_list_files(self, folder)

    monkeypatch.setattr(duckdb_engine, "register_raw_events", spy_register)
    monkeypatch.setattr(LocalStore, "list_files", spy_list_files)

    result = flexbatch(*backfill_args(span[:18], inp, out))
    assert result.exit_code == 0, result.stderr
    assert registered == span  # 1..18 asked for, then 19..20 already there: once each
    # IN's day folder is listed once per day: that listing is read, recorded and checked
    assert listed == [usage_input.partition_rel(d) for d in span]
    assert printed_days(result.stdout) == span


# --- logs ---------------------------------------------------------------------------------


DAY_SUMMARY = re.compile(
    r"^backfill (?P<day>\d{4}-\d{2}-\d{2}): read (?P<read>\d+), accepted (?P<accepted>\d+), "
    r"quarantined (?P<quarantined>\d+), duplicates (?P<duplicates>\d+), "
    r"charges (?P<charges>\d+), credits (?P<credits>-?[\d.]+) in (?P<seconds>[\d.]+)s$"
)
STEP = re.compile(r"^step (?P<step>\w+)\s+(?P<rows>\d+|\(view\)) rows\s+(?P<seconds>[\d.]+)s$")


def test_json_logs_have_a_summary_line_per_day(flexbatch, tmp_path):
    span = days(2, start=date(2026, 9, 7))  # the 8th has quarantined rows
    inp = copy_sample(tmp_path / "in", span)
    out = tmp_path / "out"
    result = flexbatch(
        "--log-format", "json", "--log-level", "info", *backfill_args(span, inp, out)
    )
    assert result.exit_code == 0, result.stderr

    records = [json.loads(line) for line in result.stderr.splitlines()]  # one object a line
    assert records and all(set(r) >= {"ts", "level", "logger", "message"} for r in records)
    summaries = {}
    for r in records:
        match = DAY_SUMMARY.match(r["message"])
        if match:
            assert r["logger"] == "flexbatch.job.pipeline" and r["level"] == "info"
            summaries[date.fromisoformat(match["day"])] = match
    assert sorted(summaries) == span

    runs = read_table(out, "runs")
    charges = read_table(out, "charges")
    for day, match in summaries.items():
        run = runs.filter(pl.col("date") == day).row(0, named=True)
        assert int(match["read"]) == run["rows_read"]
        assert int(match["accepted"]) == run["rows_accepted"]
        assert int(match["quarantined"]) == run["rows_quarantined"]
        assert int(match["charges"]) == charges.filter(pl.col("date") == day).height
        assert float(match["seconds"]) > 0
    assert int(summaries[span[1]]["quarantined"]) > 0

    steps = [
        STEP.match(r["message"]) for r in records if r["logger"] == "flexbatch.transform.charging"
    ]
    assert steps and all(steps), "every step line has its row count and duration"
    assert {"charges", "usage_daily"} <= {m["step"] for m in steps}
