"""``flexbatch explain TRANSACTION_ID`` (SPEC §7): why one charge row is what it is.

The row is found in OUT's ``charges``; its day is replayed from IN (:mod:`trace`) for the
row's account, product and meter only; the replay must give the published row back (else
IN changed since: the day is stale, and nothing read now would explain it). The answer has
the keys ``charge``, ``positions``, ``subjects``, ``events`` and ``ledger``; a key that does
not apply to the row's algorithm is null. ``lifecycle`` (SPEC §10) adds the void and
rollover entries of the slices the charge drew from: the rollover that made a
``GRANT~rollover`` slice, a later rollover or void of what the charge left in it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from flexbatch.audit.trace import Focus, trace_day
from flexbatch.errors import ConfigError, FlexbatchError
from flexbatch.ingest.job_config import JobConfig
from flexbatch.ingest.rate_plans import RESOURCE_ALGORITHMS, USER_ALGORITHMS
from flexbatch.job.day import connect
from flexbatch.serving.views import register_views
from flexbatch.storage.stores import LocalStore

logger = logging.getLogger(__name__)

SUBJECT_ALGORITHMS = frozenset((*USER_ALGORITHMS, *RESOURCE_ALGORITHMS))
QUANTITY_ALGORITHMS = frozenset({"sum", "peak"})
DEFAULT_LIMIT = 100


class Replay:
    """One day replayed for some of its charge rows, answering per transaction."""

    def __init__(self, con: duckdb.DuckDBPyConnection, day: date) -> None:
        self.con = con
        self.day = day

    def _rows(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        cursor = self.con.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def transaction_ids(self) -> list[str]:
        return [r["transaction_id"] for r in self._rows(
            "select transaction_id from explain_charges order by transaction_id", []
        )]  # fmt: skip

    def explanation(self, transaction_id: str, limit: int | None = DEFAULT_LIMIT) -> dict:
        """The SPEC §7 object of one explained row (``limit`` None lists every event)."""
        (charge,) = self._rows(
            "select * exclude (date), date from explain_charges where transaction_id = ?",
            [transaction_id],
        )
        algorithm = charge["algorithm"]
        ledger = self._rows(
            "select date, grant_id, currency, entry_type, amount, product_code, "
            "grant_remaining from credit_ledger where ref = ? and date = ? "
            "order by entry_order, grant_id",
            [transaction_id, self.day],
        )
        return {
            "charge": charge,
            "positions": self._positions(transaction_id, algorithm),
            "subjects": self._subjects(transaction_id) if algorithm in SUBJECT_ALGORITHMS else None,
            "events": self._events(transaction_id, algorithm, limit),
            "ledger": ledger,
            "lifecycle": self._lifecycle(charge["account_id"], ledger),
        }

    def _lifecycle(self, account_id: str, ledger: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The void, rollover_out and rollover_in entries of the account's slices the
        charge drew from (a rollover_out names the slice it made in ``ref``)."""
        slices = sorted({e["grant_id"] for e in ledger if e["grant_id"] is not None})
        if not slices:
            return []
        marks = ", ".join("?" for _ in slices)
        return self._rows(
            "select date, grant_id, currency, entry_type, amount, ref, grant_remaining "
            "from credit_ledger where account_id = ? "
            "and entry_type in ('void', 'rollover_out', 'rollover_in') "
            f"and (grant_id in ({marks}) or (entry_type = 'rollover_out' and ref in ({marks}))) "
            "order by date, entry_order, grant_id, entry_type",
            [account_id, *slices, *slices],
        )

    def _positions(self, transaction_id: str, algorithm: str) -> dict[str, Any]:
        """Counted units sit at whole positions, the first one range_start + 1; a sum's or
        a peak's quantity fills (range_start, range_end]."""
        counted = algorithm not in QUANTITY_ALGORITHMS
        periods = self._rows(
            "select period_key as period_start, "
            + ("cast(range_start as bigint) + 1" if counted else "range_start")
            + " as position_from, "
            + ("cast(range_end as bigint)" if counted else "range_end")
            + " as position_to from explain_segments where transaction_id = ? "
            "order by period_key",
            [transaction_id],
        )
        return {
            "position_from": min((p["position_from"] for p in periods), default=None),
            "position_to": max((p["position_to"] for p in periods), default=None),
            "bounds": "[from, to]" if counted else "(from, to]",
            "periods": periods,
        }

    def _subjects(self, transaction_id: str) -> list[dict[str, Any]]:
        return self._rows(
            "select subject_id, scope_id, position, event_id, ts, source_file, "
            "period_key as period_start from explain_subjects where transaction_id = ? "
            "order by period_key, position",
            [transaction_id],
        )

    def _events(self, transaction_id: str, algorithm: str, limit: int | None) -> dict | None:
        if algorithm == "fixed":
            # one unit per period instance: the period's first event
            listed = self._subjects(transaction_id)
            for entry in listed:
                del entry["subject_id"]
            return {"count": len(listed), "listed": listed}
        if algorithm not in QUANTITY_ALGORITHMS:
            return None
        ((count, total, in_scope),) = self.con.execute(
            "select count(*), coalesce(sum(units), 0), "
            "coalesce(sum(scope_events), 0) from explain_quantities where transaction_id = ?",
            [transaction_id],
        ).fetchall()
        listed = self._rows(
            "select event_id, ts, source_file, scope_id, quantity, position_from, position_to, "
            "units, period_key as period_start from explain_quantities "
            "where transaction_id = ? order by period_key, position_from, event_id"
            + ("" if limit is None else f" limit {int(limit)}"),
            [transaction_id],
        )
        if algorithm == "peak":
            # the events the maximum was taken over, and the one that set it
            return {"count": int(in_scope), "new_maximum": total, "listed": listed}
        return {"count": int(count), "total": total, "listed": listed}


