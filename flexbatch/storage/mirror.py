"""A local mirror of an S3 IN or OUT for the commands that read files with DuckDB or
pyarrow (``sql``, ``export``, ``report``, ``explain``, ``simulate``).

The mirror holds the published files of the tables asked for, at their relative paths in
a private temporary folder, so every local reader works on it unchanged; it is deleted
when the command ends. It is read while a writer may be rolling a day forward, so it has
what a reader of the bucket would see at that moment: each table's partition whole, old
or new (see the README's guarantees on S3).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from flexbatch.books.ledger_files import BOOKS
from flexbatch.settings import Settings
from flexbatch.storage.stores import Store
from flexbatch.tables import TABLES, VIEWS


def readable_root(store: Store) -> Path:
    """A local folder holding ``store``'s published tables: the store's own folder, or
    for an S3 store its mirror, filled now with every table and the books (the close's
    FOCUS rows read the grant state too)."""
    if store.local_root is not None:
        return store.local_root
    for rel in (*(spec.path for spec in TABLES), BOOKS):
        store.fetch_tree(rel)  # type: ignore[attr-defined]
    return store.mirror  # type: ignore[attr-defined]


@contextlib.contextmanager
def mirrored_output(uri: str, tables: str, settings: Settings) -> Iterator[Path]:
    """The S3 OUT ``uri``'s tables (``views``: those ``sql`` shows; ``all``: every table)
    as a local folder."""
    from flexbatch.storage.s3 import S3Store

    store = S3Store(uri, settings.work_dir, settings.lease_seconds)
    try:
        for spec in VIEWS if tables == "views" else TABLES:
            store.fetch_tree(spec.path)
        store.fetch_tree(BOOKS)  # a closed month's exports print its issued copies (§8)
        yield store.mirror
    finally:
        store.close()


@contextlib.contextmanager
def mirrored_input(uri: str, days: list[date], settings: Settings) -> Iterator[Path]:
    """The S3 IN ``uri``'s configuration files and the usage partitions of ``days`` (an
    empty partition, a ``usage/date=D/`` marker, as an empty folder) as a local folder."""
    from flexbatch.ingest.job_config import CONFIG_FILES
    from flexbatch.ingest.usage_input import partition_rel
    from flexbatch.storage.s3 import S3Store

    store = S3Store(uri, settings.work_dir, settings.lease_seconds)
    try:
        for name in CONFIG_FILES:
            if store.exists(name):
                store.local(name)
        for day in days:
            folder = partition_rel(day)
            if store.is_dir(folder):
                store.fetch_tree(folder).mkdir(parents=True, exist_ok=True)
        yield store.mirror
    finally:
        store.close()
