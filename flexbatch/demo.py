"""``flexbatch demo``: the whole job on the sample data of ``data/``."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import click
import duckdb
import polars as pl

from flexbatch.config import Paths
from flexbatch.job import pipeline
from flexbatch.resources import sample_input
from flexbatch.serving.report import write_reports
from flexbatch.tables import table


def sample_days(input_root: Path) -> list[date]:
    """The days with a usage partition under ``input_root``."""
    return sorted(
        date.fromisoformat(p.name.removeprefix("date="))
        for p in (input_root / "usage").glob("date=*")
        if p.is_dir()
    )


def run_demo(output: Path | None) -> Path:
    out = output or Path(tempfile.mkdtemp(prefix="flexbatch-demo-"))
    sample = sample_input(out)
    days = sample_days(sample)
    results = pipeline.backfill(Paths(sample, out), days[0], days[-1])
    read = sum(r.counts.rows_read for r in results)
    quarantined = sum(r.counts.rows_quarantined for r in results)
    duplicates = sum(r.counts.duplicates for r in results)
    charges = duckdb.sql(f"select * from {table('charges').duckdb_source(out)}").pl()
    by_account = (
        charges.group_by("account_id")
        .agg(pl.col("credits").sum(), pl.len().alias("charge_rows"))
        .sort("account_id")
    )
    click.echo(f"flexbatch demo: {len(results)} days {days[0]}..{days[-1]} from {sample}")
    click.echo(f"  events read {read}, quarantined {quarantined}, duplicates {duplicates}")
    for row in by_account.iter_rows(named=True):
        click.echo(
            f"  {row['account_id']:<12} {row['charge_rows']:>5} charges  {row['credits']} credits"
        )
    reports = write_reports(
        out, account=None, as_of=None, window="3m", since=None, to_path=out / "reports"
    )
    click.echo(f"outputs: {out}")
    click.echo(f"reports: {reports[-1]}  (open it in a browser)")
    click.echo(f"catalog: {out / 'flexbatch.duckdb'}  (duckdb -readonly)")
    click.echo(f'try: flexbatch sql "select * from charges limit 10" --output {out}')
    return out
