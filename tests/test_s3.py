"""IN and OUT on S3 (SPEC §11), against a real S3-compatible server these tests start on
localhost (moto's server mode, a separate process on a free port), with the default
DuckDB engine: a backfill, late data and its cascade, a SIGKILL during publication and the
rerun, readers reading every table straight from the bucket, hostile key names, the lease,
and the reading commands (sql, status, export, report, explain, simulate).

Every S3 OUT is checked against a local OUT computed from the same inputs: the files of
every non-log table must be byte for byte the same.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import boto3
import duckdb
import polars as pl
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

import flexbatch as fb
from flexbatch.storage.s3 import S3Store
from flexbatch.storage.s3_lease import LOCK, s3_lock
from flexbatch.tables import TABLES, VIEWS

from helpers import add_late_file, copy_sample

pytestmark = pytest.mark.slow

FIRST = date(2026, 9, 1)
SPAN = [FIRST + timedelta(days=i) for i in range(3)]
# the books' statements name the run that wrote them (SPEC §8), so two OUTs differ there
STATE_TABLES = [t for t in TABLES if not t.log and t.producer != "books"]


# -- the server ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[str]:
    """moto's S3 server on a free localhost port, and the standard AWS variables pointing
    at it for this process and its children."""
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(endpoint, timeout=1)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"moto server did not start: {log.read_text()}") from None
            time.sleep(0.2)
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
    }
    saved = {k: os.environ.get(k) for k in [*env, "AWS_PROFILE", "AWS_SESSION_TOKEN"]}
    os.environ.update(env)
    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(k, None)
    try:
        yield endpoint
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        proc.terminate()
        proc.wait(timeout=30)


def client():
    return boto3.client("s3")


def new_bucket(s3_server: str) -> str:
    name = f"fb-{uuid.uuid4().hex[:12]}"
    client().create_bucket(Bucket=name)
    return name


def upload(local: Path, bucket: str, prefix: str) -> None:
    s3 = client()
    for path in sorted(local.rglob("*")):
        rel = path.relative_to(local).as_posix()
        if path.is_file():
            s3.upload_file(str(path), bucket, f"{prefix}/{rel}")
        elif path.is_dir() and not any(path.iterdir()):
            s3.put_object(Bucket=bucket, Key=f"{prefix}/{rel}/", Body=b"")  # folder marker


def keys(bucket: str, prefix: str) -> list[str]:
    s3, found, token = client(), [], None
    while True:
        kwargs = {"Bucket": bucket, "Prefix": f"{prefix}/"}
        if token:
            kwargs["ContinuationToken"] = token
        page = s3.list_objects_v2(**kwargs)
        found += [o["Key"][len(prefix) + 1 :] for o in page.get("Contents", [])]
        if not page.get("IsTruncated"):
            return sorted(found)
        token = page["NextContinuationToken"]


def get(bucket: str, key: str) -> bytes:
    return client().get_object(Bucket=bucket, Key=key)["Body"].read()


def state_files(root: Path) -> dict[str, bytes]:
    """Every file of every non-log table of a local OUT, by relative path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for spec in STATE_TABLES
        for p in sorted((root / spec.path).glob("*=*/*.parquet"))
    }


def s3_state_files(bucket: str, prefix: str) -> dict[str, bytes]:
    tables = tuple(f"{spec.path}/" for spec in STATE_TABLES)
    return {k: get(bucket, f"{prefix}/{k}") for k in keys(bucket, prefix) if k.startswith(tables)}


def assert_no_leftovers(bucket: str, prefix: str) -> None:
    """After a command: no lock, no cascade intent, no generation, one commit per day."""
    found = keys(bucket, prefix)
    assert LOCK not in found and not [k for k in found if k.startswith("_cascades/")]
    days = [k for k in found if k.startswith("_days/")]
    assert all(k.split("/")[2] == "_commits" for k in days), days
    assert len(days) == len({k.split("/")[1] for k in days})


# -- a backfill, late data and the cascade -----------------------------------------------------


