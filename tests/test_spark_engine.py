"""``--engine spark`` gives exactly the rows ``--engine duckdb`` gives, in every table.

Spark runs in local mode with 2 threads (one JVM for the whole module). The tests skip
when pyspark or Java is missing and CI is unset, and fail when CI is set: CI installs both.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from datetime import date, datetime, time
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from polars.testing import assert_frame_equal

from helpers import USAGE_SCHEMA, add_late_file, copy_sample, write_plans, write_usage
from random_inputs import DAYS, METERS, PLANS, event_rows, write_event_rows

SAMPLE = Path(__file__).resolve().parent.parent / "data"
# every partition-keyed table the job writes, including its state
TABLES = (
    "usage_daily",
    "usage_by_user_daily",
    "charges",
    "quarantine",
    "credit_ledger",
    "balances",
    "forecast",
    "alerts",
    "topups",
    "revenue",
    "revenue_entries",
    "runs",
    "_state/subjects",
    "_state/grants",
)
RUN_VARIES = ("run_id", "started_at", "finished_at")  # when and as what a run ran


def _need_spark() -> None:
    missing = None
    try:
        import pyspark  # noqa: F401
    except ImportError:
        missing = "pyspark is not installed (pip install -e '.[spark]')"
    if missing is None and shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        missing = "no Java runtime for Spark"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)


@pytest.fixture(scope="module", autouse=True)
def spark_local():
    _need_spark()
    previous = os.environ.get("FLEXBATCH_SPARK_MASTER")
    os.environ["FLEXBATCH_SPARK_MASTER"] = "local[2]"
    yield
    if previous is None:
        os.environ.pop("FLEXBATCH_SPARK_MASTER", None)
    else:
        os.environ["FLEXBATCH_SPARK_MASTER"] = previous


def _table(out: Path, table: str, ignore: tuple[str, ...] = ()) -> pl.DataFrame:
    """All partitions of ``table`` with their key column but the ``ignore``d columns, in a
    canonical row order."""
    files = sorted((out / table).glob("*=*/*.parquet"))
    frames = [
        pl.read_parquet(f, glob=False).with_columns(
            pl.lit(f.parent.name.split("=", 1)[1]).alias("_part")
        )
        for f in files
    ]
    if not frames:
        return pl.DataFrame()
    frame = pl.concat(frames, how="vertical")
    if table == "runs":
        frame = frame.drop(*RUN_VARIES)
    frame = frame.drop(ignore, strict=False)
    return frame.sort(frame.columns, nulls_last=True)


def assert_same_output(
    duck: Path, spark: Path, ignore: tuple[str, ...] = (), skip: tuple[str, ...] = ()
) -> dict[str, int]:
    """Every table but ``skip`` equal row for row, type for type (but ``ignore``d
    columns); returns rows per table."""
    rows = {}
    for table in (t for t in TABLES if t not in skip):
        left, right = (_table(out, table, ignore) for out in (duck, spark))
        try:
            assert_frame_equal(left, right, check_exact=True, check_dtypes=True)
        except AssertionError as exc:
            raise AssertionError(f"{table}: {exc}") from None
        rows[table] = left.height
    return rows


def _uri(folder: Path) -> str:
    return folder.as_uri()  # file:///…: reached through Hadoop's FileSystem, like hdfs://


MANIFEST = ("input_manifest", "inputs_sha256")


def _backfill(
    flexbatch, inp: Path | str, out: Path | str, start: date, end: date, engine: str
) -> None:
    result = flexbatch(
        "backfill",
        "--from",
        str(start),
        "--to",
        str(end),
        "--input",
        str(inp),
        "--output",
        str(out),
        "--engine",
        engine,
    )
    assert result.exit_code == 0, result.stderr


def test_transpiled_hash_is_64_bit():
    from flexbatch.engines.spark_engine import spark_sql

    # the dedupe pre-check's hash() must not become Spark's 32-bit hash()
    assert "XXHASH64(EVENT_ID)" in spark_sql("select hash(event_id) from t").upper()


@pytest.mark.parametrize(
    ("start", "end", "quarantined"),
    [
        # an empty account id, a negative quantity, three duplicated event ids
        (date(2026, 9, 8), date(2026, 9, 10), 2),
        # a month end, the cloud_credit grant expiring on 10-01, a day without usage
        # (10-04), every algorithm (missing user/resource ids: the random inputs below)
        (date(2026, 9, 30), date(2026, 10, 4), 0),
    ],
)
def test_sample_backfill_equals_duckdb(tmp_path, flexbatch, start, end, quarantined):
    _backfill(flexbatch, SAMPLE, tmp_path / "duck", start, end, "duckdb")
    _backfill(flexbatch, SAMPLE, tmp_path / "spark", start, end, "spark")
    rows = assert_same_output(tmp_path / "duck", tmp_path / "spark")
    # the comparison compared something: every table has rows, the quarantine the
    # planted faults of the window
    assert rows.pop("quarantine") == quarantined
    # the sample's auto-recharge fires on 2026-10-19 only (its void is on 09-10, its
    # rollover on 10-01: inside the windows)
    assert rows.pop("topups") == 0
    assert all(n > 0 for n in rows.values()), rows
    assert _table(tmp_path / "spark", "runs").height == (end - start).days + 1


def test_nightly_run_on_spark_continues_duckdb_state(tmp_path, flexbatch):
    """A day run on Spark after days run on DuckDB reads the same state: a mixed history
    equals a DuckDB-only one (so a deployment can switch engines between nights)."""
    duck, mixed = tmp_path / "duck", tmp_path / "mixed"
    start, end = date(2026, 10, 14), date(2026, 10, 16)  # the price change of 10-15
    _backfill(flexbatch, SAMPLE, duck, start, end, "duckdb")
    _backfill(flexbatch, SAMPLE, mixed, start, date(2026, 10, 14), "duckdb")
    for day in ("2026-10-15", "2026-10-16"):
        result = flexbatch(
            "run", "--date", day, "--input", str(SAMPLE), "--output", str(mixed),
            "--engine", "spark",
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
    assert_same_output(duck, mixed, ignore=("command",))  # run, not backfill


@pytest.mark.parametrize("storage", ["local", "uri"])
def test_mixed_file_types_read_as_duckdb_reads_them(tmp_path, flexbatch, storage):
    """One day of files that differ as SPEC §3.1 allows: column order, an extra column,
    nanosecond and zoned timestamps, integer quantities, an all-null column, a space in
    a file name; timestamps at the day's edges (nanoseconds truncate, never round up)."""
    day = DAYS[0]
    write_plans(tmp_path / "in", PLANS)
    edge = datetime.combine(day, time(23, 59, 59, 999999))

    def rows(prefix: str, n: int) -> list[dict]:
        return [
            {
                "event_id": f"{prefix}{i}",
                "ts": edge if i == 0 else datetime.combine(day, time(i % 24, i % 60)),
                "account_id": "a",
                "scope_id": f"s{i % 3}",
                "product_code": "ADH",
                "meter": METERS[i % len(METERS)],
                "user_id": f"u{i % 4}",
                "resource_id": f"r{i % 5}",
                "quantity": float(i % 3),
            }
            for i in range(n)
        ]

    write_usage(tmp_path / "in", day, rows("a", 30), name="part-0.parquet")
    ns = pa.Table.from_pylist(rows("b", 30), schema=USAGE_SCHEMA)
    # 999 ns past each microsecond: 23:59:59.999999999 is still the day, truncated
    nanos = pc.add(pc.multiply(ns["ts"].cast(pa.int64()), 1000), 999)
    ns = ns.set_column(1, "ts", nanos.cast(pa.timestamp("ns")))
    ns = ns.append_column("client_version", pa.array(["7.1"] * ns.num_rows))
    ns = ns.select(list(reversed(ns.column_names)))
    pq.write_table(ns, tmp_path / "in" / "usage" / f"date={day}" / "late batch.parquet")
    zoned = pa.Table.from_pylist(rows("c", 30), schema=USAGE_SCHEMA)
    zoned = zoned.set_column(1, "ts", zoned["ts"].cast(pa.timestamp("ns", tz="UTC")))
    zoned = zoned.set_column(8, "quantity", zoned["quantity"].cast(pa.int64()))
    zoned = zoned.set_column(7, "resource_id", pa.nulls(zoned.num_rows))
    pq.write_table(zoned, tmp_path / "in" / "usage" / f"date={day}" / "part-2.parquet")

    _backfill(flexbatch, tmp_path / "in", tmp_path / "duck", day, day, "duckdb")
    # with URIs, the footers are read through Hadoop's FileSystem API and the
    # subject-sized tables are written by Spark into the generation
    located = _uri if storage == "uri" else str
    _backfill(flexbatch, located(tmp_path / "in"), located(tmp_path / "spark"), day, day, "spark")
    # (a Hadoop store gives modification times in milliseconds: another manifest digest)
    rows_out = assert_same_output(tmp_path / "duck", tmp_path / "spark", ignore=MANIFEST)
    runs = _table(tmp_path / "spark", "runs")
    assert runs["rows_read"].to_list() == [90]
    assert runs["input_files"].to_list() == [3]
    assert rows_out["charges"] > 0
    quarantine = _table(tmp_path / "spark", "quarantine")
    # resource plans see the all-null resource_id file's rows as missing resources
    assert set(quarantine["source_file"]) == {f"usage/date={day}/part-2.parquet"}


