"""What an open month's published statements were computed from, their *basis*: lets
``status`` tell that they still follow the ledger without reading a balance, and
``settle`` merge the days since into them rather than read the month again.

```
OUT/_books/basis/YYYY-MM.json
{"version": 2, "month": "YYYY-MM",
 "method_sha256": how statements are computed (sql/books/statements.sql, the columns),
 "statements_sha256": the statements file this record describes (its bytes),
 "days": {"D": {"commit": "<seq>.<run_id>.json", "balances": [[name, size, mtime_ns]]}},
 "corrections_sha256": the corrections booked on the month (their rows) or ""}
```

The statements are a function of the month's processed days' ``balances`` and of the
corrections booked on it. A day is named by its latest commit record: every publication
of a day (a rerun, a restatement, a cascade) commits under a new name, and ``settle``
runs only once every committed day is rolled forward, so the name says which files the
day holds; the ``balances`` files' size and time catch a file changed outside the
protocol. The corrections are few and ``status`` reads them anyway: their rows are hashed.

``settle`` lists these inputs before it reads them (it holds the lock: nothing changes
until it is done), puts the statements file, and only then writes the record, naming
the file by its sha256. A record is trusted only when its file is the one published and
every input is as listed, so a kill anywhere leaves no record that vouches for stale
statements: before the record is replaced, it names the previous file (or inputs that
have moved on since). A missing, unreadable or foreign record is not trusted, and
``status`` recomputes the month as before. A closed month's record is not read (the
close deletes it). ``settle`` trusts a record for the days it names (``vouched``: the
file it names, those days as listed now, the same method), and computes the corrections
afresh; a record never names a day its file does not cover, nor the reverse, since
``settle`` reads exactly the days it lists.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import date

import polars as pl

from flexbatch.books import months as m
from flexbatch.books.ledger_files import (
    BOOKS,
    published_statements,
    read_corrections,
    statements_rel,
)
from flexbatch.resources import sql_text
from flexbatch.storage.partitions import partition_day, table_files
from flexbatch.storage.publish import latest_commits, processed_days
from flexbatch.storage.stores import Store

BASIS = f"{BOOKS}/basis"
VERSION = 2


@functools.cache
def _method_sha256() -> str:
    """How statements are computed: a record of another method vouches for nothing (a
    changed rule would otherwise carry last month's figures to the month's end)."""
    from flexbatch.books.statements import COLUMNS

    text = sql_text("statements") + "\n" + ",".join(COLUMNS)
    return hashlib.sha256(text.encode()).hexdigest()


def basis_rel(month: date) -> str:
    return f"{BASIS}/{m.label(month)}.json"


def has_record(store: Store, month: date) -> bool:
    """Whether ``month`` has a record of this version and method (whatever it vouches
    for): else ``settle`` republishes the month once to write one."""
    if not store.exists(basis_rel(month)):
        return False
    try:
        found = json.loads(store.read_bytes(basis_rel(month)))
    except (OSError, ValueError):
        return False
    names = {"version": VERSION, "method_sha256": _method_sha256()}
    return isinstance(found, dict) and all(found.get(k) == v for k, v in names.items())


@dataclass(frozen=True)
class Inputs:
    """What OUT's open statements are computed from, as listed now (no balance read)."""

    days: dict[date, dict]  # each processed day: its commit record and balances files
    corrections: pl.DataFrame | None  # every booked correction

    def of(self, month: date) -> dict | None:
        """``month``'s inputs as its record holds them; None when a day of it has no
        commit record (an OUT from before the commit protocol): nothing names it."""
        days = {d.isoformat(): v for d, v in sorted(self.days.items()) if m.month_of(d) == month}
        if any(v["commit"] is None for v in days.values()):
            return None
        booked = None
        if self.corrections is not None:
            booked = self.corrections.filter(pl.col("booked_month") == month)
        return {"days": days, "corrections_sha256": rows_sha256(booked)}