@pytest.fixture(scope="module")
def s3_backfill(s3_server, tmp_path_factory) -> dict:
    """Three sample days plus a day delivered as an empty folder (a ``date=D/`` marker),
    backfilled from S3 into S3 through the library, and the same locally."""
    root = tmp_path_factory.mktemp("s3")
    inp = copy_sample(root / "in", SPAN)
    empty_day = SPAN[-1] + timedelta(days=1)
    (inp / "usage" / f"date={empty_day}").mkdir(parents=True)
    bucket = new_bucket(s3_server)
    upload(inp, bucket, "in")
    s3_in, s3_out = f"s3://{bucket}/in", f"s3://{bucket}/out/"
    summary = fb.backfill(SPAN[0], empty_day, s3_in, s3_out)
    ref = root / "ref"
    want = fb.backfill(SPAN[0], empty_day, inp, ref)
    return {
        "root": root, "inp": inp, "ref": ref, "bucket": bucket, "s3_in": s3_in,
        "s3_out": s3_out.rstrip("/"), "summary": summary, "want": want, "days": [*SPAN, empty_day],
    }  # fmt: skip


def test_backfill_from_s3_into_s3_equals_the_local_backfill(s3_backfill):
    b = s3_backfill
    summary, want = b["summary"], b["want"]
    assert summary.processed == tuple(b["days"]) and summary.output == b["s3_out"]
    assert [(d.rows_read, d.charge_rows, d.credits) for d in summary.days] == [
        (d.rows_read, d.charge_rows, d.credits) for d in want.days
    ]
    assert summary.days[-1].rows_read == 0 and summary.days[0].rows_read > 0
    got = s3_state_files(b["bucket"], "out")
    assert got == state_files(b["ref"]) and len(got) == len(STATE_TABLES) * 4
    assert_no_leftovers(b["bucket"], "out")
    statuses = fb.status(b["s3_in"], b["s3_out"])
    assert [(s["date"], s["state"]) for s in statuses] == [(str(d), "fresh") for d in b["days"]]


def test_late_data_on_s3_cascades_like_a_local_output(s3_backfill, tmp_path):
    """A late file for day 2 on S3: status says so, run_since_changed recomputes days 2..3
    (the cascade) and restates, and OUT equals a local backfill of the new inputs."""
    b = s3_backfill
    bucket = new_bucket("")
    inp = tmp_path / "in"
    subprocess.run(["cp", "-r", str(b["inp"]), str(inp)], check=True)
    upload(inp, bucket, "in")
    s3_in, s3_out = f"s3://{bucket}/in", f"s3://{bucket}/out"
    fb.backfill(SPAN[0], SPAN[-1], s3_in, s3_out)
    late = add_late_file(inp, SPAN[1])
    client().upload_file(str(late), bucket, f"in/{late.relative_to(inp).as_posix()}")
    reasons = [s["reason"] for s in fb.status(s3_in, s3_out)]
    assert reasons == [None, "inputs changed", None]
    summary = fb.run_since_changed(s3_in, s3_out)
    assert summary.processed == tuple(SPAN[1:]) and summary.days[0].restated > 0
    ref = tmp_path / "ref"
    fb.backfill(SPAN[0], SPAN[-1], inp, ref)
    assert s3_state_files(bucket, "out") == state_files(ref)
    restated = fb.sql("select count(*) as n from restatements", s3_out)["n"][0]
    assert restated == summary.days[0].restated + sum(d.restated for d in summary.days[1:])
    assert {s["state"] for s in fb.status(s3_in, s3_out)} == {"fresh"}
    assert_no_leftovers(bucket, "out")


# -- a SIGKILL during publication ------------------------------------------------------------

