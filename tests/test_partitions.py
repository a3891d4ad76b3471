"""I/O in one place: which files belong to a partition of OUT (one rule for every layer),
and IN's day listed once (``DayListing``)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from flexbatch.errors import MissingPartitionError
from flexbatch.ingest.usage_input import list_day
from flexbatch.job import restatements
from flexbatch.job.changes import day_manifest
from flexbatch.serving.query import table_dataset
from flexbatch.storage import publish
from flexbatch.storage.partitions import day_paths, is_table_file, table_files
from flexbatch.storage.stores import LocalStore
from flexbatch.tables import TABLE_FILE_GLOB, table

from helpers import event, write_usage

D1, D2 = date(2026, 3, 1), date(2026, 3, 2)


@pytest.mark.parametrize(
    ("name", "belongs"),
    [
        ("part-0.parquet", True),
        ("run-20260301T000000Z-abcd1234.parquet", True),
        ("_x.parquet", False),  # a tool's marker or side file, never rows of the table
        (".part-0.parquet.tmp", False),
        (".part-0.parquet", False),
        ("_SUCCESS", False),
        ("notes.txt", False),
    ],
)
def test_is_table_file(name, belongs):
    assert is_table_file(name) is belongs


def _balances(out: Path, day: date, names: list[str]) -> None:
    folder = out / table("balances").partition(day)
    folder.mkdir(parents=True, exist_ok=True)
    frame = pl.DataFrame({"account_id": ["acme"], "available": [1]})
    for name in names:
        frame.write_parquet(folder / name)


def test_every_reader_of_out_sees_the_same_files(tmp_path):
    # a partition holding the table's file and files that are not the table's: the
    # publication (and so the credit state, the month state, restatements), the readers of
    # the whole table (serving, status) and a day's reader all see part-0.parquet alone
    out = tmp_path / "out"
    _balances(out, D1, ["part-0.parquet", "_x.parquet", ".part-0.parquet"])
    (out / table("balances").partition(D1) / "_SUCCESS").write_text("")
    _balances(out, D2, ["_x.parquet"])  # no file of the table: no day
    store = LocalStore(out)
    expected = ["balances/date=2026-03-01/part-0.parquet"]
    assert [f.rel for f in publish.partition_files(store, "balances", D1)] == expected
    assert publish.partition_files(store, "balances", D2) == []
    assert [f.rel for f in table_files(store, "balances")] == expected
    assert day_paths(store, "balances", [None, D1, D2]) == [out / expected[0]]
    dataset = table_dataset(out, table("balances"))
    assert dataset is not None and dataset.files == [str(out / expected[0])]
    # the SQL views (sql, the catalog) read the same file: one row, not three
    rows = duckdb.sql(f"select date, account_id from {table('balances').duckdb_source(out)}")
    assert rows.fetchall() == [(D1, "acme")]


@pytest.mark.parametrize("name", ["part-0.parquet", "run-1.parquet", "_x.parquet", ".p.parquet"])
def test_the_views_glob_is_the_table_file_rule(tmp_path, name):
    (tmp_path / name).write_bytes(b"")
    globbed = duckdb.sql(f"select file from glob('{tmp_path}/{TABLE_FILE_GLOB}')").fetchall()
    assert bool(globbed) is is_table_file(name)


def test_restatement_counts_read_only_table_files(tmp_path):
    out = tmp_path / "out"
    folder = out / table("restatements").partition(D1)
    folder.mkdir(parents=True)
    pl.DataFrame({"run_id": ["r1", "r1"]}).write_parquet(folder / "run-r1.parquet")
    pl.DataFrame({"run_id": ["x"]}).write_parquet(folder / "_x.parquet")
    assert restatements.counts(LocalStore(out)) == {D1: 2}


def test_the_day_listing_is_what_is_read_recorded_and_reported(tmp_path):
    inp = tmp_path / "in"
    write_usage(inp, D1, [event("2026-03-01T01:00:00", user="u1")], name="b.parquet")
    write_usage(inp, D1, [event("2026-03-01T02:00:00", user="u2")], name="a.parquet")
    folder = inp / "usage" / "date=2026-03-01"
    (folder / "late-events.csv").write_text("x")
    (folder / "_SUCCESS").write_text("")
    (folder / ".a.parquet.crc").write_text("")
    (folder / "extra").mkdir()
    listing = list_day(inp, D1)
    assert [f.rel for f in listing.files] == [
        "usage/date=2026-03-01/a.parquet",
        "usage/date=2026-03-01/b.parquet",
    ]
    assert listing.unread == (
        "usage/date=2026-03-01/extra/",
        "usage/date=2026-03-01/late-events.csv",
    )
    manifest = json.loads(listing.manifest)
    sizes = {f.name: f.stat().st_size for f in folder.iterdir() if f.is_file()}
    assert [(Path(rel).name, size) for rel, size, _ in manifest] == [
        ("a.parquet", sizes["a.parquet"]),
        ("b.parquet", sizes["b.parquet"]),
    ]
    assert listing.paths(LocalStore(inp)) == [folder / "a.parquet", folder / "b.parquet"]
    assert day_manifest(LocalStore(inp), D1) == listing.manifest  # what status compares
    assert day_manifest(LocalStore(inp), D2) is None
    with pytest.raises(MissingPartitionError, match="usage partition for 2026-03-02"):
        list_day(inp, D2)
