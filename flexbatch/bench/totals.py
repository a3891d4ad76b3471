"""The honesty check: every engine's result reduced to a few totals that must agree, so a
fast wrong answer shows."""

from __future__ import annotations

import math
from typing import Any

# synthetic.EVENTS_SQL writes a quantity only for these meters (null elsewhere)
QUANTITY_METERS = ("cores_peak", "storage_gb")


def totals(table: Any) -> dict[str, float]:
    """Groups, events, distinct users and resources, and the quantity of the quantity
    meters, summed over an aggregation result (pyarrow Table or pandas DataFrame)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not isinstance(table, pa.Table):
        table = pa.Table.from_pandas(table, preserve_index=False)
    quantity = table.filter(pc.is_in(table["meter"], pa.array(QUANTITY_METERS)))["quantity_sum"]
    return {
        "groups": table.num_rows,
        "events": int(pc.sum(table["events"]).as_py() or 0),
        "unique_users": int(pc.sum(table["unique_users"]).as_py() or 0),
        "unique_resources": int(pc.sum(table["unique_resources"]).as_py() or 0),
        "quantity_sum": float(pc.sum(pc.cast(quantity, pa.float64())).as_py() or 0),
    }


def agrees(a: dict[str, float], b: dict[str, float]) -> bool:
    """Counts equal, quantities equal up to float summation order."""
    exact = ("groups", "events", "unique_users", "unique_resources")
    if any(a.get(k) != b.get(k) for k in exact):
        return False
    qa, qb = a.get("quantity_sum", 0.0), b.get("quantity_sum", 0.0)
    return math.isclose(qa, qb, rel_tol=1e-9, abs_tol=1e-6)
