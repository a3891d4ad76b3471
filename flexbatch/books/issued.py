"""Issued means immutable (SPEC §8): what the exports of a closed month print.

The close keeps two copies of the month under ``OUT/_books/issued/month=YYYY-MM/``: its
``credit_ledger`` rows (with ``date``) and its FOCUS rows (the ledger's rows of its days
and the corrections booked in it) exactly as ``export`` printed them at the close. From
then on ``export credit_ledger --format csv|parquet|focus`` takes a closed month's rows
from these copies, whatever late data or a new configuration later does to the ledger,
and every other month's rows from the live tables. The FOCUS copy is stored with a
placeholder provider that the export replaces with ``FLEXBATCH_PROVIDER_NAME``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from flexbatch.books import ledger_files, months
from flexbatch.resources import sql_text
from flexbatch.serving import focus
from flexbatch.storage.stores import LocalStore

PROVIDER_COLUMNS = ("InvoiceIssuerName", "ProviderName", "PublisherName")
PLACEHOLDER = "\x00provider"
DAY = "_day"  # the day a FOCUS row is filtered by (the ledger entry's, a correction's month)
ORDER = ("ChargePeriodStart", "BillingAccountId", "ChargeCategory", "x_GrantId", "x_LedgerRef")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _closed(out: Path) -> list[date]:
    """Closed months whose issued copies are in place (a close a kill interrupted after
    its commit is finished by the next writing command's recovery; until then its month
    exports live, as it did before)."""
    return [
        month
        for month in ledger_files.closed_months(LocalStore(out))
        if all(
            (out / ledger_files.issued_rel(month, n)).is_file() for n in ("credit_ledger", "focus")
        )
    ]


def _issued_table(out: Path, closed: list[date], name: str, start, end) -> pa.Table | None:
    """The issued copies ``name`` of the closed months overlapping start..end, as one table."""
    tables = []
    for month in closed:
        if (start is not None and months.last_day(month) < start) or (
            end is not None and month > end
        ):
            continue
        path = out / ledger_files.issued_rel(month, name)
        if path.is_file():
            tables.append(pq.read_table(path))
    return pa.concat_tables(tables) if tables else None


def _register_closed(con: duckdb.DuckDBPyConnection, closed: list[date]) -> None:
    con.register(
        "books_closed_months",
        pa.table({"month": pa.array(closed, pa.date32())}),
    )


def register_issued_ledger(con: duckdb.DuckDBPyConnection, out: Path) -> None:
    """Redefine view ``credit_ledger``: closed months' days from their issued copies, the
    other days live (``con`` already has the live view)."""
    closed = _closed(out)
    issued = _issued_table(out, closed, "credit_ledger", None, None)
    if issued is None:
        return
    columns = [name for name, *_ in con.execute("describe credit_ledger").fetchall()]
    select = ", ".join(_q(c) for c in columns)
    con.execute("create or replace temp table live_credit_ledger as select * from credit_ledger")
    con.register("issued_credit_ledger", issued)
    _register_closed(con, closed)
    con.execute(
        f"""create or replace temp view credit_ledger as
        select {select} from issued_credit_ledger
        union all
        select {select} from live_credit_ledger
        where cast(date_trunc('month', date) as date) not in (
            select month from books_closed_months
        )"""
    )


def focus_rows(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    *,
    account: str | None,
    start: date | None,
    end: date | None,
    provider: str,
    with_day: bool = False,
) -> duckdb.DuckDBPyRelation:
    """The FOCUS export: the live ledger's rows of open months, the corrections booked in
    open months, and the issued rows of closed months, in one deterministic order."""
    live = focus.focus_relation(con, out, account=account, start=start, end=end, provider=provider)
    types = dict(zip(live.columns, map(str, live.types), strict=True))
    cast = ", ".join(f"cast({_q(c)} as {types[c]}) as {_q(c)}" for c in focus.COLUMNS)
    live.create_view("books_focus_live", replace=True)
    params = {"account": account, "start": start, "end": end, "provider": provider}
    corrections = con.sql(sql_text("focus_corrections"), params=params)
    corrections.create_view("books_focus_corrections", replace=True)
    closed = _closed(out)
    _register_closed(con, closed)
    still_open = (
        f"where cast(date_trunc('month', {DAY}) as date) not in "
        "(select month from books_closed_months)"
    )
    parts = [
        f"select * from (select {cast}, cast({_q('ChargePeriodStart')} as date) as {DAY} "
        f"from books_focus_live) {still_open}",
        f"select {cast}, {DAY} from books_focus_corrections {still_open}",
    ]
    issued = _issued_table(out, closed, "focus", start, end)
    if issued is not None:
        con.register("books_focus_issued", issued)
        provided = {c: f"$provider as {_q(c)}" for c in PROVIDER_COLUMNS}
        issued_cast = ", ".join(
            provided.get(c, f"cast({_q(c)} as {types[c]}) as {_q(c)}") for c in focus.COLUMNS
        )
        parts.append(
            f"select {issued_cast}, {DAY} from books_focus_issued "
            f"where ($account is null or {_q('BillingAccountId')} = $account) "
            f"and ($start is null or {DAY} >= $start) and ($end is null or {DAY} <= $end)"
        )
    union = "\nunion all\n".join(parts)
    keep = "" if with_day else f" exclude ({DAY})"
    order = [*ORDER, *(c for c in focus.COLUMNS if c not in ORDER)]
    query = f"select *{keep} from ({union}) order by {', '.join(_q(c) for c in order)}"
    return con.sql(query, params=params if issued is not None else None)


def issue(out: Path, month: date) -> tuple[pa.Table, pa.Table]:
    """The month's ledger rows and FOCUS rows as the export prints them now (the close
    keeps them)."""
    from flexbatch.serving.views import register_views

    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        register_views(con, out)
        ledger = con.sql(
            "select * from credit_ledger where date between $start and $end",
            params={"start": month, "end": months.last_day(month)},
        ).to_arrow_table()
        rows = focus_rows(
            con,
            out,
            account=None,
            start=month,
            end=months.last_day(month),
            provider=PLACEHOLDER,
            with_day=True,
        ).to_arrow_table()
    finally:
        con.close()
    return ledger, rows