@contextlib.contextmanager
def replay_day(
    inputs: Path, out: Path, day: date, transaction_id: str | None = None
) -> Iterator[Replay]:
    """Replay ``day`` for one published charge row (its account, product and meter only)
    or, with no ``transaction_id``, for every charge row of the day."""
    con = connect()
    try:
        register_views(con, out)
        where = "date = ?" + (" and transaction_id = ?" if transaction_id else "")
        params: list[Any] = [day, transaction_id] if transaction_id else [day]
        con.execute(
            f"create temp table explain_charges as select * from charges where {where}", params
        )
        focus = None
        if transaction_id is not None:
            row = con.execute(
                "select account_id, product_code, meter from explain_charges"
            ).fetchone()
            assert row is not None
            focus = Focus(*row)
        config = JobConfig.load(LocalStore(inputs))
        trace_day(con, LocalStore(inputs), LocalStore(out), config, day, focus)
        stale = con.execute("select * from explain_recomputed limit 1").fetchone()
        if stale is not None:
            raise FlexbatchError(
                f"explain: charge {stale[0]} of {day} is {stale[1]} units / {stale[3]} credits "
                f"in OUT but {stale[2]} / {stale[4]} from IN now: IN changed since the day ran; "
                "fix: flexbatch run --since-changed, then explain again"
            )
        yield Replay(con, day)
    finally:
        con.close()


def find_day(out: Path, transaction_id: str) -> date:
    """The day of the charge row ``transaction_id``; ConfigError (exit 2) when none."""
    con = duckdb.connect()
    try:
        register_views(con, out)
        found = con.execute(
            "select distinct date from charges where transaction_id = ?", [transaction_id]
        ).fetchall()
    finally:
        con.close()
    if len(found) != 1:
        raise ConfigError(
            f"explain: no charge row has transaction_id {transaction_id!r} in {out}/charges; "
            'fix: pick one from flexbatch sql "select transaction_id from charges" --output OUT'
        )
    return found[0][0]


def explain(inputs: Path, out: Path, transaction_id: str, limit: int = DEFAULT_LIMIT) -> dict:
    """SPEC §7's explanation of one charge row."""
    if not out.is_dir():
        raise ConfigError(f"--output {out}: no such folder; fix: run flexbatch run first")
    day = find_day(out, transaction_id)
    with replay_day(inputs, out, day, transaction_id) as replay:
        return replay.explanation(transaction_id, limit)
