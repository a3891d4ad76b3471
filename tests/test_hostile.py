"""Hostile input: bad files, values, configuration, arguments and operations end in exit 0
(with quarantine rows where a row is at fault), 2, 3 or 4 with one line naming what to
fix, never exit 1 for bad input, and never a changed, half-written or empty-new OUT."""

from __future__ import annotations

import errno
import hashlib
import json
import os
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers import (
    USAGE_SCHEMA,
    event,
    plan_toml,
    read_table,
    write_grants,
    write_plans,
    write_topups,
    write_transfers,
    write_usage,
)

DAY = "2026-01-05"
NEXT = "2026-01-06"
STORAGE_PLAN = plan_toml(
    "STORAGE", algorithm="sum", meter="storage_gb", tiers="[ { above = 0, price = 1000000 } ]"
)


def storage(quantity: float | None, ts: str = f"{DAY}T10:00:00", **kw) -> dict:
    return event(ts, meter="storage_gb", resource="disk-1", quantity=quantity, **kw)


def make_in(root: Path, rows: list[dict] | None = None, plans: str = STORAGE_PLAN) -> Path:
    write_plans(root, plans)
    write_usage(root, DAY, rows if rows is not None else [storage(1.0)])
    write_usage(root, NEXT, [storage(1.0, ts=f"{NEXT}T10:00:00")])
    return root


# The command's own bookkeeping, never read as data: the lock, scratch space, and the
# intent a command records before it computes (a failed one leaves it; the next run or
# status reads it).
BOOKKEEPING = ("_lock", "_staging", "_cascades")


def snapshot(folder: Path) -> dict[str, str]:
    """Every published file under ``folder`` and its content's sha256."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.relative_to(folder).parts[0] not in BOOKKEEPING
    }


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def refused(result, code: int, *needles: str) -> str:
    """Assert exit ``code`` and one stderr line holding ``needles`` and a fix."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    line = one_line(result.stderr)
    assert line.startswith("flexbatch: ") and "fix:" in line, line
    for needle in needles:
        assert needle in line, (needle, line)
    return line


def run(flexbatch, inp: Path, out: Path, day: str = DAY, *extra: str):
    return flexbatch("run", "--date", day, "--input", str(inp), "--output", str(out), *extra)


# --- extra columns named like internal ones ----------------------------------------------


def test_extra_columns_named_like_internal_ones_are_ignored(flexbatch, tmp_path):
    inp, out = make_in(tmp_path / "in"), tmp_path / "out"
    rows = [storage(2.0), storage(3.0, ts=f"{DAY}T11:00:00")]
    table = pa.Table.from_pylist(rows, schema=USAGE_SCHEMA)
    for name, values in {
        "source_file": ["evil", "evil"],
        "file_row_number": [7, 7],
        "filename": ["x", "y"],
        "source_row": [0, 0],
        "file_index": [1, 1],
        "c0": ["c", "c"],
        "reason": ["r", "r"],
    }.items():
        table = table.append_column(name, pa.array(values))
    pq.write_table(table, inp / "usage" / f"date={DAY}" / "part-0.parquet")
    write_usage(inp, DAY, [storage(4.0, ts=f"{DAY}T12:00:00", event_id="x1"),
                           storage(-1.0, event_id="bad")], name="part-1.parquet")  # fmt: skip

    result = run(flexbatch, inp, out)
    assert result.exit_code == 0, result.stderr
    usage = read_table(out, "usage_daily")
    assert usage["events"].to_list() == [3]
    assert usage["quantity_sum"].to_list() == [Decimal("9")]
    quarantine = read_table(out, "quarantine")
    assert quarantine["source_file"].to_list() == [f"usage/date={DAY}/part-1.parquet"]
    assert quarantine["reason"].to_list() == ["quantity_negative"]


# --- the ledger's range --------------------------------------------------------------------


