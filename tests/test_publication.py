"""The foundation: OUT is plain hive folders every reader reads whole; one publication
protocol that survives a kill anywhere; a killed cascade is never called fresh; and no path
is ever a glob pattern.

Kills are real: the CLI runs in a process of its own whose store operations (every write,
rename and delete under OUT) are counted, and it SIGKILLs itself at the Nth. A counting run
first says how many operations a command makes; the trials then kill at seeded random
points among them.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

from flexbatch.config import Paths
from flexbatch.job import pipeline
from flexbatch.serving.catalog import CATALOG_NAME
from flexbatch.storage.publish import COMMITS, DAYS, DayStage, processed_days, recover
from flexbatch.storage.stores import LocalStore
from flexbatch.tables import TABLES, VIEWS

from helpers import SAMPLE, add_late_file, copy_sample

pytestmark = pytest.mark.slow

FIRST = date(2026, 9, 1)
SUBPROCESS_ENV = {k: v for k, v in os.environ.items() if not k.startswith("FLEXBATCH_")}
# a day's results; logs aside, and the books (a month's, written by the run: its run_id)
STATE_TABLES = tuple(t for t in TABLES if not t.log and t.producer != "books")

KILL_AT_OP = r"""
import atexit, os, signal, sys
from pathlib import Path
from flexbatch import cli
from flexbatch.storage.stores import LocalStore

stop_at = int(os.environ["KILL_AT_OP"])
ops = 0

def counted(name):
    real = getattr(LocalStore, name)
    def operation(self, *args, **kwargs):
        global ops
        ops += 1
        if ops == stop_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(self, *args, **kwargs)
    setattr(LocalStore, name, operation)

for name in ("write_bytes", "put", "rename", "rename_over", "delete"):
    counted(name)
