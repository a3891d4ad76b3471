"""The basis of an open month's statements (``flexbatch/books/basis.py``): ``status``
calls them current without reading a balance only when the month's record names the
statements file published and the month's days and corrections as OUT holds them now.
At every state below (after a clean run, a republished day, a kill between the statements
and their record, corrections the statements do not carry, SIGKILLs anywhere in a
command's books) the fast answer is the full recomputation's, the record ignored, and
the state that must read "statements out of date" does."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import signal
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from test_publication import count_ops, io, run_cli

from flexbatch import api
from flexbatch.books import basis, settle
from flexbatch.books import ledger_files as files
from flexbatch.books.state import status_lines
from flexbatch.job import pipeline
from flexbatch.storage.stores import LocalStore

from helpers import SAMPLE, add_late_file, copy_sample

pytestmark = pytest.mark.slow

SPAN = [date(2026, 9, 29) + timedelta(days=i) for i in range(3)]  # two open months
LATE = date(2026, 9, 30)  # a late file here moves September and October's opening
OUT_OF_DATE = "  (statements out of date: the next run recomputes them)"


class Killed(Exception):
    """A simulated kill: nothing after it runs."""


@pytest.fixture(scope="module")
def processed(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("basis")
    inp = copy_sample(root / "in", SPAN)
    api.backfill(SPAN[0], SPAN[-1], inp, root / "out")
    return inp, root / "out"


@pytest.fixture
def books(processed, tmp_path) -> tuple[Path, Path]:
    """A copy of the processed IN and OUT (file times kept)."""
    inp, out = processed
    shutil.copytree(inp, tmp_path / "in", copy_function=shutil.copy2)
    shutil.copytree(out, tmp_path / "out", copy_function=shutil.copy2)
    return tmp_path / "in", tmp_path / "out"


def months(out: Path, monkeypatch, *, full: bool = False) -> list[str]:
    """``status``'s month lines; ``full``: every open month recomputed, records ignored
    (the answer before the records existed)."""
    with monkeypatch.context() as patch:
        if full:
            patch.setattr(basis, "is_current", lambda *args: False)
        return status_lines(LocalStore(out))


def fast_equals_full(out: Path, monkeypatch) -> list[str]:
    fast = months(out, monkeypatch)
    assert fast == months(out, monkeypatch, full=True)
    return fast


def killed_at(monkeypatch, target: object, name: str) -> None:
    """``target.name`` kills the command the first time it is called."""
    monkeypatch.setattr(target, name, lambda *args, **kwargs: (_ for _ in ()).throw(Killed()))


def run_killed(inp: Path, out: Path, day: date) -> None:
    with pytest.raises(Exception) as raised:  # noqa: PT011 (the api may wrap it)
        api.run(day, inp, out)
    assert isinstance(raised.value, Killed) or isinstance(raised.value.__cause__, Killed)


def late_run_killed_at(monkeypatch, inp: Path, out: Path, target: object, name: str) -> None:
    """A late file for LATE, and the run that reads it killed at ``target.name``."""
    add_late_file(inp, LATE)
    with monkeypatch.context() as patch:
        killed_at(patch, target, name)
        run_killed(inp, out, LATE)


def record_of(out: Path, month: str) -> dict:
    return json.loads((out / "_books" / "basis" / f"{month}.json").read_bytes())


def test_settled_months_are_current_by_their_records_without_a_balance_read(books, monkeypatch):
    inp, out = books
    for month in ("2026-09", "2026-10"):
        found = record_of(out, month)
        published = out / "statements" / f"month={month}" / "part-0.parquet"
        assert found["statements_sha256"] == hashlib.sha256(published.read_bytes()).hexdigest()
        assert sorted(found["days"]) == [str(d) for d in SPAN if str(d).startswith(month)]
        assert found["corrections_sha256"] == ""  # nothing booked
    want = ["months:", "  2026-09  open", "  2026-10  open"]
    assert fast_equals_full(out, monkeypatch) == want
    with monkeypatch.context() as patch:
        killed_at(patch, files, "balance_files")  # a balance read would fail
        assert status_lines(LocalStore(out)) == want


def test_an_out_without_records_is_recomputed(books, monkeypatch):
    # an OUT an earlier version wrote: no record, every open month is recomputed
    inp, out = books
    shutil.rmtree(out / "_books" / "basis")
    read = []
    real = files.balance_files
    monkeypatch.setattr(files, "balance_files", lambda *a: read.append(a[1]) or real(*a))
    assert fast_equals_full(out, monkeypatch) == ["months:", "  2026-09  open", "  2026-10  open"]
    assert read[0] == [date(2026, 9, 1), date(2026, 10, 1)]


def test_a_night_reads_its_own_day_into_the_month_so_far(books, monkeypatch):
    # October's record vouches for its statements of 1 October: the run of 2 October
    # reads that day's balances only, and the month's statements are those of both days
    # computed afresh (the run_id aside), with a record of both days
    inp, out = books
    night = date(2026, 10, 2)
    shutil.copytree(SAMPLE / "usage" / f"date={night}", inp / "usage" / f"date={night}")
    read = []
    real = files.balance_files
    monkeypatch.setattr(files, "balance_files", lambda *a: read.append(a[1:]) or real(*a))
    api.run(night, inp, out)
    assert read == [([date(2026, 10, 1)], [night])]
    store = LocalStore(out)
    published = files.read_statements(store, [date(2026, 10, 1)])
    afresh = settle.open_statements(store, date(2026, 10, 1), published["run_id"][0])
    assert published.equals(afresh)
    assert published["last_day"].unique().to_list() == [night]
    assert sorted(record_of(out, "2026-10")["days"]) == ["2026-10-01", str(night)]
    assert fast_equals_full(out, monkeypatch) == ["months:", "  2026-09  open", "  2026-10  open"]


def test_the_next_run_records_every_open_month_of_an_out_without_records(books, monkeypatch):
    # an OUT an earlier version wrote: the run of 1 October republishes October (its
    # day) and September (untouched, recorded once), both then current by their records
    inp, out = books
    shutil.rmtree(out / "_books" / "basis")
    september = out / "statements" / "month=2026-09" / "part-0.parquet"
    before = september.read_bytes()
    api.run(SPAN[-1], inp, out)
    assert sorted(p.name for p in (out / "_books" / "basis").iterdir()) == [
        "2026-09.json",
        "2026-10.json",
    ]
    assert september.read_bytes() != before  # republished (the run_id), the same figures
    with monkeypatch.context() as patch:
        killed_at(patch, files, "balance_files")  # a balance read would fail
        assert status_lines(LocalStore(out)) == ["months:", "  2026-09  open", "  2026-10  open"]
    assert fast_equals_full(out, monkeypatch) == ["months:", "  2026-09  open", "  2026-10  open"]
    recorded = september.read_bytes()
    api.run(SPAN[-1], inp, out)  # recorded now: September is not republished again
    assert sorted(record_of(out, "2026-09")["days"]) == ["2026-09-29", "2026-09-30"]
    assert september.read_bytes() == recorded


def test_the_books_take_the_commands_memory_limit_and_spill_into_its_staging(books, monkeypatch):
    # FLEXBATCH_MEMORY_LIMIT reaches the books' DuckDB of run and close, which spill into
    # the command's staging folder (gone after); status, a reader, keeps the default and
    # spills nowhere
    from flexbatch.books import frames
    from flexbatch.settings import Settings

    inp, out = books
    seen = []
    real = frames._connect

    def connect():
        con = real()
        query = "select current_setting('memory_limit'), current_setting('temp_directory')"
        seen.extend(con.sql(query).fetchall())
        return con

    monkeypatch.setattr(frames, "_connect", connect)
    settings = Settings.from_env({"FLEXBATCH_MEMORY_LIMIT": "777MB"})
    api.run(SPAN[-1], inp, out, settings=settings)
    api.close("2026-09", inp, out, settings=settings)
    assert seen, "the books ran no SQL"
    assert {limit for limit, _ in seen} == {"741.0 MiB"}  # 777,000,000 bytes
    staging = str(out / "_staging")
    assert all(s.startswith(staging) and s.endswith("books-spill") for _, s in seen)
    assert not (out / "_staging").exists()
    seen.clear()
    status_lines(LocalStore(out))
    default = Settings().memory_limit
    assert seen and {s for _, s in seen} == {""}
    assert default == "3GB" and {limit for limit, _ in seen} == {"2.7 GiB"}


def test_a_day_republished_without_its_statements_is_out_of_date(books, monkeypatch):
    # killed between the days and the books: 30 September and 1 October are republished
    # (more consumed, a lower opening), their months' statements are not
    inp, out = books
    late_run_killed_at(monkeypatch, inp, out, pipeline, "after_days")
    assert fast_equals_full(out, monkeypatch) == [
        "months:",
        f"  2026-09  open{OUT_OF_DATE}",
        f"  2026-10  open{OUT_OF_DATE}",
    ]
    api.run(SPAN[-1], inp, out)  # the next run recomputes them, and records them
    assert fast_equals_full(out, monkeypatch) == ["months:", "  2026-09  open", "  2026-10  open"]
    assert sorted(record_of(out, "2026-10")["days"]) == [str(SPAN[-1])]


def test_a_kill_between_statements_and_their_record(books, monkeypatch):
    # September's statements are republished, the kill comes before its record: the
    # record left names the previous file and days (not trusted: recomputed, current);
    # October's file and record are both the previous ones, its day is not
    inp, out = books
    before = record_of(out, "2026-09")
    late_run_killed_at(monkeypatch, inp, out, basis, "record")
    assert record_of(out, "2026-09") == before
    statements = out / "statements" / "month=2026-09" / "part-0.parquet"
    assert hashlib.sha256(statements.read_bytes()).hexdigest() != before["statements_sha256"]
    assert fast_equals_full(out, monkeypatch) == [
        "months:",
        "  2026-09  open",
        f"  2026-10  open{OUT_OF_DATE}",
    ]


def test_corrections_the_statements_do_not_carry(books, monkeypatch):
    # September closed, a late file books corrections on October; then those
    # corrections go (October's days are as recorded, its corrections are not)
    inp, out = books
    api.close("2026-09", inp, out)
    assert not (out / "_books" / "basis" / "2026-09.json").exists()  # closed: not read
    add_late_file(inp, LATE)
    api.run(LATE, inp, out)
    booked = fast_equals_full(out, monkeypatch)
    assert booked[1].startswith("  2026-09  closed at ")
    assert booked[2].startswith("  2026-10  open  (") and "corrections booked on it" in booked[2]
    assert record_of(out, "2026-10")["corrections_sha256"] != ""
    shutil.rmtree(out / "corrections")
    unbooked = fast_equals_full(out, monkeypatch)
    assert unbooked[1].endswith("the next run books them)")  # pending again
    assert unbooked[2] == f"  2026-10  open{OUT_OF_DATE}"


def test_a_restated_day_is_out_of_date_whatever_its_file_time(books, monkeypatch):
    # a republication is named by its commit record, not by the balances file's time:
    # the record's days are rewritten to the file times OUT holds now, and October is
    # still out of date once 1 October is republished without its statements
    inp, out = books
    late_run_killed_at(monkeypatch, inp, out, settle, "open_statements")
    rel = "_books/basis/2026-10.json"
    found = record_of(out, "2026-10")
    now = basis.listed(LocalStore(out)).of(date(2026, 10, 1))
    found["days"] = {
        d: {**v, "balances": now["days"][d]["balances"]} for d, v in found["days"].items()
    }
    (out / rel).write_text(json.dumps(found))
    assert fast_equals_full(out, monkeypatch)[2] == f"  2026-10  open{OUT_OF_DATE}"


def test_a_statements_file_changed_after_its_record_is_out_of_date(books, monkeypatch):
    # the record vouches for one file: October's statements rewritten with one more
    # credit consumed by the first account (its days and corrections as recorded)
    import polars as pl

    inp, out = books
    path = out / "statements" / "month=2026-10" / "part-0.parquet"
    frame = pl.read_parquet(path)
    bump = pl.when(pl.int_range(pl.len()) == 0).then(Decimal(1)).otherwise(Decimal(0))
    frame.with_columns(pl.col("consumed") + bump.cast(pl.Decimal(38, 6))).write_parquet(path)
    assert fast_equals_full(out, monkeypatch) == [
        "months:",
        "  2026-09  open",
        f"  2026-10  open{OUT_OF_DATE}",
    ]


def test_kills_anywhere_in_the_books_never_leave_a_record_that_vouches_for_stale_statements(
    processed, tmp_path, monkeypatch
):
    inp0, out0 = processed
    inp = tmp_path / "in"
    shutil.copytree(inp0, inp, copy_function=shutil.copy2)
    add_late_file(inp, LATE)
    counting = tmp_path / "count"
    shutil.copytree(out0, counting, copy_function=shutil.copy2)
    rerun = ["run", "--date", str(LATE), *io(inp, counting)]
    total = count_ops(rerun, tmp_path)
    # the books come last: each month's statements, then its record (two months), then
    # the cascade record goes; and three points among the days' publications
    tail = range(max(1, total - 5), total + 1)
    points = sorted({*tail, *random.Random(5).sample(range(1, total - 5), 3)})
    seen = set()
    for kill_at in points:
        out = tmp_path / f"k{kill_at}"
        shutil.copytree(out0, out, copy_function=shutil.copy2)
        code, err = run_cli(["run", "--date", str(LATE), *io(inp, out)], kill_at=kill_at)
        assert code == -signal.SIGKILL, err
        seen.add(tuple(fast_equals_full(out, monkeypatch)))
        code, err = run_cli(["run", "--date", str(SPAN[-1]), *io(inp, out)])
        assert code == 0, err
        assert fast_equals_full(out, monkeypatch) == [
            "months:",
            "  2026-09  open",
            "  2026-10  open",
        ]
    assert ("months:", "  2026-09  open", f"  2026-10  open{OUT_OF_DATE}") in seen


def test_a_record_never_lists_fewer_days_than_its_statements_cover(books, monkeypatch):
    # settle reads exactly the days it lists, which the record names: were a day to land
    # after the listing (simulated: the listing misses 2 October), the statements leave
    # it out with their record, and the next night merges it once (a second listing
    # at the read would put it in the file and not in the record: counted twice)
    inp, out = books
    for night in (date(2026, 10, 2), date(2026, 10, 3)):
        shutil.copytree(SAMPLE / "usage" / f"date={night}", inp / "usage" / f"date={night}")
    shutil.rmtree(out / "_books" / "basis")  # October is recomputed in full on 2 October
    real = basis.listed

    def listed_before_2_october(store, processed=None, corrections=None):
        found = real(store, processed, corrections)
        days = {d: v for d, v in found.days.items() if d != date(2026, 10, 2)}
        return basis.Inputs(days, found.corrections)

    with monkeypatch.context() as patch:
        patch.setattr(basis, "listed", listed_before_2_october)
        api.run(date(2026, 10, 2), inp, out)
    api.run(date(2026, 10, 3), inp, out)
    store = LocalStore(out)
    published = files.read_statements(store, [date(2026, 10, 1)])
    afresh = settle.open_statements(store, date(2026, 10, 1), published["run_id"][0])
    assert published.equals(afresh)


def test_the_close_checks_the_merged_statements_and_issues_the_recomputed(
    books, monkeypatch, caplog
):
    # September's statements rewritten with one more credit consumed by the first account
    # (charged and closing to match: the file still balances) and a record vouching for
    # that file: the close's settle merges it as it is (no day since), the close logs the
    # difference and issues what every day gives
    import logging

    import polars as pl

    inp, out = books
    store = LocalStore(out)
    september = date(2026, 9, 1)
    path = out / "statements" / "month=2026-09" / "part-0.parquet"
    frame = pl.read_parquet(path)
    bump = pl.when(pl.int_range(pl.len()) == 0).then(Decimal(1)).otherwise(Decimal(0))
    one = bump.cast(pl.Decimal(38, 6))
    frame.with_columns(
        pl.col("consumed") + one, pl.col("charged") + one, pl.col("closing") - one
    ).write_parquet(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    basis.record(store, september, basis.listed(store).of(september), digest)
    right = settle.open_statements(store, september, "x")  # every day, read now
    with caplog.at_level(logging.ERROR, logger="flexbatch.books.close"):
        api.close("2026-09", inp, out)
    assert [r.getMessage().split(";")[0] for r in caplog.records] == [
        "statements of 2026-09 as published open differ from their recomputation from every day"
    ]
    issued = files.read_statements(store, [september])
    assert issued["consumed"].to_list() == right["consumed"].to_list()
    assert issued["consumed"][0] == frame["consumed"][0]  # the file before the bump


def test_a_record_of_another_method_vouches_for_nothing(books, monkeypatch):
    # the statements' SQL changed since the records: the night reads every day of October
    # (the record's figures are not carried) and records the new method, and September
    # (untouched) is republished once for a record of it
    inp, out = books
    night = date(2026, 10, 2)
    shutil.copytree(SAMPLE / "usage" / f"date={night}", inp / "usage" / f"date={night}")
    monkeypatch.setattr(basis, "_method_sha256", lambda: "another")
    read = []
    real = files.balance_files
    monkeypatch.setattr(files, "balance_files", lambda *a: read.append(a[1:]) or real(*a))
    api.run(night, inp, out)
    assert read == [
        ([date(2026, 9, 1)], [date(2026, 9, 29), date(2026, 9, 30)]),
        ([date(2026, 10, 1)], [date(2026, 10, 1), night]),
    ]
    assert record_of(out, "2026-09")["method_sha256"] == "another"
    assert record_of(out, "2026-10")["method_sha256"] == "another"