def test_values_beyond_the_range_are_quarantined_and_the_night_succeeds(flexbatch, tmp_path):
    rows = [
        storage(1e30, ts=f"{DAY}T01:00:00"),  # x price 1e6 would overflow
        *(storage(9e31, ts=f"{DAY}T02:00:0{i}") for i in range(3)),  # their sum would
        storage(6e13, ts=f"{DAY}T03:00:00"),
        storage(3e13, ts=f"{DAY}T04:00:00"),  # running sum 9e13: still in range
        storage(2e13, ts=f"{DAY}T05:00:00"),  # 1.1e14: the group leaves the range here
        storage(1.0, ts=f"{DAY}T06:00:00"),  # and every later event of the group
        storage(99_999_999_999_999.0, scope="ns-2"),  # another group: just in range
        storage(-0.0, scope="ns-3"),  # negative zero is zero
    ]
    inp, out = make_in(tmp_path / "in", rows), tmp_path / "out"
    result = flexbatch("backfill", "--from", DAY, "--to", NEXT, "--input", str(inp),
                       "--output", str(out))  # fmt: skip
    assert result.exit_code == 0, result.stderr

    quarantine = read_table(out, "quarantine").sort("ts")
    assert (
        quarantine["reason"].to_list()
        == ["quantity_out_of_range"] * 4 + ["quantity_sum_out_of_range"] * 2
    )
    assert quarantine["quantity"].to_list()[-2:] == [2e13, 1.0]
    charges = read_table(out, "charges").filter(pl.col("date") == date(2026, 1, 5)).sort("scope_id")
    assert charges["scope_id"].to_list() == ["ns-1", "ns-2"]  # ns-3's 0 units: no row
    assert charges["units"][0] == Decimal("90000000000000")
    assert Decimal("99999999999998") < charges["units"][1] < Decimal(10) ** 14
    assert charges["credits"][0] == Decimal("90000000000000000000")
    assert charges["credits"].max() < Decimal(10) ** 20
    usage = read_table(out, "usage_daily").filter(pl.col("scope_id") == "ns-3")
    assert str(usage["quantity_sum"][0]) == "0.000000"  # not -0
    runs = read_table(out, "runs").filter(pl.col("date") == date(2026, 1, 5))
    assert runs["rows_quarantined"].to_list() == [6]