@settings(
    max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=event_rows)
def test_random_inputs_equal_duckdb(tmp_path_factory, flexbatch, rows):
    root = tmp_path_factory.mktemp("case")
    write_event_rows(root / "in", rows)
    _backfill(flexbatch, root / "in", root / "duck", DAYS[0], DAYS[-1], "duckdb")
    _backfill(flexbatch, root / "in", root / "spark", DAYS[0], DAYS[-1], "spark")
    assert_same_output(root / "duck", root / "spark")


# --------------------------------------------------------------------------- URI storage
def _committed(out: Path, day: date | str) -> str:
    """The run named by the day's latest commit record."""
    commits = sorted((out / "_days" / str(day) / "_commits").glob("*.json"))
    return json.loads(commits[-1].read_text())["run_id"]


def _hive_matches_commit(out: Path) -> None:
    """Every day has one commit record and no generation left; each table's partition holds
    exactly the commit's files (Spark's own tables as one part-0 file); nothing of an
    unfinished write is left."""
    for day_root in sorted((out / "_days").iterdir()):
        assert sorted(p.name for p in day_root.iterdir()) == ["_commits"]
        (commit_file,) = (day_root / "_commits").glob("*.json")
        commit = json.loads(commit_file.read_text())
        assert commit_file.name.split(".")[1] == commit["run_id"]
        for table, spec in commit["tables"].items():
            key = "as_of" if table == "forecast" else "date"
            partition = out / table / f"{key}={day_root.name}"
            present = {p.name for p in partition.glob("*.parquet")}
            assert set(spec["files"]) <= present
            if table not in ("runs", "restatements"):  # logs keep earlier runs' files
                assert present == set(spec["files"]) == {"part-0.parquet"}
    # (Hadoop's local file system keeps a .NAME.crc checksum beside each file it writes)
    hidden = [p for p in out.rglob(".*") if p.is_file() and not p.name.endswith(".crc")]
    assert hidden == [] and not (out / "_lock").exists()