atexit.register(lambda: Path(os.environ["COUNT_FILE"]).write_text(str(ops)))
sys.argv = ["flexbatch", *sys.argv[1:]]
cli.main()
"""


def days(n: int, start: date = FIRST) -> list[date]:
    return [start + timedelta(days=i) for i in range(n)]


def io(inp: Path | str, out: Path | str) -> list[str]:
    return ["--input", str(inp), "--output", str(out)]


def run_cli(args: list[str], kill_at: int = 0, count: Path | None = None) -> tuple[int, str]:
    env = {**SUBPROCESS_ENV, "KILL_AT_OP": str(kill_at), "COUNT_FILE": str(count or os.devnull)}
    proc = subprocess.run(
        [sys.executable, "-c", KILL_AT_OP, *args],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    return proc.returncode, proc.stderr


def count_ops(args: list[str], tmp: Path) -> int:
    counter = tmp / "ops"
    code, err = run_cli(args, count=counter)
    assert code == 0, err
    return int(counter.read_text())


# --- what a reader sees -------------------------------------------------------------------


def day_tables(out: Path) -> dict[tuple[str, str], pl.DataFrame]:
    """Every (table, day) partition of the state tables, read from the hive folders, in a
    canonical row order (each file must be whole and readable)."""
    found = {}
    for spec in STATE_TABLES:
        for folder in sorted((out / spec.path).glob(f"{spec.partition_key}=*")):
            files = sorted(folder.glob("*.parquet"))
            if files:
                frame = pl.concat(
                    [pl.read_parquet(f, glob=False) for f in files], how="diagonal_relaxed"
                )
                found[(spec.path, folder.name)] = frame.sort(frame.columns, nulls_last=True)
    return found


def assert_days_equal(got: Path, want: Path, only: set[str] | None = None) -> None:
    """The state tables of ``got`` equal ``want``'s, partition for partition (``only``:
    just those days)."""
    a, b = day_tables(got), day_tables(want)
    if only is not None:
        a = {k: v for k, v in a.items() if k[1].split("=")[1] in only}
        b = {k: v for k, v in b.items() if k[1].split("=")[1] in only}
    assert sorted(a) == sorted(b)
    for key in b:
        try:
            assert_frame_equal(a[key], b[key], check_exact=True)
        except AssertionError as exc:
            raise AssertionError(f"{key} differs: {exc}") from None


def status(out: Path, inp: Path) -> list[dict]:
    code = subprocess.run(
        [sys.executable, "-m", "flexbatch", "status", *io(inp, out), "--format", "json"],
        capture_output=True, text=True, env=SUBPROCESS_ENV, timeout=120,
    )  # fmt: skip
    assert code.returncode == 0, code.stderr
    return json.loads(code.stdout)


def assert_status_truthful(out: Path, inp: Path, ref: Path) -> list[date]:
    """No day that differs from the clean backfill is ever called fresh unless a stale day
    precedes it (``run --since-changed`` recomputes from the earliest stale day on): every
    day before the earliest stale one equals the reference. Returns the stale days."""
    rows = status(out, inp)
    stale = [date.fromisoformat(r["date"]) for r in rows if r["state"] == "stale"]
    fresh = {r["date"] for r in rows if r["state"] == "fresh"}
    assert all(r["reason"] for r in rows if r["state"] == "stale")
    trusted = {d for d in fresh if not stale or date.fromisoformat(d) < min(stale)}
    assert_days_equal(out, ref, only=trusted)
    return stale


def assert_no_leftovers(out: Path) -> None:
    """Only the lock, the catalog, the hive folders and one commit record per day."""
    assert not (out / "_staging").exists() and not (out / "_cascades").exists()
    for day_root in (out / DAYS).iterdir():
        assert [p.name for p in day_root.iterdir()] == [COMMITS]
        assert len(list((day_root / COMMITS).iterdir())) == 1
    stray = [
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if p.is_file() and p.name.startswith(".")
    ]
    assert stray == []


# --- kill anywhere ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def three_days(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("three")
    span = days(3)
    inp = copy_sample(root / "in", span)
    ref = root / "ref"
    pipeline.backfill(Paths(inp, ref), span[0], span[-1])
    return inp, ref


def test_backfill_killed_anywhere_is_whole_and_resumes_to_the_clean_output(tmp_path, three_days):
    inp, ref = three_days
    span = processed_days(LocalStore(ref))
    args = ["backfill", "--from", str(span[0]), "--to", str(span[-1])]
    total = count_ops([*args, *io(inp, tmp_path / "count")], tmp_path)
    rng = random.Random(12)
    for trial, kill_at in enumerate(sorted(rng.sample(range(1, total + 1), 6))):
        out = tmp_path / f"out-{trial}"
        code, err = run_cli([*args, *io(inp, out)], kill_at=kill_at)
        assert code == -signal.SIGKILL, err
        # before any recovery: each published partition is whole and the reference's own
        got = day_tables(out)
        want = day_tables(ref)
        for key, frame in got.items():
            assert_frame_equal(frame, want[key], check_exact=True)
        assert_status_truthful(out, inp, ref)
        code, err = run_cli([*args, *io(inp, out)])
        assert code == 0, err
        assert_days_equal(out, ref)
        assert_no_leftovers(out)
        assert status(out, inp) and {r["state"] for r in status(out, inp)} == {"fresh"}


def test_cascade_killed_anywhere_is_stale_until_finished(tmp_path):
    """``run --date D`` after late data recomputes D and the days after it; killed at any
    point, status never calls a wrong day fresh, and either ``run --since-changed`` or a
    ``run`` of a later day finishes the cascade: OUT equals a clean backfill."""
    span = days(4)
    inp = copy_sample(tmp_path / "in", span)
    base = tmp_path / "base"
    pipeline.backfill(Paths(inp, base), span[0], span[-1])
    add_late_file(inp, span[1])
    ref = tmp_path / "ref"
    pipeline.backfill(Paths(inp, ref), span[0], span[-1])

    rerun = ["run", "--date", str(span[1])]
    shutil.copytree(base, tmp_path / "count-out", symlinks=True)
    total = count_ops([*rerun, *io(inp, tmp_path / "count-out")], tmp_path)
    rng = random.Random(7)
    for trial, kill_at in enumerate(sorted(rng.sample(range(1, total + 1), 6))):
        out = tmp_path / f"out-{trial}"
        shutil.copytree(base, out, symlinks=True)
        code, err = run_cli([*rerun, *io(inp, out)], kill_at=kill_at)
        assert code == -signal.SIGKILL, err
        stale = assert_status_truthful(out, inp, ref)
        # the last day changes with the cascade: unless republished (then equal to the
        # clean backfill, checked above), it is stale, and after the intent, as interrupted
        reasons = {r["date"]: r["reason"] for r in status(out, inp)}
        if span[3] in stale and kill_at > 2:  # the intent is written by the first operations
            assert reasons[str(span[3])] == "cascade interrupted"
        repair = ["run", "--since-changed"] if trial % 2 == 0 else ["run", "--date", str(span[3])]
        code, err = run_cli([*repair, *io(inp, out)])
        assert code == 0, err
        assert_days_equal(out, ref)
        assert {r["state"] for r in status(out, inp)} == {"fresh"}
        assert_no_leftovers(out)


# --- the protocol, step by step -----------------------------------------------------------


def _stage(store: LocalStore, day: date, run_id: str, value: int) -> DayStage:
    stage = DayStage(store, day, run_id)
    stage.add("usage_daily", pl.DataFrame({"account_id": ["a"], "events": [value]}))
    stage.add("charges", pl.DataFrame({"account_id": ["a"], "units": [value]}))
    return stage


def test_recovery_rolls_a_commit_forward_and_drops_an_uncommitted_generation(tmp_path, monkeypatch):
    from flexbatch.storage import publish

    store = LocalStore(tmp_path / "out")
    day = date(2026, 9, 1)
    _stage(store, day, "r1", 1).publish()

    def die(*args, **kwargs):
        raise KeyboardInterrupt("killed after the commit")

    monkeypatch.setattr(publish, "_roll_forward", die)
    with pytest.raises(KeyboardInterrupt):
        _stage(store, day, "r2", 2).publish()
    monkeypatch.undo()
    read = lambda t: pl.read_parquet(tmp_path / "out" / t / f"date={day}" / "part-0.parquet")  # noqa: E731
    assert read("charges")["units"].to_list() == [1]  # the hive folders: still run 1
    recover(store)  # committed: finished
    assert read("charges")["units"].to_list() == [2]
    assert read("usage_daily")["events"].to_list() == [2]

    _stage(store, day, "r3", 3)  # written, never committed
    assert (tmp_path / "out" / DAYS / str(day) / "r3").is_dir()
    recover(store)
    assert read("charges")["units"].to_list() == [2]
    assert [p.name for p in (tmp_path / "out" / DAYS / str(day)).iterdir()] == [COMMITS]


def test_an_output_of_linked_partitions_is_upgraded_to_plain_folders(tmp_path):
    """An OUT written by the previous version (partitions linked to _days/D/current)."""
    out = tmp_path / "out"
    day_root = out / DAYS / "2026-09-01"
    (day_root / "old-run" / "charges").mkdir(parents=True)
    pl.DataFrame({"units": [5]}).write_parquet(day_root / "old-run" / "charges" / "part-0.parquet")
    os.symlink("old-run", day_root / "current")
    (out / "charges").mkdir()
    os.symlink("../_days/2026-09-01/current/charges", out / "charges" / "date=2026-09-01")
    recover(LocalStore(out))
    partition = out / "charges" / "date=2026-09-01"
    assert partition.is_dir() and not partition.is_symlink()
    assert pl.read_parquet(partition / "part-0.parquet")["units"].to_list() == [5]
    assert [p.name for p in day_root.iterdir()] == [COMMITS]


# --- every reader reads every table whole -------------------------------------------------


@pytest.fixture(scope="module")
def restated_out(tmp_path_factory) -> tuple[Path, Path]:
    """Five sample days, then late data on the second and its cascade (restatements)."""
    root = tmp_path_factory.mktemp("readers")
    span = days(5)
    inp = copy_sample(root / "in", span)
    out = root / "out"
    pipeline.backfill(Paths(inp, out), span[0], span[-1])
    add_late_file(inp, span[1])
    pipeline.run_changed(Paths(inp, out))
    return inp, out


def catalog_counts(out: Path) -> dict[str, int]:
    con = duckdb.connect(str(out / CATALOG_NAME), read_only=True)
    try:
        return {t.name: con.sql(f"select count(*) from {t.name}").fetchall()[0][0] for t in VIEWS}
    finally:
        con.close()


def test_every_reader_reads_every_table_whole(restated_out, tmp_path):
    _, out = restated_out
    counts = catalog_counts(out)
    assert counts["restatements"] > 0 and counts["runs"] == 5 + 4
    copy = tmp_path / "copied"
    subprocess.run(["cp", "-r", str(out), str(copy)], check=True)  # what a user's copy sees
    for root in (out, copy):
        for spec in VIEWS:
            folder = root / spec.path
            if not folder.is_dir():
                assert counts[spec.name] == 0 and spec.name == "corrections"  # no close yet
                continue
            readers = {
                "duckdb **": duckdb.sql(
                    f"select count(*) from read_parquet('{folder}/**/*.parquet', "
                    "hive_partitioning = true, union_by_name = true)"
                ).fetchall()[0][0],
                "duckdb */*": duckdb.sql(
                    f"select count(*) from read_parquet('{folder}/*/*.parquet', "
                    "union_by_name = true)"
                ).fetchall()[0][0],
                "polars": pl.scan_parquet(folder, hive_partitioning=True)
                .select(pl.len())
                .collect()
                .item(),
                "pyarrow": ds.dataset(folder, format="parquet", partitioning="hive").count_rows(),
            }
            assert readers == dict.fromkeys(readers, counts[spec.name]), spec.name


def test_restatements_record_before_and_after_for_changed_accounts_only(restated_out):
    inp, out = restated_out
    restated = duckdb.sql(
        f"select * from read_parquet('{out}/restatements/*/*.parquet', hive_partitioning = 1)"
    ).pl()
    balances = duckdb.sql(
        f"select * from read_parquet('{out}/balances/*/*.parquet', hive_partitioning = 1)"
    ).pl()
    late_day = days(5)[1]
    first = restated.filter(pl.col("date") == late_day)
    assert set(first["reason"]) == {"inputs_changed"}
    assert set(restated.filter(pl.col("date") > late_day)["reason"]) <= {"cascade"}
    assert restated.filter(pl.col("date") < late_day).is_empty()
    # after = the published balances, exactly; before != after in at least one measure
    joined = restated.join(balances, on=["date", "account_id", "currency"])
    assert joined.height == restated.height
    for m in ("consumed", "overdraft", "available"):
        assert (joined[f"{m}_after"] == joined[m]).all()
    changed = pl.any_horizontal(
        pl.col(f"{m}_before").ne_missing(pl.col(f"{m}_after"))
        for m in ("consumed", "overdraft", "available")
    )
    assert restated.select(changed.all()).item()
    # the late file touched one account: the others are not restated on that day
    late_accounts = set(
        pl.read_parquet(inp / "usage" / f"date={late_day}" / "late-arrival.parquet")["account_id"]
    )
    assert set(first["account_id"]) <= late_accounts


# --- no path is a pattern -----------------------------------------------------------------


def test_glob_characters_in_paths_read_exactly_the_files_inside_in(tmp_path, flexbatch):
    day = FIRST
    sample_day = sorted((SAMPLE / "usage" / f"date={day}").glob("*.parquet"))
    # IN "in[1]" holds one file named with glob characters; its look-alike "in1" holds more
    lookalike = copy_sample(tmp_path / "in1", [day])
    inp = copy_sample(tmp_path / "in[1]", [])
    part = inp / "usage" / f"date={day}"
    part.mkdir(parents=True)
    shutil.copy2(sample_day[0], part / "events [1]*?.parquet")
    shutil.copy2(sample_day[1], lookalike / "usage" / f"date={day}" / "events 1xx.parquet")
    out = tmp_path / "o u t[1]*?"
    (tmp_path / "o u t1xx").mkdir()  # a look-alike OUT a glob would also match

    result = flexbatch("backfill", "--from", str(day), "--to", str(day), *io(inp, out))
    assert result.exit_code == 0, result.stderr
    rows = pq.read_metadata(part / "events [1]*?.parquet").num_rows
    events = pl.concat(
        pl.read_parquet(f, glob=False)
        for f in (out / "usage_daily" / f"date={day}").glob("*.parquet")
    )["events"].sum()
    quarantined = pl.read_parquet(
        next((out / "runs" / f"date={day}").glob("*.parquet")), glob=False
    )
    assert events + quarantined["rows_quarantined"].sum() + quarantined["duplicates"].sum() == rows
    assert quarantined["rows_read"].to_list() == [rows]

    sql = flexbatch("sql", "select sum(events) as n from usage_daily", "--output", str(out),
                    "--format", "csv")  # fmt: skip
    assert sql.exit_code == 0, sql.stderr
    assert sql.stdout.splitlines() == ["n", str(events)]
    assert catalog_counts(out)["usage_daily"] > 0
    state = flexbatch("status", *io(inp, out), "--format", "json")
    assert [r["state"] for r in json.loads(state.stdout)] == ["fresh"]
    export = flexbatch("export", "charges", "--output", str(out), "--format", "csv")
    assert export.exit_code == 0, export.stderr
    assert len(export.stdout.splitlines()) - 1 == catalog_counts(out)["charges"]


def test_status_counts_the_restatements_of_each_day(restated_out, flexbatch):
    inp, out = restated_out
    counts = duckdb.sql(
        f"select date, count(*) as n from read_parquet('{out}/restatements/*/*.parquet', "
        "hive_partitioning = 1) group by date"
    ).fetchall()
    result = flexbatch("status", *io(inp, out))
    assert result.exit_code == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert counts
    for day, n in counts:
        assert lines[str(day)].endswith(f"(restated: {n} rows)")
    assert sum("restated" in line for line in lines.values()) == len(counts)


def test_the_account_report_shows_its_restated_history(restated_out, flexbatch, tmp_path):
    _, out = restated_out
    rows = duckdb.sql(
        f"select account_id, count(*) as n from read_parquet('{out}/restatements/*/*.parquet') "
        "group by account_id order by n desc limit 1"
    ).fetchall()
    (account, n), *_ = rows
    page = tmp_path / "report.html"
    result = flexbatch("report", "--account", account, "--output", str(out), "--to", str(page))
    assert result.exit_code == 0, result.stderr
    html = page.read_text(encoding="utf-8")
    section = html.split('<section class="card restated">', 1)[1].split("</section>", 1)[0]
    assert "History restated on " in section
    assert section.count("<tr data-date=") == n
    assert "late or changed usage files" in section