@pytest.mark.parametrize(
    ("name", "write", "needles"),
    [
        (
            "price-1e32",
            lambda inp: write_plans(inp, plan_toml(tiers="[ { above = 0, price = 1e32 } ]")),
            ["rate_plans.toml", "plan 'P'", "tiers[0].price", "largest unit price"],
        ),
        (
            "price-just-above-1e6",
            lambda inp: write_plans(inp, plan_toml(tiers="[ { above = 0, price = 1000001 } ]")),
            ["rate_plans.toml", "tiers[0].price"],
        ),
        (
            "user-limit-beyond-int64",
            lambda inp: write_plans(
                inp,
                plan_toml(
                    algorithm="unique_users", chargeable="user", extra=f"user_limit = {2**63}"
                ),
            ),
            ["rate_plans.toml", "field 'user_limit'", "64-bit"],
        ),  # fmt: skip
        (
            "two-grants-near-1e32",
            lambda inp: write_grants(
                inp,
                [
                    {
                        "grant_id": g,
                        "account_id": "acme",
                        "currency": "flex_credit",
                        "amount": "9" * 32,
                        "effective_on": DAY,
                    }
                    for g in ("g1", "g2")
                ],
            ),
            ["grants.csv", "row 1", "'amount'", "ledger's range"],
        ),  # fmt: skip
        (
            "grant-amount-1e20",
            lambda inp: write_grants(
                inp,
                [
                    {
                        "grant_id": "g1",
                        "account_id": "acme",
                        "currency": "flex_credit",
                        "amount": "100000000000000000000",
                        "effective_on": DAY,
                    }
                ],
            ),
            ["grants.csv", "row 1", "'amount'"],
        ),  # fmt: skip
        (
            "unit-cost-too-large",
            lambda inp: write_grants(
                inp,
                [
                    {
                        "grant_id": "g1",
                        "account_id": "acme",
                        "currency": "flex_credit",
                        "amount": "10",
                        "effective_on": DAY,
                        "unit_cost": "1000000.5",
                    }
                ],
            ),
            ["grants.csv", "row 1", "'unit_cost'"],
        ),  # fmt: skip
        (
            "transfer-amount-1e25",
            lambda inp: write_transfers(
                inp,
                [
                    {
                        "transfer_id": "t1",
                        "date": DAY,
                        "from_account": "a",
                        "to_account": "b",
                        "amount": "1" + "0" * 25,
                    }
                ],
            ),
            ["transfers.csv", "row 1", "'amount'"],
        ),  # fmt: skip
        # SPEC §10: the lifecycle columns and the top-up rules
        (
            "rollover-max-1e20",
            lambda inp: write_grants(
                inp,
                [
                    {
                        "grant_id": "g1",
                        "account_id": "acme",
                        "currency": "flex_credit",
                        "amount": "10",
                        "effective_on": DAY,
                        "expires_on": NEXT,
                        "rollover_max": "1" + "0" * 20,
                        "rollover_days": "3",
                    }
                ],
            ),
            ["grants.csv", "row 1", "'rollover_max'", "ledger's range"],
        ),  # fmt: skip
        (
            "rollover-days-past-a-century",
            lambda inp: write_grants(
                inp,
                [
                    {
                        "grant_id": "g1",
                        "account_id": "acme",
                        "currency": "flex_credit",
                        "amount": "10",
                        "effective_on": DAY,
                        "expires_on": NEXT,
                        "rollover_max": "1",
                        "rollover_days": "2147483647",
                    }
                ],
            ),
            ["grants.csv", "row 1", "'rollover_days'", "36525"],
        ),  # fmt: skip
        (
            "topup-threshold-1e20",
            lambda inp: (
                write_grants(
                    inp,
                    [
                        {
                            "grant_id": "g1",
                            "account_id": "acme",
                            "currency": "flex_credit",
                            "amount": "10",
                            "effective_on": DAY,
                        }
                    ],
                ),
                write_topups(
                    inp,
                    [
                        {
                            "rule_id": "r1",
                            "account_id": "acme",
                            "currency": "flex_credit",
                            "threshold": "1" + "0" * 20,
                            "amount": "5",
                        }
                    ],
                ),
            ),
            ["topups.csv", "row 1", "'threshold'", "ledger's range"],
        ),  # fmt: skip
        (
            "topup-currency-no-grant-has",
            lambda inp: write_topups(
                inp,
                [
                    {
                        "rule_id": "r1",
                        "account_id": "acme",
                        "currency": "flex_credit",
                        "threshold": "1",
                        "target": "5",
                    }
                ],
            ),
            ["topups.csv", "row 1", "'currency'", "no grant"],
        ),  # fmt: skip
    ],
)
def test_configuration_beyond_the_range_is_exit_2(flexbatch, tmp_path, name, write, needles):
    inp, out = make_in(tmp_path / "in"), tmp_path / "out"
    assert run(flexbatch, inp, out).exit_code == 0
    before = snapshot(out)
    write(inp)
    refused(run(flexbatch, inp, out, NEXT), 2, *needles)
    assert snapshot(out) == before


# --- broken usage files ----------------------------------------------------------------


def _corrupt_pages(path: Path) -> None:
    rows = [storage(float(i), ts=f"{DAY}T10:00:00") for i in range(200)]
    pq.write_table(pa.Table.from_pylist(rows, schema=USAGE_SCHEMA), path, compression="none")
    data = bytearray(path.read_bytes())
    for i in range(8, 600):  # the data pages; the footer at the end stays valid
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def _ts_ms_beyond_duckdb(path: Path) -> None:
    schema = pa.schema([f if f.name != "ts" else pa.field("ts", pa.timestamp("ms"))
                        for f in USAGE_SCHEMA])  # fmt: skip
    row = storage(1.0) | {"ts": None}
    table = pa.Table.from_pylist([row], schema=schema)
    huge = pa.array([2**62], pa.int64()).cast(pa.timestamp("ms"))
    pq.write_table(table.set_column(1, "ts", huge), path)


