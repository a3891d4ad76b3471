"""``flexbatch demo``: the whole job on the sample data of ``data/``."""

from __future__ import annotations

import shlex
import sys
import tempfile
from datetime import date
from pathlib import Path

import click
import duckdb

from flexbatch.books.month_end import month_end
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
    click.echo(f"flexbatch demo: {len(results)} days {days[0]}..{days[-1]} from {sample}")
    click.echo(f"  events read {read}, quarantined {quarantined}, duplicates {duplicates}")
    _echo_balances(out, days[-1])
    month_end(sample, out)  # close September, then late data books a correction (SPEC §8)
    reports = write_reports(
        out,
        account=None,
        as_of=None,
        window="3m",
        since=None,
        to_path=out / "reports",
        rate_plans=sample / "rate_plans.toml",
    )
    click.echo(f"outputs: {out}")
    click.echo(f"reports: {reports[-1]}  (open it in a browser)")
    click.echo(f"catalog: {out / 'flexbatch.duckdb'}  (duckdb -readonly)")
    # the interpreter running now, so the line works without the venv on PATH
    query = shlex.quote("select * from balances where overdraft_total > 0 limit 10")
    python = shlex.quote(sys.executable)
    click.echo(f"try: {python} -m flexbatch sql {query} --output {shlex.quote(str(out))}")
    return out


def _echo_balances(out: Path, day: date) -> None:
    """Each account's balance per currency on ``day`` (currencies are never added up),
    overdraft called out, and the alerts raised."""
    con = duckdb.connect()
    balances = con.sql(
        f"select account_id, currency, available, used_total, expired_total, overdraft_total "
        f"from {table('balances').duckdb_source(out)} where date = '{day}' "
        "order by account_id, currency"
    ).fetchall()
    click.echo(f"  balances on {day}, per account and currency:")
    for account, currency, available, used, expired, overdraft in balances:
        line = (
            f"    {account:<10} {currency:<13} available {available:>12,.2f}  used {used:>10,.2f}"
        )
        if expired > 0:
            line += f"  expired {expired:,.2f}"
        if overdraft > 0:
            line += f"  OVERDRAFT {overdraft:,.2f} (usage not covered)"
        click.echo(line)
    alerts = con.sql(
        f"select kind, count(*) as n, string_agg(distinct account_id, ', ' order by account_id) "
        f"from {table('alerts').duckdb_source(out)} group by kind order by kind"
    ).fetchall()
    total = sum(n for _, n, _ in alerts)
    click.echo(f"  alerts: {total} raised" + (":" if alerts else ""))
    for kind, n, accounts in alerts:
        click.echo(f"    {kind:<20} {n:>3}  ({accounts})")
