"""Test helpers: write a few usage rows and a rate-plan file, read an output table back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data"  # the sample input the package ships as flexbatch.sample

USAGE_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("ts", pa.timestamp("us")),
        ("account_id", pa.string()),
        ("scope_id", pa.string()),
        ("product_code", pa.string()),
        ("meter", pa.string()),
        ("user_id", pa.string()),
        ("resource_id", pa.string()),
        ("quantity", pa.float64()),
    ]
)


def event(
    ts: str,
    *,
    event_id: str | None = None,
    account: str = "acme",
    scope: str = "ns-1",
    product: str = "ADH",
    meter: str = "streams_accessed",
    user: str | None = None,
    resource: str | None = None,
    quantity: float | None = None,
) -> dict:
    """One usage row; ``ts`` like '2026-01-05T10:00:00'; event_id defaults to a unique id."""
    event.counter += 1  # type: ignore[attr-defined]
    return {
        "event_id": event_id or f"e{event.counter}",  # type: ignore[attr-defined]
        "ts": datetime.fromisoformat(ts),
        "account_id": account,
        "scope_id": scope,
        "product_code": product,
        "meter": meter,
        "user_id": user,
        "resource_id": resource,
        "quantity": quantity,
    }


event.counter = 0  # type: ignore[attr-defined]


def write_usage(
    root: Path,
    day: date | str,
    rows: Sequence[dict],
    name: str = "part-0.parquet",
    schema: pa.Schema = USAGE_SCHEMA,
) -> Path:
    """Write ``rows`` as one Parquet file of the day's partition (creating it)."""
    folder = root / "usage" / f"date={day}"
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(list(rows), schema=schema)
    path = folder / name
    pq.write_table(table, path)
    return path


def write_plans(root: Path, toml_text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "rate_plans.toml"
    path.write_text(toml_text, encoding="utf-8")
    return path


def plan_toml(
    plan_id: str = "P",
    *,
    algorithm: str = "daily_unique_resources",
    chargeable: str = "resource",
    billing_period: str = "day",
    meter: str = "streams_accessed",
    product: str = "ADH",
    tiers: str = "[ { above = 0, price = 0 }, { above = 500, price = 0.002 } ]",
    effective_from: str = "2026-01-01",
    effective_to: str | None = None,
    extra: str = "",
) -> str:
    """One [[plan]] table in the SPEC §3.2 format."""
    lines = [
        "[[plan]]",
        f'id = "{plan_id}"',
        f'product_code = "{product}"',
        f'chargeable = "{chargeable}"',
        f'meter = "{meter}"',
        f'algorithm = "{algorithm}"',
        f'billing_period = "{billing_period}"',
        f"effective_from = {effective_from}",
    ]
    if effective_to:
        lines.append(f"effective_to = {effective_to}")
    if extra:
        lines.append(extra)
    lines.append(f"tiers = {tiers}")
    return "\n".join(lines) + "\n\n"


def read_table(out: Path, table: str) -> pl.DataFrame:
    """An output table with its ``date`` partition column, or an empty frame."""
    files = sorted((out / table).glob("date=*/*.parquet"))
    if not files:
        return pl.DataFrame()
    frames = [
        pl.read_parquet(f).with_columns(pl.lit(date.fromisoformat(f.parent.name[5:])).alias("date"))
        for f in files
    ]
    return pl.concat(frames, how="diagonal_relaxed")


GRANT_CSV_COLUMNS = (
    "grant_id", "account_id", "currency", "amount", "effective_on", "expires_on",
    "priority", "products", "source", "unit_cost", "cost_currency",
    "voided_on", "rollover_max", "rollover_days",
)  # fmt: skip
TRANSFER_CSV_COLUMNS = ("transfer_id", "date", "from_account", "to_account", "amount", "currency")
TOPUP_CSV_COLUMNS = (
    "rule_id", "account_id", "currency", "threshold", "amount", "target", "unit_cost",
    "cost_currency", "priority", "products", "expires_after_days", "max_per_month",
)  # fmt: skip


def _write_csv(path: Path, columns: Sequence[str], rows: Sequence[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(columns)]
    lines += [",".join("" if row.get(c) is None else str(row[c]) for c in columns) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_grants(root: Path, rows: Sequence[dict]) -> Path:
    """IN/grants.csv from dicts keyed by SPEC §3.3 column (missing or None = empty cell)."""
    return _write_csv(root / "grants.csv", GRANT_CSV_COLUMNS, rows)


def write_transfers(root: Path, rows: Sequence[dict]) -> Path:
    """IN/transfers.csv from dicts keyed by SPEC §3.3 column (missing or None = empty cell)."""
    return _write_csv(root / "transfers.csv", TRANSFER_CSV_COLUMNS, rows)


def write_topups(root: Path, rows: Sequence[dict]) -> Path:
    """IN/topups.csv from dicts keyed by SPEC §10 column (missing or None = empty cell)."""
    return _write_csv(root / "topups.csv", TOPUP_CSV_COLUMNS, rows)


def copy_sample(root: Path, span: Sequence[date]) -> Path:
    """IN with the sample's configuration and the usage partitions of ``span`` (file times
    kept, so the copies are the same inputs to change detection)."""
    import shutil

    root.mkdir(parents=True)
    for name in ("rate_plans.toml", "grants.csv", "transfers.csv", "topups.csv"):
        if (SAMPLE / name).exists():
            shutil.copy2(SAMPLE / name, root / name)
    for day in span:
        shutil.copytree(SAMPLE / "usage" / f"date={day}", root / "usage" / f"date={day}")
    return root


def add_late_file(inp: Path, day: date) -> Path:
    """Another file for ``day``: a copy of its first file with new event and subject ids."""
    source = sorted((inp / "usage" / f"date={day}").glob("*.parquet"))[0]
    frame = pl.read_parquet(source, glob=False).with_columns(
        ("late-" + pl.col(c)).alias(c) for c in ("event_id", "resource_id", "user_id")
    )
    path = source.parent / "late-arrival.parquet"
    frame.write_parquet(path)
    return path