def _invalid_utf8(path: Path) -> None:
    table = pa.Table.from_pylist([storage(1.0)], schema=USAGE_SCHEMA)
    offsets = pa.py_buffer(b"\x00\x00\x00\x00\x02\x00\x00\x00")
    bad = pa.Array.from_buffers(pa.string(), 1, [None, offsets, pa.py_buffer(b"\xff\xfe")])
    pq.write_table(table.set_column(2, "account_id", bad), path)


def _duplicate_column(path: Path) -> None:
    table = pa.Table.from_pylist([storage(1.0)], schema=USAGE_SCHEMA)
    pq.write_table(table.append_column("meter", pa.array(["other"])), path)


def _zero_bytes(path: Path) -> None:
    path.write_bytes(b"")


def _csv_named_parquet(path: Path) -> None:
    path.write_text("event_id,ts\ne1,2026-01-05\n")


def _truncated(path: Path) -> None:
    pq.write_table(pa.Table.from_pylist([storage(1.0)], schema=USAGE_SCHEMA), path)
    path.write_bytes(path.read_bytes()[:-20])


def _quantity_as_text(path: Path) -> None:
    schema = pa.schema([f if f.name != "quantity" else pa.field("quantity", pa.string())
                        for f in USAGE_SCHEMA])  # fmt: skip
    pq.write_table(pa.Table.from_pylist([storage(None) | {"quantity": "1"}], schema=schema), path)


BROKEN: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "corrupt-data-pages": (_corrupt_pages, ["bad.parquet", "cannot be read", "deliver"]),
    "ts-ms-beyond-duckdb": (_ts_ms_beyond_duckdb, ["bad.parquet", "ts value"]),
    "invalid-utf8": (_invalid_utf8, ["bad.parquet", "UTF-8"]),
    "duplicate-column": (_duplicate_column, ["bad.parquet", "'meter' appears 2 times"]),
    "zero-bytes": (_zero_bytes, ["bad.parquet", "not a readable Parquet file"]),
    "csv-named-parquet": (_csv_named_parquet, ["bad.parquet", "not a readable Parquet"]),
    "truncated": (_truncated, ["bad.parquet", "not a readable Parquet file"]),
    "quantity-as-text": (_quantity_as_text, ["bad.parquet", "'quantity' has type string"]),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_usage_file_is_exit_2_naming_it(flexbatch, tmp_path, name):
    breaker, needles = BROKEN[name]
    inp, out = make_in(tmp_path / "in"), tmp_path / "out"
    assert run(flexbatch, inp, out).exit_code == 0
    before = snapshot(out)
    breaker(inp / "usage" / f"date={NEXT}" / "bad.parquet")
    refused(run(flexbatch, inp, out, NEXT), 2, *needles)
    assert snapshot(out) == before
    # a fresh OUT is not left behind either
    refused(run(flexbatch, inp, tmp_path / "fresh", NEXT), 2, *needles)
    assert not (tmp_path / "fresh").exists()


# --- hostile values in good files ---------------------------------------------------------