def test_uri_backfill_and_rerun_equal_duckdb(tmp_path, flexbatch):
    """IN and OUT as URIs: a backfill, then a rerun of its first day (which recomputes
    the later days), give DuckDB's rows on local folders; the subject-sized tables are
    Spark's own files, and a rerun replaces files instead of adding any."""
    start, end = date(2026, 9, 30), date(2026, 10, 1)
    out = tmp_path / "spark"
    _backfill(flexbatch, SAMPLE, tmp_path / "duck", start, end, "duckdb")
    _backfill(flexbatch, _uri(SAMPLE), _uri(out), start, end, "spark")
    _hive_matches_commit(out)
    for target in (str(tmp_path / "duck"), _uri(out)):
        result = flexbatch(
            "run", "--date", str(start), "--input", str(SAMPLE), "--output", target,
            "--engine", "spark" if target.startswith("file:") else "duckdb",
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
    _hive_matches_commit(out)
    rows = assert_same_output(tmp_path / "duck", out, ignore=MANIFEST)
    assert rows["runs"] == 4 and rows["usage_by_user_daily"] > 0 and rows["_state/subjects"] > 0


def test_uri_crash_after_commit_is_finished_by_the_next_run(tmp_path, flexbatch, monkeypatch):
    """A crash between the commit and the moves into the hive folders: the day is
    committed, status calls it stale, the next command's recovery finishes the moves; a
    crash before the commit leaves the previous day, and its generation is deleted."""
    from flexbatch.storage import publish
    from flexbatch.storage.hadoop import HadoopStore

    day = date(2026, 9, 8)
    out = tmp_path / "out"
    args = ("--input", _uri(SAMPLE), "--output", _uri(out), "--engine", "spark")
    _backfill(flexbatch, _uri(SAMPLE), _uri(out), day, day, "spark")
    first = _committed(out, day)

    def crash(*args, **kwargs):
        raise OSError("killed")

    monkeypatch.setattr(publish, "_roll_forward", crash)
    assert flexbatch("run", "--date", str(day), *args).exit_code == 1
    monkeypatch.undo()
    second = _committed(out, day)
    assert second != first  # committed, though the hive folders still hold the first run
    assert (out / "_days" / str(day) / second).is_dir()
    assert [p.name for p in (out / "runs" / f"date={day}").glob("*.parquet")] == [
        f"run-{first}.parquet"
    ]
    result = flexbatch("status", "--format", "json", *args[:4])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)[0]["reason"] == "cascade interrupted"

    original = HadoopStore.rename

    def crash_on_commit(self, src, dst):
        if "/_commits/" in dst and dst.endswith(".json"):
            raise OSError("killed")
        return original(self, src, dst)

    monkeypatch.setattr(HadoopStore, "rename", crash_on_commit)
    assert flexbatch("run", "--date", str(day), *args).exit_code == 1
    monkeypatch.undo()
    # that run first finished the second run's publication, then died before its commit
    assert _committed(out, day) == second
    generations = {p.name for p in (out / "_days" / str(day)).iterdir()} - {"_commits"}
    assert len(generations) == 1 and second not in generations  # written, never committed
    _backfill(flexbatch, _uri(SAMPLE), _uri(out), day, day, "spark")  # recovers, reruns
    _hive_matches_commit(out)
    assert _table(out, "runs").height == 3  # three runs of the day published, in order


