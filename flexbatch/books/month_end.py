"""The month-end of ``flexbatch demo``: close the sample's September, let a late file
arrive for one of its days, run that day again, and show the correction booked into
October."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import click
import polars as pl

from flexbatch.books import ledger_files as files
from flexbatch.books.commands import close
from flexbatch.config import Paths
from flexbatch.job import pipeline
from flexbatch.storage.stores import LocalStore

LATE_DAY = date(2026, 9, 30)


def late_input(sample: Path, target: Path, day: date) -> Path:
    """A copy of IN (file times kept: the other days stay fresh) with one more usage file
    for ``day``: its first file again under new event, resource and user ids."""
    shutil.copytree(sample, target, copy_function=shutil.copy2, dirs_exist_ok=True)
    folder = target / "usage" / f"date={day}"
    source = sorted(folder.glob("*.parquet"))[0]
    frame = pl.read_parquet(source, glob=False).with_columns(
        ("late-" + pl.col(c)).alias(c) for c in ("event_id", "resource_id", "user_id")
    )
    frame.write_parquet(folder / "late-arrival.parquet")
    return target


def month_end(sample: Path, out: Path) -> None:
    month = LATE_DAY.replace(day=1)
    result = close(Paths(sample, out), month)
    click.echo(f"  closed {month:%Y-%m} at {result.closed_at[:19]}Z; issued statements:")
    store = LocalStore(out)
    _echo_statements(files.read_statements(store, [month]))
    late = late_input(sample, out / "late-input", LATE_DAY)
    click.echo(f"  a late file arrived for {LATE_DAY} ({late}); run --date {LATE_DAY}:")
    pipeline.run(Paths(late, out), LATE_DAY)
    booked = files.read_corrections(store)
    if booked is None:
        click.echo("    no correction: the late file changed nothing")
        return
    click.echo("  corrections booked (closed month -> booked month):")
    for row in booked.sort(["account_id", "currency"]).iter_rows(named=True):
        click.echo(
            f"    {row['account_id']:<10} {row['currency']:<13} {row['closed_month']:%Y-%m} -> "
            f"{row['booked_month']:%Y-%m}  consumed {row['consumed_delta']:+}  overdraft "
            f"{row['overdraft_delta']:+}  available {row['available_delta']:+}  ({row['reason']})"
        )
    october = files.read_statements(store, [files.first_open_month(store)])
    click.echo("  open statements of the month they are booked in:")
    _echo_statements(october)


def _echo_statements(frame: pl.DataFrame | None) -> None:
    if frame is None:
        return
    for row in frame.sort(["account_id", "currency"]).iter_rows(named=True):
        line = (
            f"    {row['account_id']:<10} {row['currency']:<13} {row['month']:%Y-%m} "
            f"{row['status']:<6}  opening {row['opening']:>10,.2f}  consumed "
            f"{row['consumed']:>9,.2f}  closing {row['closing']:>10,.2f}"
        )
        if row["overdraft"]:
            line += f"  overdraft {row['overdraft']:,.2f}"
        if any(row[f"corrections_{c}"] for c in ("consumed", "overdraft", "available")):
            line += (
                f"  corrections: consumed {row['corrections_consumed']:+,.2f}, overdraft "
                f"{row['corrections_overdraft']:+,.2f}, available "
                f"{row['corrections_available']:+,.2f}"
            )
        click.echo(line)
