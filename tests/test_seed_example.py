"""SPEC §1's example: 500 streams included per day, shared by the account; 550 distinct
streams in ns-1 and 99 in ns-2 on one day post 50 and 99 chargeable units."""

from decimal import Decimal

from helpers import event, plan_toml, read_table, write_plans, write_usage

DAY = "2026-01-05"


def test_shared_threshold_across_scopes(tmp_path, flexbatch):
    inp, out = tmp_path / "in", tmp_path / "out"
    write_plans(inp, plan_toml("ADH-STREAMS-ACCESSED"))
    rows = [event(f"{DAY}T01:00:00", scope="ns-1", resource=f"s{i}") for i in range(550)]
    # one stream accessed 1,000 times by 5 users is one stream accessed that day
    rows += [
        event(f"{DAY}T02:{i % 60:02d}:00", scope="ns-1", resource="s0", user=f"u{i % 5}")
        for i in range(1000)
    ]
    rows += [event(f"{DAY}T03:00:00", scope="ns-2", resource=f"t{i}") for i in range(99)]
    write_usage(inp, DAY, rows)

    result = flexbatch("run", "--date", DAY, "--input", str(inp), "--output", str(out))

    assert result.exit_code == 0, result.stderr
    charges = read_table(out, "charges").sort("scope_id", "tier")
    got = [
        (r["scope_id"], r["tier"], r["units"], r["credits"]) for r in charges.iter_rows(named=True)
    ]
    assert got == [
        ("ns-1", 1, Decimal("500"), Decimal("0")),
        ("ns-1", 2, Decimal("50"), Decimal("0.1")),
        ("ns-2", 2, Decimal("99"), Decimal("0.198")),
    ]
    usage = read_table(out, "usage_daily").sort("scope_id")
    assert usage["unique_resources"].to_list() == [550, 99]
    assert usage["events"].to_list() == [1550, 99]