class Killed(BaseException):
    """A crash: not an Exception, so nothing on the way up handles it."""


def test_uri_cascade_killed_anywhere_is_stale_until_finished(tmp_path, flexbatch, monkeypatch):
    """The publication protocol on a URI OUT: a cascade killed at random store operations
    is never called fresh, and run --since-changed makes OUT equal DuckDB's clean run."""
    import random

    from flexbatch.storage.hadoop import HadoopStore

    start, end = date(2026, 9, 29), date(2026, 9, 30)
    inp = copy_sample(tmp_path / "in", [start, end])
    base = tmp_path / "base"
    _backfill(flexbatch, str(inp), _uri(base), start, end, "spark")
    add_late_file(inp, start)  # the cascade: that day and the next change
    duck = tmp_path / "duck"
    _backfill(flexbatch, str(inp), duck, start, end, "duckdb")
    calls = {"n": 0, "stop": 0}
    for name in ("write_bytes", "put", "rename", "rename_over", "delete"):
        real = getattr(HadoopStore, name)

        def operation(self, *a, _real=real, **k):
            calls["n"] += 1
            if calls["n"] == calls["stop"]:
                raise Killed
            return _real(self, *a, **k)

        monkeypatch.setattr(HadoopStore, name, operation)
    args = ("run", "--date", str(start), "--input", str(inp), "--engine", "spark")
    shutil.copytree(base, tmp_path / "count")
    assert flexbatch(*args, "--output", _uri(tmp_path / "count")).exit_code == 0
    total = calls["n"]
    for trial, stop in enumerate(sorted(random.Random(3).sample(range(1, total + 1), 3))):
        out = tmp_path / f"out-{trial}"
        shutil.copytree(base, out)
        calls.update(n=0, stop=stop)
        with pytest.raises(Killed):
            flexbatch(*args, "--output", _uri(out))
        calls["stop"] = 0
        (out / "_lock").unlink(missing_ok=True)  # a killed holder's lease: expired by now
        status = flexbatch("status", "--format", "json", "--input", str(inp), "--output",
                           _uri(out))  # fmt: skip
        rows = json.loads(status.stdout)
        assert len(rows) == 2
        # both days change: one still holding the base run is wrong, so it must be stale
        for row in rows:
            if row["run_id"] == _committed(base, row["date"]):
                assert row["state"] == "stale", row
        result = flexbatch("run", "--since-changed", "--input", str(inp), "--output",
                           _uri(out), "--engine", "spark")  # fmt: skip
        assert result.exit_code == 0, result.stderr
        _hive_matches_commit(out)
        assert_same_output(duck, out, ignore=MANIFEST, skip=("runs",))  # runs: every run