def listed(
    store: Store, processed: list[date] | None = None, corrections: pl.DataFrame | None = None
) -> Inputs:
    """The inputs of every processed month: two listings (commit records, ``balances``)
    and the booked corrections (``corrections``: as read already)."""
    processed = processed_days(store) if processed is None else processed
    commits = latest_commits(store)
    balances: dict[date, list] = {}
    for info in table_files(store, "balances"):
        balances.setdefault(partition_day(info), []).append([info.name, info.size, info.mtime_ns])
    days = {d: {"commit": commits.get(d), "balances": balances.get(d, [])} for d in processed}
    return Inputs(days, read_corrections(store) if corrections is None else corrections)


def rows_sha256(frame: pl.DataFrame | None) -> str:
    """A digest of ``frame``'s rows in any order ("" for none)."""
    if frame is None or frame.height == 0:
        return ""
    text = frame.sort(frame.columns, nulls_last=True).write_csv()
    return hashlib.sha256(text.encode()).hexdigest()


def _expected(month: date, inputs: dict, statements_sha256: str) -> dict:
    return {
        "version": VERSION,
        "month": m.label(month),
        "method_sha256": _method_sha256(),
        "statements_sha256": statements_sha256,
        **inputs,
    }


def record(store: Store, month: date, inputs: dict | None, statements_sha256: str) -> None:
    """After ``month``'s statements file (``statements_sha256``) is published: the inputs
    it was computed from, listed before they were read. None: no record (a record
    already there names an earlier file, and is not trusted)."""
    if inputs is None:
        return
    data = json.dumps(_expected(month, inputs, statements_sha256), sort_keys=True)
    store.write_bytes(basis_rel(month), data.encode())


def _recorded(store: Store, month: date) -> tuple[object, bytes] | None:
    """``month``'s record and its published statements file's bytes; None when either is
    missing or the record is not JSON."""
    if not store.exists(basis_rel(month)) or not store.exists(statements_rel(month)):
        return None  # checked first: a Hadoop store's read of a missing file is no OSError
    try:
        return json.loads(store.read_bytes(basis_rel(month))), store.read_bytes(
            statements_rel(month)
        )
    except (OSError, ValueError):  # unreadable, or the statements file is gone
        return None


def is_current(store: Store, month: date, inputs: dict | None) -> bool:
    """Whether ``month``'s record vouches for its published statements: the file is the
    one it names and ``inputs`` (OUT's now) are those it lists. A read."""
    recorded = None if inputs is None else _recorded(store, month)
    if inputs is None or recorded is None:
        return False
    found, published = recorded
    return found == _expected(month, inputs, hashlib.sha256(published).hexdigest())


@dataclass(frozen=True)
class Vouched:
    """Published statements of a month and the days they were computed from."""

    statements: pl.DataFrame  # with ``month``
    days: frozenset[date]


def vouched(store: Store, month: date, inputs: dict | None) -> Vouched | None:
    """``month``'s published statements, when its record names that file and each day it
    lists is as ``inputs`` (OUT's now) lists it: the month so far, which the days since
    extend (``settle``). None otherwise (no record, another file, a day republished or
    withdrawn since): the month is computed from all its days. The corrections are not
    compared: the statements' corrections are computed afresh, not carried."""
    recorded = None if inputs is None else _recorded(store, month)
    if inputs is None or recorded is None or not isinstance(recorded[0], dict):
        return None
    found, published = recorded
    days = found.get("days")
    names = _expected(month, {}, hashlib.sha256(published).hexdigest())
    if any(found.get(k) != v for k, v in names.items()) or not isinstance(days, dict):
        return None
    if any(inputs["days"].get(d) != v for d, v in days.items()):
        return None
    frame = published_statements(io.BytesIO(published), month)  # the bytes hashed
    return Vouched(frame, frozenset(date.fromisoformat(d) for d in days))


def forget(store: Store, month: date) -> None:
    """A closed month's record is never read again."""
    store.delete(basis_rel(month))


def clear_unfinished(store: Store) -> None:
    """Hidden files a kill left while a record was written."""
    for info in store.list_files(BASIS):
        if info.name.startswith("."):
            store.delete(info.rel)