def test_nul_bytes_huge_strings_and_odd_ids_are_kept_or_quarantined(flexbatch, tmp_path):
    odd = "ac\x00me\u202e;=cmd|'\"\n"
    rows = [
        storage(1.0, account=odd, event_id="id\x00with-nul"),
        storage(1.0, account="a" * 1_000_000),  # a megabyte account id
        storage(1.0, event_id="x" * 100_000, scope="s" * 100_000),
        storage(float("nan")),
        storage(float("inf")),
        storage(None) | {"event_id": ""},
    ]
    inp, out = make_in(tmp_path / "in", rows), tmp_path / "out"
    result = run(flexbatch, inp, out)
    assert result.exit_code == 0, result.stderr
    reasons = sorted(read_table(out, "quarantine")["reason"].to_list())
    assert reasons == ["account_id_too_long", "event_id_empty", "quantity_not_finite",
                       "quantity_not_finite"]  # fmt: skip
    accounts = set(read_table(out, "usage_daily")["account_id"].to_list())
    assert accounts == {odd, "acme"}  # byte-exact


def test_an_empty_partition_is_a_day_without_usage(flexbatch, tmp_path):
    inp, out = make_in(tmp_path / "in"), tmp_path / "out"
    for f in (inp / "usage" / f"date={DAY}").iterdir():
        f.unlink()
    result = run(flexbatch, inp, out)
    assert result.exit_code == 0, result.stderr
    assert read_table(out, "runs")["rows_read"].to_list() == [0]


def test_a_symlink_in_a_partition_is_read_as_its_own_path(flexbatch, tmp_path):
    """IN is the operator's: a link to a file elsewhere is followed (data lakes link
    files), and the row's source_file is the link's path under IN, never the target."""
    inp, out = make_in(tmp_path / "in"), tmp_path / "out"
    outside = write_usage(tmp_path / "elsewhere", DAY, [storage(-5.0)], name="x.parquet")
    (inp / "usage" / f"date={DAY}" / "linked.parquet").symlink_to(outside)
    result = run(flexbatch, inp, out)
    assert result.exit_code == 0, result.stderr
    quarantine = read_table(out, "quarantine")
    assert quarantine["source_file"].to_list() == [f"usage/date={DAY}/linked.parquet"]


# --- files that are not read ------------------------------------------------------------


def test_files_not_read_are_warned_recorded_and_shown_by_status(flexbatch, tmp_path):
    inp, out = make_in(tmp_path / "in"), tmp_path / "out"
    part = inp / "usage" / f"date={DAY}"
    (part / "late-events.csv").write_text("event_id\ne9\n")
    (part / "PART-9.PARQUET").write_bytes((part / "part-0.parquet").read_bytes())
    (part / "sub").mkdir()
    (part / "_SUCCESS").write_text("")  # a marker: expected, not reported
    (part / ".part-1.parquet.crc").write_text("")
    expected = [f"usage/date={DAY}/PART-9.PARQUET", f"usage/date={DAY}/late-events.csv",
                f"usage/date={DAY}/sub/"]  # fmt: skip

    result = run(flexbatch, inp, out)
    assert result.exit_code == 0, result.stderr
    assert "3 entries not read" in result.stderr and "late-events.csv" in result.stderr
    assert json.loads(read_table(out, "runs")["unread_files"][0]) == expected

    status = flexbatch("status", "--input", str(inp), "--output", str(out), "--format", "json")
    assert status.exit_code == 0, status.stderr  # exactly SPEC's keys; runs holds the list
    assert set(json.loads(status.stdout)[0]) == {"date", "state", "reason", "run_id", "finished_at"}
    text = flexbatch("status", "--input", str(inp), "--output", str(out))
    assert "not read: " + ", ".join(expected) in text.stdout


# --- arguments and environment ----------------------------------------------------------


def test_output_naming_a_file_is_exit_2(flexbatch, tmp_path):
    inp, out = make_in(tmp_path / "in"), tmp_path / "out.txt"
    out.write_text("not a folder")
    refused(run(flexbatch, inp, out), 2, "--output", "is a file")
    assert out.read_text() == "not a folder"


def test_input_naming_a_missing_folder_is_exit_2(flexbatch, tmp_path):
    refused(run(flexbatch, tmp_path / "nope", tmp_path / "out"), 2, "--input", "no such folder")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("value", ["lots", "3 apples", "-1GB", "0.5"])