def test_uri_lease_refuses_a_live_holder_and_takes_over_an_expired_one(tmp_path, flexbatch):
    from pyspark.sql import SparkSession

    from flexbatch.storage.hadoop import HadoopStore

    out = tmp_path / "out"
    store = HadoopStore(_uri(out), SparkSession.builder.getOrCreate())
    holder = {"token": "t", "pid": 7, "host": "elsewhere", "command": "backfill",
              "started_at": "2026-11-24T01:00:00Z"}  # fmt: skip
    store.write_bytes("_lock", json.dumps({**holder, "expires_at": 4e9}).encode())
    args = ("run", "--date", "2026-09-08", "--input", _uri(SAMPLE), "--output", _uri(out),
            "--engine", "spark")  # fmt: skip
    result = flexbatch(*args)
    assert result.exit_code == 4
    assert "locked by pid 7 on elsewhere (command backfill" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (out / "usage_daily").exists()
    store.write_bytes("_lock", json.dumps({**holder, "expires_at": 1.0}).encode())  # died
    result = flexbatch(*args)
    assert result.exit_code == 0, result.stderr
    assert not (out / "_lock").exists() and (out / "usage_daily" / "date=2026-09-08").is_dir()


def test_uri_needs_the_spark_engine(tmp_path, flexbatch):
    result = flexbatch("run", "--date", "2026-09-08", "--input", str(SAMPLE),
                       "--output", _uri(tmp_path / "out"))  # fmt: skip
    assert result.exit_code == 2
    assert "a URI is read and written through Spark; fix: add --engine spark" in result.stderr
    result = flexbatch("sql", "--output", _uri(tmp_path / "out"), "select 1")
    assert result.exit_code == 2 and "needs a local folder" in result.stderr
    assert not (tmp_path / "out").exists()


