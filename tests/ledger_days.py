"""A fast multi-day driver of the credit ledger for golden-row tests: each day runs the
ledger (``ledger(con, CreditInputs, CreditState)``) on an in-memory DuckDB, from
hand-written charges and the validated grants, transfers and top-up rules files, and keeps
the day's tables as Parquet partitions in a scratch OUT, where the next day's
``read_credit_state`` reads them, exactly as the job does. No usage, no charging steps,
no publication protocol: a day takes milliseconds.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from flexbatch.ingest.credit_inputs import load_grants, load_transfers
from flexbatch.ingest.topup_rules import load_topup_rules
from flexbatch.ledger.contract import CreditCounts, CreditInputs
from flexbatch.ledger.credit_ledger import ledger
from flexbatch.ledger.state import read_credit_state
from flexbatch.schemas import OUTPUT_MODELS
from flexbatch.tables import empty_select, table

CHARGES = (
    "account_id varchar, scope_id varchar, product_code varchar, plan_id varchar, "
    "tier integer, transaction_id varchar, credits decimal(38, 6)"
)
# charging's user_limit_exceeded alerts: none here
USAGE_ALERTS = "select account_id, kind, severity, message, amount, ref from ({}) as empty"


def charges_table(con: duckdb.DuckDBPyConnection, rows: Sequence[tuple] | pl.DataFrame) -> pa.Table:
    """The charges the ledger is handed: ``rows`` of CHARGES' columns, or the CHARGES
    columns of a charging day's ``charges`` frame."""
    con.execute(f"create or replace temp table hand_charges ({CHARGES})")
    if isinstance(rows, pl.DataFrame):
        names = ", ".join(re.findall(r"(\w+) (?:varchar|integer|decimal)", CHARGES))
        con.register("charges_frame", rows)
        con.execute(f"insert into hand_charges select {names} from charges_frame")
        con.unregister("charges_frame")
    elif rows:
        con.executemany("insert into hand_charges values (?, ?, ?, ?, ?, ?, ?)", rows)
    return con.table("hand_charges").to_arrow_table()


def hand_charges(day: date, charges: Sequence[tuple[str, str, str]]) -> list[tuple]:
    """CHARGES rows of (account, product, credits): the charge of a product is its plan's
    tier 1, id ``account:product:day``; a product's n-th charge of the day is tier n, id
    ``…#n`` (a day's charges are unique on their key, as charging's are)."""
    seen: dict[tuple[str, str], int] = {}
    rows = []
    for a, p, c in charges:
        n = seen[(a, p)] = seen.get((a, p), 0) + 1
        ref = f"{a}:{p}:{day}" + (f"#{n}" if n > 1 else "")
        rows.append((a, "ns", p, f"P-{p}", n, ref, Decimal(c)))
    return rows


def no_usage_alerts(con: duckdb.DuckDBPyConnection) -> pa.Table:
    return con.sql(USAGE_ALERTS.format(empty_select("alerts"))).to_arrow_table()


def write_csv(path: Path, rows: Sequence[dict]) -> None:
    """A CSV of ``rows`` (the union of their keys as header; a missing key an empty cell)."""
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)


@dataclass
class Ledger:
    """Days of the credit ledger over ``root`` (IN and OUT folders of its own)."""

    root: Path
    grants: Sequence[dict] = ()
    transfers: Sequence[dict] = ()
    topups: Sequence[dict] | None = None
    carry_forward: bool = True  # False: every account recomputed every day
    days: dict[date, dict[str, pl.DataFrame]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.inp, self.out = self.root / "in", self.root / "out"
        self.inp.mkdir(parents=True, exist_ok=True)
        if self.grants:
            write_csv(self.inp / "grants.csv", self.grants)
        if self.transfers:
            write_csv(self.inp / "transfers.csv", self.transfers)
        if self.topups is not None:
            write_csv(self.inp / "topups.csv", self.topups)
        self.grant_frame = load_grants(self.inp)
        self.transfer_frame = load_transfers(self.inp)
        self.topup_frame = load_topup_rules(self.inp, self.grant_frame)
        self.counts: dict[date, CreditCounts] = {}

    def run(self, day: date, charges: Sequence[tuple[str, str, str]] | pl.DataFrame = ()) -> dict:
        """Day ``day`` after the last day run; ``charges`` are (account, product, credits),
        or a charging day's ``charges`` frame taken as it is.
        Returns the day's frames by table path, each validated by its Pandera model."""
        previous = max(self.days) if self.days else None
        con = duckdb.connect()
        try:
            con.execute("set TimeZone = 'UTC'")
            if isinstance(charges, pl.DataFrame):
                hand: Sequence[tuple] | pl.DataFrame = charges
            else:
                hand = hand_charges(day, charges)
            inputs = CreditInputs(
                charges=charges_table(con, hand),
                usage_alerts=no_usage_alerts(con),
                grants=self.grant_frame,
                transfers=self.transfer_frame,
                topup_rules=self.topup_frame,
                day=day,
                previous_day=previous,
            )
            state = read_credit_state(self.out, day, previous, con)
            result = ledger(con, inputs, state, carry_forward=self.carry_forward)
            self.counts[day] = result.counts
            frames = {path: frame.collect() for path, frame in result.tables().items()}
        finally:
            con.close()
        for path, frame in frames.items():
            OUTPUT_MODELS[path].validate(frame)
            folder = self.out / table(path).partition(day)
            folder.mkdir(parents=True, exist_ok=True)
            frame.write_parquet(folder / "part-0.parquet")
        self.days[day] = frames
        return frames

    def entries(self, *types: str) -> list[tuple]:
        """Every day's ledger entries as (date, account, entry_type, grant_id, amount,
        grant_remaining, ref), only ``types`` if given, sorted."""
        rows = [
            (d, r["account_id"], r["entry_type"], r["grant_id"], r["amount"],
             r["grant_remaining"], r["ref"])
            for d, frames in self.days.items()
            for r in frames["credit_ledger"].iter_rows(named=True)
            if not types or r["entry_type"] in types
        ]  # fmt: skip
        return sorted(rows, key=lambda row: tuple("" if v is None else str(v) for v in row))

    def balance(self, day: date, account: str = "acme", currency: str = "flex_credit") -> dict:
        frame = self.days[day]["balances"].filter(
            (pl.col("account_id") == account) & (pl.col("currency") == currency)
        )
        assert frame.height == 1, frame
        return frame.row(0, named=True)

    def slices(self, day: date) -> dict[tuple[str, str], dict]:
        """The slices at the end of ``day`` by (account, grant_id)."""
        return {
            (r["account_id"], r["grant_id"]): r
            for r in self.days[day]["_state/grants"].iter_rows(named=True)
        }

    def alerts(self, *kinds: str) -> list[tuple]:
        """(date, account, kind, ref, amount) of every day's alerts of ``kinds``."""
        return sorted(
            (d, r["account_id"], r["kind"], r["ref"], r["amount"])
            for d, frames in self.days.items()
            for r in frames["alerts"].iter_rows(named=True)
            if r["kind"] in kinds
        )

    def topups_issued(self) -> list[tuple]:
        """(trigger day, rule_id, grant_id, effective_on, amount, available_at_trigger)."""
        return sorted(
            (d, r["rule_id"], r["grant_id"], r["effective_on"], r["amount"],
             r["available_at_trigger"])
            for d, frames in self.days.items()
            for r in frames["topups"].iter_rows(named=True)
        )  # fmt: skip