KILL_AT_OP = r"""
import atexit, os, signal, sys, threading
from pathlib import Path
from flexbatch import cli
from flexbatch.storage.s3 import S3Store

stop_at = int(os.environ["KILL_AT_OP"])
ops = 0

def counted(name):
    real = getattr(S3Store, name)
    def operation(self, *args, **kwargs):
        global ops
        if threading.current_thread().name == "flexbatch-lease":
            return real(self, *args, **kwargs)  # renewals: as many as the run lasts
        ops += 1
        if ops == stop_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(self, *args, **kwargs)
    setattr(S3Store, name, operation)

for name in ("put_conditional", "put", "rename", "rename_over", "delete"):
    counted(name)
atexit.register(lambda: Path(os.environ["COUNT_FILE"]).write_text(str(ops)))
sys.argv = ["flexbatch", *sys.argv[1:]]
cli.main()
"""


LEASE_SECONDS = 3


def run_cli(args: list[str], kill_at: int = 0, count: Path | None = None) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEXBATCH_")}
    env.update(KILL_AT_OP=str(kill_at), COUNT_FILE=str(count or os.devnull))
    env["FLEXBATCH_LEASE_SECONDS"] = str(LEASE_SECONDS)  # a killed run's lease expires soon
    proc = subprocess.run(
        [sys.executable, "-c", KILL_AT_OP, *args],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    return proc.returncode, proc.stderr


def test_a_run_killed_during_publication_is_whole_and_the_rerun_finishes_it(s3_backfill, tmp_path):
    """SIGKILL at seeded random store operations of a backfill into S3: every partition
    a reader can see is whole and a clean backfill's own; the rerun recovers (rolls a
    committed day forward, drops an uncommitted generation) and equals the clean one.
    The killed run's lease blocks the rerun until it expires (``FLEXBATCH_LEASE_SECONDS``,
    3 s here): S3 has no lock the system releases when its holder dies."""
    b = s3_backfill
    bucket, s3_in = b["bucket"], b["s3_in"]
    args = ["backfill", "--from", str(SPAN[0]), "--to", str(SPAN[1]), "--input", s3_in]
    ref = state_files(b["ref"])
    want = {k: v for k, v in ref.items() if f"={SPAN[0]}/" in k or f"={SPAN[1]}/" in k}
    counter = tmp_path / "ops"
    code, err = run_cli([*args, "--output", f"s3://{bucket}/count"], count=counter)
    assert code == 0, err
    total = int(counter.read_text())
    rng = random.Random(5)
    for trial, kill_at in enumerate(sorted(rng.sample(range(2, total + 1), 3))):
        prefix = f"kill-{trial}"
        code, err = run_cli([*args, "--output", f"s3://{bucket}/{prefix}"], kill_at=kill_at)
        assert code == -signal.SIGKILL, err
        seen = s3_state_files(bucket, prefix)
        assert all(want[k] == v for k, v in seen.items())  # whole, never half or mixed
        code, err = run_cli([*args, "--output", f"s3://{bucket}/{prefix}"])
        if code == 4:  # the dead run's lease, until it expires
            assert "locked by pid" in err, err
            time.sleep(LEASE_SECONDS + 0.5)
            code, err = run_cli([*args, "--output", f"s3://{bucket}/{prefix}"])
        assert code == 0, err
        assert s3_state_files(bucket, prefix) == want
        assert_no_leftovers(bucket, prefix)
        statuses = fb.status(s3_in, f"s3://{bucket}/{prefix}")
        assert {s["state"] for s in statuses} == {"fresh"} and len(statuses) == 2


# -- readers ---------------------------------------------------------------------------------


def test_every_reader_reads_every_table_whole_from_the_bucket(s3_backfill, s3_server):
    """Polars, pyarrow and DuckDB (over pyarrow's S3 file system: DuckDB's own S3 reader
    is an extension it downloads) read each table straight from S3, with as many rows as
    ``flexbatch.sql`` counts."""
    b = s3_backfill
    bucket = b["bucket"]
    host = s3_server.split("://", 1)[1]
    fs = pafs.S3FileSystem(
        endpoint_override=host, scheme="http", access_key="testing", secret_key="testing",
        region="us-east-1",
    )  # fmt: skip
    options = {
        "aws_endpoint_url": s3_server, "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing", "aws_region": "us-east-1", "aws_allow_http": "true",
    }  # fmt: skip
    counts = fb.sql(
        " union all ".join(f"select '{v.name}' as t, count(*) as n from {v.name}" for v in VIEWS),
        b["s3_out"],
    )
    for spec in VIEWS:
        want = dict(counts.iter_rows())[spec.name]
        if not want:
            continue  # restatements: none in a first backfill
        dataset = ds.dataset(
            f"{bucket}/out/{spec.path}", filesystem=fs, format="parquet", partitioning="hive"
        )
        arrow_dataset = dataset  # noqa: F841 (DuckDB reads the Python variable by name)
        readers = {
            "pyarrow": dataset.count_rows(),
            "polars": pl.scan_parquet(
                f"s3://{bucket}/out/{spec.path}/", hive_partitioning=True, storage_options=options
            )
            .select(pl.len())
            .collect()
            .item(),
            "duckdb": duckdb.sql("select count(*) from arrow_dataset").fetchall()[0][0],
        }
        assert readers == dict.fromkeys(readers, want), spec.name
    charges = pl.read_parquet(
        f"s3://{bucket}/out/charges/", hive_partitioning=True, storage_options=options
    )
    assert charges["credits"].sum() == b["summary"].credits


def test_reading_commands_on_s3_equal_their_local_answers(s3_backfill, flexbatch, tmp_path):
    b = s3_backfill
    s3_in, s3_out, inp, ref = b["s3_in"], b["s3_out"], b["inp"], b["ref"]
    query = "select account_id, sum(credits) as c from charges group by 1 order by 1"
    assert fb.sql(query, s3_out).equals(fb.sql(query, ref))
    tid = fb.sql("select max(transaction_id) as t from charges", ref)["t"][0]
    assert fb.explain(tid, s3_in, s3_out) == fb.explain(tid, inp, ref)
    plans = inp / "rate_plans.toml"
    assert fb.simulate(plans, SPAN[1], SPAN[2], s3_in, s3_out).equals(
        fb.simulate(plans, SPAN[1], SPAN[2], inp, ref)
    )
    for out, name in ((s3_out, "s3.csv"), (str(ref), "local.csv")):
        result = flexbatch("export", "balances", "--output", out, "--format", "csv",
                           "--to", str(tmp_path / name))  # fmt: skip
        assert result.exit_code == 0, result.stderr
    assert (tmp_path / "s3.csv").read_text() == (tmp_path / "local.csv").read_text()
    for where, (i, o) in {"s3": (s3_in, s3_out), "local": (str(inp), str(ref))}.items():
        args = ["--account", "acme", "--input", i, "--output", o, "--as-of", str(SPAN[2])]
        result = flexbatch("report", *args, "--to", str(tmp_path / f"{where}.html"))
        assert result.exit_code == 0, result.stderr
    page = (tmp_path / "s3.html").read_text()
    assert "AVEVA Data Hub" in page  # product names from the S3 IN's rate plans
    assert page == (tmp_path / "local.html").read_text()
    result = flexbatch("status", "--input", s3_in, "--output", s3_out, "--format", "json")
    assert [s["state"] for s in json.loads(result.stdout)] == ["fresh"] * 4


# -- hostile names ---------------------------------------------------------------------------


def test_keys_with_spaces_and_glob_characters_are_read_as_themselves(
    s3_server, tmp_path, flexbatch
):
    """IN ``in put[1]*?`` beside decoys ``in put1`` and ``in put[1]*?x`` (a prefix that
    extends it), a usage file ``events [1]*?.parquet``, OUT ``o u t[1]*?``."""
    bucket = new_bucket(s3_server)
    inp = copy_sample(tmp_path / "in", SPAN[:1])
    folder = inp / "usage" / f"date={SPAN[0]}"
    files = sorted(folder.glob("*.parquet"))
    files[0].rename(folder / "events [1]*?.parquet")
    rows = sum(pq.read_metadata(f).num_rows for f in folder.glob("*.parquet"))
    for prefix in ("in put[1]*?", "in put1", "in put[1]*?x"):
        upload(inp, bucket, prefix)
    client().upload_file(str(folder / "events [1]*?.parquet"), bucket,
                         f"in put1/usage/date={SPAN[0]}/more.parquet")  # fmt: skip
    client().upload_file(str(folder / "events [1]*?.parquet"), bucket,
                         f"in put[1]*?x/usage/date={SPAN[0]}/more.parquet")  # fmt: skip
    client().put_object(Bucket=bucket, Key=f"in put[1]*?/usage/date={SPAN[0]}/notes.csv", Body=b"x")
    s3_in, s3_out = f"s3://{bucket}/in put[1]*?", f"s3://{bucket}/o u t[1]*?"
    summary = fb.backfill(SPAN[0], SPAN[0], s3_in, s3_out)
    assert summary.days[0].rows_read == rows and summary.days[0].input_files == len(files)
    manifest = fb.sql("select input_manifest from runs", s3_out)["input_manifest"][0]
    assert f"usage/date={SPAN[0]}/events [1]*?.parquet" in [f[0] for f in json.loads(manifest)]
    ref = tmp_path / "ref"
    fb.backfill(SPAN[0], SPAN[0], inp, ref)
    assert s3_state_files(bucket, "o u t[1]*?") == state_files(ref)
    result = flexbatch("status", "--input", s3_in, "--output", s3_out, "--format", "json")
    assert [s["state"] for s in json.loads(result.stdout)] == ["fresh"]
    result = flexbatch("status", "--input", s3_in, "--output", s3_out)
    assert result.stdout.rstrip().endswith(f"fresh  (not read: usage/date={SPAN[0]}/notes.csv)")
    result = flexbatch("sql", "select count(*) as n from usage_daily", "--output", s3_out,
                       "--format", "csv")  # fmt: skip
    assert result.stdout.split() == ["n", str(len(pl.read_parquet(
        next((ref / "usage_daily").glob("*/*.parquet")))))]  # fmt: skip


# -- the lease -------------------------------------------------------------------------------


def test_the_lease_has_one_holder_and_an_expired_one_one_taker(s3_server, monkeypatch):
    bucket = new_bucket(s3_server)
    uri = f"s3://{bucket}/out"
    first, second = S3Store(uri, lease_seconds=3), S3Store(uri, lease_seconds=3)
    with s3_lock(first, "run"):
        held = json.loads(get(bucket, f"out/{LOCK}"))
        assert held["pid"] == os.getpid() and held["command"] == "run"
        with pytest.raises(fb.LockHeldError, match="locked by pid") as info, s3_lock(second, "x"):
            pass
        assert info.value.exit_code == 4
        first.check_lock()  # still the holder
    assert LOCK not in keys(bucket, "out")  # released

    # an expired lease (its holder died): of two takers, exactly one gets it
    dead = {"token": "dead", "pid": 1, "host": "h", "command": "run", "expires_at": 0}
    client().put_object(Bucket=bucket, Key=f"out/{LOCK}", Body=json.dumps(dead).encode())
    from flexbatch.storage import s3_lease

    found = second.read_with_etag(LOCK)
    etag_a = first.put_conditional(LOCK, b'{"token": "a"}', if_match=found[1])
    etag_b = second.put_conditional(LOCK, b'{"token": "b"}', if_match=found[1])
    assert (etag_a is None) != (etag_b is None)  # the compare-and-swap: one winner
    # a holder whose lease was taken over refuses to commit
    first.lease_token = "a" if etag_a is None else "x"
    with pytest.raises(fb.LockHeldError, match="lost its lease"):
        s3_lease.assert_lease(first)


# -- failures name the object ----------------------------------------------------------------


def test_failures_on_s3_name_the_object_and_carry_the_exit_code(s3_server, tmp_path, monkeypatch):
    bucket = new_bucket(s3_server)
    inp = copy_sample(tmp_path / "in", SPAN[:1])
    bad = inp / "usage" / f"date={SPAN[0]}" / "bad.parquet"
    pl.read_parquet(sorted(bad.parent.glob("*.parquet"))[0]).drop("meter").write_parquet(bad)
    upload(inp, bucket, "in")
    s3_in, s3_out = f"s3://{bucket}/in", f"s3://{bucket}/out"
    with pytest.raises(fb.InputSchemaError) as info:
        fb.run(SPAN[0], s3_in, s3_out)
    assert info.value.exit_code == 2
    assert f"{s3_in}/usage/date={SPAN[0]}/bad.parquet: required column 'meter'" in str(info.value)
    with pytest.raises(fb.MissingPartitionError) as info:
        fb.run(SPAN[1], s3_in, s3_out)
    assert f"{s3_in}/usage/date={SPAN[1]}" in str(info.value) and info.value.exit_code == 3
    with pytest.raises(fb.ConfigError, match="no such bucket"):
        fb.status(s3_in, "s3://no-such-bucket-here/out")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask an instance role
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(fb.ConfigError, match="no AWS credentials") as info:
        fb.status(s3_in, s3_out)
    assert info.value.exit_code == 2


# -- the books -------------------------------------------------------------------------------

MONTH_END = [date(2026, 9, 28), date(2026, 9, 29), date(2026, 9, 30)]


def _books(out) -> dict[str, pl.DataFrame]:
    """The statements and corrections of an OUT, in one order, without the columns that
    name the run or the moment that wrote them."""
    frames = {}
    for name in ("statements", "corrections"):
        frame = fb.sql(f"select * exclude (run_id) from {name}", out)
        frame = frame.drop([c for c in ("closed_at",) if c in frame.columns])
        frames[name] = frame.sort(frame.columns)
    return frames


def _export_ledger(flexbatch, out, to: Path) -> str:
    result = flexbatch("export", "credit_ledger", "--output", str(out), "--format", "csv",
                       "--to", str(to))  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return to.read_text()


def test_month_end_on_s3_closes_and_books_corrections_like_a_local_output(
    s3_server, flexbatch, tmp_path
):
    # September's last three days from S3 into S3, closed there (SPEC §8 and §11), then a
    # late file for 09-29: the same statements, the same correction booked in October and
    # the same frozen September export as a local OUT given the same commands
    inp = copy_sample(tmp_path / "in", MONTH_END)
    bucket = new_bucket(s3_server)
    upload(inp, bucket, "in")
    s3_in, s3_out, ref = f"s3://{bucket}/in", f"s3://{bucket}/out", tmp_path / "ref"
    issued = {}
    for i, o in ((s3_in, s3_out), (inp, ref)):
        fb.backfill(MONTH_END[0], MONTH_END[-1], i, o)
        result = fb.close("2026-09", i, o)
        assert result.closed_now and result.statements > 0
        issued[str(o)] = _export_ledger(flexbatch, o, tmp_path / "issued.csv")
    assert fb.close("2026-09", s3_in, s3_out).closed_now is False  # closing twice: nothing
    assert "_books/closes/2026-09.json" in keys(bucket, "out")
    closed = _books(s3_out)
    assert closed["statements"]["status"].unique().to_list() == ["closed"]
    assert all(a.equals(b) for a, b in zip(closed.values(), _books(ref).values(), strict=True))

    late = add_late_file(inp, MONTH_END[1])
    client().upload_file(str(late), bucket, f"in/usage/date={MONTH_END[1]}/{late.name}")
    for i, o in ((s3_in, s3_out), (inp, ref)):
        assert fb.run_since_changed(i, o).processed == (MONTH_END[1], MONTH_END[2])
    got, want = _books(s3_out), _books(ref)
    corrections = got["corrections"]
    assert corrections.height > 0
    assert corrections["closed_month"].unique().to_list() == [date(2026, 9, 1)]
    assert corrections["booked_month"].unique().to_list() == [date(2026, 10, 1)]
    assert got["statements"].equals(want["statements"])
    assert corrections.equals(want["corrections"])
    # issued means immutable: September's ledger exports as it did at the close
    for o in (s3_out, ref):
        assert _export_ledger(flexbatch, o, tmp_path / "again.csv") == issued[str(o)]
    assert issued[s3_out] == issued[str(ref)]
    assert_no_leftovers(bucket, "out")
