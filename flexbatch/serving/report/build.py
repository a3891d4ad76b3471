"""Writing the reports: the DuckDB views over OUT cut at the as-of day, one page per
account, the index, each file replaced atomically."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from datetime import date, timedelta
from pathlib import Path

import duckdb

from flexbatch.errors import ConfigError
from flexbatch.ingest.rate_plans import load_rate_plans
from flexbatch.serving.catalog import register_helper_views
from flexbatch.serving.report.data import AccountData, load_account, rows
from flexbatch.serving.report.index import render_index
from flexbatch.serving.report.page import Range, render_report
from flexbatch.serving.views import register_views
from flexbatch.storage.stores import LocalStore
from flexbatch.tables import empty_select, table

logger = logging.getLogger(__name__)

WINDOW_MONTHS = {"1m": 1, "3m": 3, "6m": 6, "12m": 12}
WINDOWS = (*WINDOW_MONTHS, "custom")
RANGE_LABELS = {"1m": "1 month", "3m": "3 months", "6m": "6 months", "12m": "12 months"}
INDEX_NAME = "index.html"


def write_reports(
    out: Path,
    *,
    account: str | None,
    as_of: date | None,
    window: str,
    since: date | None,
    to_path: Path,
    rate_plans: Path | None = None,
) -> list[Path]:
    """Write the report of ``account`` to ``to_path`` (a file, or a folder to put it in),
    or with ``account=None`` every account's report and ``index.html`` into the folder
    ``to_path``. ``window`` is the range shown first (the page switches between all of
    them); ``rate_plans`` (IN's rate_plans.toml) gives product names, else codes are
    shown. Returns the paths written (the index last)."""
    out, to_path = Path(out), Path(to_path)
    if not out.is_dir():
        raise ConfigError(f"--output {out}: no such folder; fix: run flexbatch run first")
    if window not in WINDOWS:
        raise ConfigError(f"report: unknown --window {window!r}; fix: use {', '.join(WINDOWS)}")
    con = _connect(out)
    as_of = _resolve_as_of(con, as_of)
    start = window_start(as_of, window, since)  # also checks --window and --since
    custom = start if window == "custom" else None
    names = product_names(rate_plans)
    accounts = _accounts(con, as_of)

    def render(name: str) -> tuple[AccountData, str]:
        data = load_account(con, name, as_of, names)
        ranges = _ranges(as_of, data.first_day, custom)
        return data, render_report(data, ranges, window)

    if account is not None:
        if account not in accounts:
            raise ConfigError(
                f"report: --account {account!r} has no usage or credits up to {as_of}; "
                f"fix: use one of {', '.join(accounts[:10]) or '(none)'}"
            )
        target = to_path / report_file_name(account) if to_path.is_dir() else to_path
        target.parent.mkdir(parents=True, exist_ok=True)
        _write(target, render(account)[1])
        return [target]
    if to_path.exists() and not to_path.is_dir():
        raise ConfigError(f"report --all: --to {to_path} is a file; fix: give a folder")
    to_path.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    reports: list[tuple[AccountData, str]] = []
    for name in accounts:
        data, html = render(name)
        target = to_path / report_file_name(name)
        _write(target, html)
        written.append(target)
        reports.append((data, target.name))
    index = to_path / INDEX_NAME
    revenue = rows(
        con, "select * from revenue_monthly order by month, cost_currency", {}
    )  # runs is cut at as_of (``_resolve_as_of``), so the view ends there too
    _write(index, render_index(reports, as_of, revenue))
    written.append(index)
    logger.info("report: %d account reports and %s", len(accounts), index)
    return written


def report_file_name(account: str) -> str:
    """``<readable part>-<8 hex of sha256>.html``: never a path, unique per account id."""
    readable = re.sub(r"[^A-Za-z0-9_-]+", "-", account).strip("-_")[:48] or "account"
    digest = hashlib.sha256(account.encode("utf-8")).hexdigest()[:8]
    return f"{readable}-{digest}.html"


def window_start(as_of: date, window: str, since: date | None) -> date:
    """First day of a range ending at ``as_of`` (inclusive)."""
    if window == "custom":
        if since is None:
            raise ConfigError("report: --window custom needs --since YYYY-MM-DD; fix: add it")
        if since > as_of:
            raise ConfigError(f"report: --since {since} is after the as-of day {as_of}")
        return since
    if since is not None:
        raise ConfigError("report: --since goes with --window custom; fix: add --window custom")
    return _months_before(as_of, WINDOW_MONTHS[window]) + timedelta(days=1)


def _months_before(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    next_month = date(year + (month == 12), month % 12 + 1, 1)
    return date(year, month, min(day.day, (next_month - timedelta(days=1)).day))


def _ranges(as_of: date, first_day: date, custom: date | None) -> list[Range]:
    ranges = [Range(k, RANGE_LABELS[k], window_start(as_of, k, None)) for k in WINDOW_MONTHS]
    ranges.append(Range("all", "All", min(first_day, as_of)))
    if custom is not None:
        ranges.append(Range("custom", f"From {custom}", custom))
    return ranges


def product_names(rate_plans: Path | None) -> dict[str, str]:
    """Product code -> name of its latest plan version that names it."""
    if rate_plans is None or not Path(rate_plans).is_file():
        return {}
    plans = sorted(load_rate_plans(Path(rate_plans)), key=lambda p: p.effective_from)
    return {p.product_code: p.product_name for p in plans if p.product_name}


def _connect(out: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    views = register_views(con, out)
    missing = {"balances", "runs", "credit_ledger"} - set(views)
    if missing:
        raise ConfigError(
            f"report: {out} has no {', '.join(sorted(missing))}; fix: run flexbatch run first"
        )
    spec = table("grant_state")  # not a reader's view: the job's own state
    has_state = bool(LocalStore(out).walk(spec.path, 2))
    source = f"select * from {spec.duckdb_source(out)}" if has_state else empty_select(spec.name)
    con.execute(f"create or replace temp view grant_state as {source}")
    return con


def _resolve_as_of(con: duckdb.DuckDBPyConnection, as_of: date | None) -> date:
    days = {
        day
        for (day,) in con.execute(
            "select distinct date from runs where status = 'succeeded'"
        ).fetchall()
    }
    if not days:
        raise ConfigError("report: no processed day in the output; fix: run flexbatch run first")
    if as_of is None:
        as_of = max(days)
    elif as_of not in days:
        raise ConfigError(
            f"report: --as-of {as_of} is not a processed day (processed: {min(days)} to "
            f"{max(days)}); fix: pick a processed day"
        )
    # ``runs`` ends at the as-of day, so the 90-day helper views end there too
    con.execute("alter view runs rename to runs_published")
    con.execute(f"create view runs as select * from runs_published where date <= date '{as_of}'")
    register_helper_views(con)
    return as_of


def _accounts(con: duckdb.DuckDBPyConnection, as_of: date) -> list[str]:
    found = con.execute(
        "select account_id from balances where date <= $as_of "
        "union select account_id from usage_daily where date <= $as_of",
        {"as_of": as_of},
    ).fetchall()
    return sorted(name for (name,) in found if name)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
