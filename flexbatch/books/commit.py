"""The close's publication: a month is wholly open or wholly closed, whatever kills it.

The idea of :mod:`flexbatch.storage.publish`, for one month::

    OUT/_books/closing/YYYY-MM/<run_id>/<n>.parquet   1. the generation: every file of it
    OUT/_books/closes/YYYY-MM.json                    2. the commit record: the month closes
    OUT/<target>                                      3. each file renamed into place

The record names each staged file and its target (the issued copies first, the closed
statements last). Before the record exists the month is open, and recovery deletes the
generation; once it exists the month is closed, and recovery (at the start of every
writing command) finishes step 3, which is idempotent. The record stays: it is the
close's own record (``run_id``, ``closed_at``).
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime
from pathlib import Path

from flexbatch.books import basis, months
from flexbatch.books.ledger_files import BOOKS, CLOSES, close_record_rel
from flexbatch.storage.stores import Store

logger = logging.getLogger(__name__)

CLOSING = f"{BOOKS}/closing"


def publish_close(
    store: Store, month: date, run_id: str, closed_at: datetime, files: list[tuple[str, Path]]
) -> bool:
    """Close ``month`` with ``files`` (target path under OUT, local file), in that order;
    False when a close of the month was committed first."""
    generation = f"{CLOSING}/{months.label(month)}/{run_id}"
    staged = []
    for n, (target, local) in enumerate(files):
        rel = f"{generation}/{n}.parquet"
        store.put(local, rel)
        staged.append([target, rel])
    store.sync([rel for _, rel in staged])
    store.check_lock()  # a holder that lost its lease must not commit
    record = {
        "month": months.label(month),
        "run_id": run_id,
        "closed_at": f"{closed_at:%Y-%m-%dT%H:%M:%S.%f}Z",
        "files": staged,
    }
    data = json.dumps(record, sort_keys=True).encode()
    if not store.write_bytes(close_record_rel(month), data, overwrite=False):
        store.delete(generation)
        return False
    store.sync([close_record_rel(month)])
    _roll_forward(store, record)
    return True


def _roll_forward(store: Store, record: dict) -> None:
    for target, staged in record["files"]:
        if store.exists(staged):
            store.rename_over(staged, target)
        elif not store.exists(target):
            raise FileNotFoundError(
                f"{store.display(staged)}: a file of the close of {record['month']} is missing"
            )
    basis.forget(store, months.parse_month(record["month"]))  # closed: never read again
    store.delete(f"{CLOSING}/{record['month']}")


def recover_closes(store: Store) -> None:
    """Finish every committed close; delete every uncommitted generation."""
    for info in store.list_files(CLOSES):
        if info.name.startswith("."):  # a record never renamed into place
            store.delete(info.rel)
    for label in store.list_dirs(CLOSING):
        rel = close_record_rel(months.parse_month(label))
        record = json.loads(store.read_bytes(rel)) if store.exists(rel) else None
        if record is not None and record["run_id"] in store.list_dirs(f"{CLOSING}/{label}"):
            logger.warning("finishing the close of %s (run %s)", label, record["run_id"])
            _roll_forward(store, record)
        else:
            logger.warning("removing an unfinished close of %s", label)
            store.delete(f"{CLOSING}/{label}")
    if not store.list_dirs(CLOSING):
        store.delete(CLOSING)
