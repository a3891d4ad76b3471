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
    _echo_lifecycle(out)
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
        f"select account_id, currency, available, used_total, expired_total, voided_total, "
        f"overdraft_total from {table('balances').duckdb_source(out)} where date = '{day}' "
        "order by account_id, currency"
    ).fetchall()
    click.echo(f"  balances on {day}, per account and currency:")
    for account, currency, available, used, expired, voided, overdraft in balances:
        line = (
            f"    {account:<10} {currency:<13} available {available:>12,.2f}  used {used:>10,.2f}"
        )
        if expired > 0:
            line += f"  expired {expired:,.2f}"
        if voided > 0:
            line += f"  voided {voided:,.2f}"
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


def _echo_lifecycle(out: Path) -> None:
    """The life of the sample's grants (SPEC §10): voids, rollovers and top-ups issued."""
    con = duckdb.connect()
    ledger = table("credit_ledger").duckdb_source(out)
    moves = con.sql(
        f"select entry_type, date, account_id, grant_id, -amount from {ledger} "
        "where entry_type in ('void', 'rollover_out') order by entry_type, date, account_id"
    ).fetchall()
    topups = con.sql(
        f"select account_id, currency, count(*), sum(amount), min(date), max(date) "
        f"from {table('topups').duckdb_source(out)} group by account_id, currency "
        "order by account_id, currency"
    ).fetchall()
    if not moves and not topups:
        return
    click.echo("  grant lifecycle:")
    for kind, day, account, grant_id, amount in moves:
        what = "voided" if kind == "void" else "rolled over"
        click.echo(f"    {account:<10} {grant_id}: {amount:,.2f} {what} on {day}")
    for account, currency, n, amount, first, last in topups:
        click.echo(
            f"    {account:<10} {n} top-ups of {currency}, {amount:,.2f} in all "
            f"(auto-recharge, triggered {first}..{last})"
        )