def test_a_bad_memory_limit_is_exit_2(flexbatch, tmp_path, monkeypatch, value):
    monkeypatch.setenv("FLEXBATCH_MEMORY_LIMIT", value)
    inp, out = make_in(tmp_path / "in"), tmp_path / "out"
    refused(run(flexbatch, inp, out), 2, "FLEXBATCH_MEMORY_LIMIT")
    assert not out.exists()


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1899-12-31", "9991-01-01"])
def test_days_outside_the_processed_range_are_exit_2(flexbatch, tmp_path, day):
    inp, out = make_in(tmp_path / "in"), tmp_path / "out"
    write_usage(inp, day, [])
    refused(run(flexbatch, inp, out, day), 2, f"--date {day}", "outside")
    refused(flexbatch("backfill", "--from", day, "--to", day, "--input", str(inp),
                      "--output", str(out)), 2, "outside")  # fmt: skip
    assert not out.exists()


def test_a_failed_run_leaves_no_new_out(flexbatch, tmp_path):
    inp, out = make_in(tmp_path / "in"), tmp_path / "out"
    refused(run(flexbatch, inp, out, "2026-02-01"), 3, "missing")
    assert not out.exists()


def test_export_to_an_existing_folder_is_exit_2_and_leaves_nothing(flexbatch, tmp_path):
    inp, out = make_in(tmp_path / "in"), tmp_path / "out"
    assert run(flexbatch, inp, out).exit_code == 0
    target = tmp_path / "exports"
    target.mkdir()
    before = snapshot(out)
    for fmt in ("csv", "parquet"):
        result = flexbatch("export", "charges", "--output", str(out), "--format", fmt,
                           "--to", str(target))  # fmt: skip
        refused(result, 2, str(target), "is a folder")
    assert list(target.iterdir()) == [] and [p.name for p in tmp_path.iterdir() if
                                            p.name.endswith(".tmp")] == []  # fmt: skip
    result = flexbatch("export", "charges", "--output", str(out), "--format", "csv",
                       "--to", str(out / "charges.csv"))  # fmt: skip
    refused(result, 2, "inside the output folder")
    assert snapshot(out) == before


# --- operations -----------------------------------------------------------------------


def test_a_full_disk_during_publication_says_so_and_where(flexbatch, tmp_path, monkeypatch):
    from flexbatch.storage import publish

    inp, out = make_in(tmp_path / "in"), tmp_path / "out"
    assert run(flexbatch, inp, out).exit_code == 0
    before = snapshot(out)

    def full(frame, path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(publish, "write_parquet", full)
    result = run(flexbatch, inp, out, NEXT)
    line = refused(result, 1, "no space left on device: ", str(out))
    assert "unexpected" not in line
    assert snapshot(out) == before


def test_a_full_disk_reported_only_as_text_is_recognised():
    from flexbatch.errors import known_failure

    error = known_failure(RuntimeError("IO Error: No space left on device"), "/data/out")
    assert error is not None and error.exit_code == 1
    assert str(error).startswith("no space left on device: /data/out; fix:")
    assert known_failure(ValueError("something else")) is None


def test_json_logs_have_a_utc_z_timestamp_and_fields(flexbatch, tmp_path):
    inp, out = make_in(tmp_path / "in"), tmp_path / "out"
    result = flexbatch("--log-format", "json", "--log-level", "info", "run", "--date", DAY,
                       "--input", str(inp), "--output", str(out))  # fmt: skip
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert all(r["ts"].endswith("Z") and len(r["ts"]) == 24 for r in records)
    (day,) = [r for r in records if r.get("rows_read") is not None]
    assert (day["day"], day["rows_read"], day["rows_accepted"]) == (DAY, 1, 1)
    assert isinstance(day["seconds"], float)
    steps = {r["step"]: r for r in records if "step" in r}
    assert steps["charges"]["rows"] == 1 and isinstance(steps["charges"]["seconds"], float)