def test_uri_lease_is_renewed_while_held_and_released(tmp_path, monkeypatch):
    from pyspark.sql import SparkSession

    from flexbatch.errors import LockHeldError
    from flexbatch.storage.hadoop import HadoopStore
    from flexbatch.storage.lease import assert_lease, remote_lock

    spark = SparkSession.builder.getOrCreate()
    store = HadoopStore(_uri(tmp_path / "out"), spark, lease_seconds=3)  # renewed every second
    with remote_lock(store, "backfill"):
        first = json.loads(store.read_bytes("_lock"))
        threading.Event().wait(1.8)
        renewed = json.loads(store.read_bytes("_lock"))
        assert renewed["token"] == first["token"]
        assert renewed["expires_at"] > first["expires_at"]
        with pytest.raises(LockHeldError, match="command backfill"), remote_lock(store, "run"):
            pass
        assert_lease(store)  # still ours: a commit may go ahead
        store.write_bytes("_lock", json.dumps({**renewed, "token": "other"}).encode())
        with pytest.raises(LockHeldError, match="lost its lease"):
            assert_lease(store)  # taken over while paused: no commit
    assert store.exists("_lock")  # the successor's lease is left alone


def test_uri_lease_left_empty_by_a_dead_writer_expires(tmp_path, monkeypatch):
    """A holder that died between creating the lease and writing it leaves an empty file:
    refused while younger than a lease, taken over once older."""
    from pyspark.sql import SparkSession

    from flexbatch.errors import LockHeldError
    from flexbatch.storage.hadoop import HadoopStore
    from flexbatch.storage.lease import remote_lock

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "_lock").write_bytes(b"")
    spark = SparkSession.builder.getOrCreate()
    store = HadoopStore(_uri(tmp_path / "out"), spark, lease_seconds=60)
    with pytest.raises(LockHeldError, match="an unknown process"), remote_lock(store, "run"):
        pass
    long_ago = (tmp_path / "out" / "_lock").stat().st_mtime - 61
    os.utime(tmp_path / "out" / "_lock", (long_ago, long_ago))
    with remote_lock(store, "run"):
        assert json.loads(store.read_bytes("_lock"))["command"] == "run"
    assert not store.exists("_lock")


def test_spark_reads_every_published_table_whole(tmp_path, flexbatch):
    """OUT's hive folders are plain: ``spark.read.parquet(OUT/<table>)`` reads every row
    the catalog's views count."""
    import duckdb
    from pyspark.sql import SparkSession

    from flexbatch.tables import VIEWS

    out = tmp_path / "out"
    _backfill(flexbatch, SAMPLE, out, date(2026, 9, 1), date(2026, 9, 3), "duckdb")
    spark = SparkSession.builder.getOrCreate()
    con = duckdb.connect(str(out / "flexbatch.duckdb"), read_only=True)
    read = 0
    for spec in VIEWS:
        if not (out / spec.path).is_dir():
            continue  # restatements, corrections: none in a first backfill
        want = con.sql(f"select count(*) from {spec.name}").fetchall()[0][0]
        assert spark.read.parquet(str(out / spec.path)).count() == want, spec.name
        read += 1
    assert read == len(VIEWS) - 2


def test_glob_characters_in_paths_with_the_spark_engine(tmp_path, flexbatch):
    """Spark reads exactly the files of an IN named like a glob, next to a look-alike IN,
    and publishes into an OUT named like one: the same rows as DuckDB."""
    day = date(2026, 9, 1)
    source = sorted((SAMPLE / "usage" / f"date={day}").glob("*.parquet"))
    lookalike = copy_sample(tmp_path / "in1", [day])
    inp = copy_sample(tmp_path / "in[1]", [])
    (inp / "usage" / f"date={day}").mkdir(parents=True)
    shutil.copy2(source[0], inp / "usage" / f"date={day}" / "events [1]*?.parquet")
    shutil.copy2(source[1], lookalike / "usage" / f"date={day}" / "events 1xx.parquet")
    _backfill(flexbatch, str(inp), tmp_path / "duck", day, day, "duckdb")
    _backfill(flexbatch, str(inp), tmp_path / "o u t[1]*?", day, day, "spark")
    rows = assert_same_output(tmp_path / "duck", tmp_path / "o u t[1]*?")
    assert rows["usage_daily"] > 0
    read = pl.read_parquet(next((tmp_path / "duck" / "runs").glob("*/*.parquet")), glob=False)
    assert read["rows_read"].to_list() == [pq.read_metadata(source[0]).num_rows]
