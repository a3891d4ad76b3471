"""Deterministic synthetic usage for benchmarks: a day of events with the shape of a real
flex-credit vendor (SPEC §6, performance issue), generated inside DuckDB in seconds.

- accounts are skewed: account index = floor(N ** u) - 1 for uniform u, so a few accounts
  carry most events (log-uniform, Zipf-like);
- every account has 3 scopes, ~50 users and ~2,000 resources; ids are ~30 bytes;
- five meters cover daily-unique resources, unique resources, daily-unique users, peak and
  sum, each priced by a plan in ``rate_plans()``.
Every value is a hash of the event number and the seed, so the same arguments always give
the same files.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

METERS = ("streams_accessed", "streams_stored", "app_users", "cores_peak", "storage_gb")

RATE_PLANS = """\
[[plan]]
id = "BENCH-STREAMS-ACCESSED"
product_code = "ADH"
chargeable = "resource"
meter = "streams_accessed"
algorithm = "daily_unique_resources"
billing_period = "month"
effective_from = 2020-01-01
tiers = [ { above = 0, price = 0 }, { above = 500, price = 0.002 } ]

[[plan]]
id = "BENCH-STREAMS-STORED"
product_code = "ADH"
chargeable = "resource"
meter = "streams_stored"
algorithm = "unique_resources"
billing_period = "month"
effective_from = 2020-01-01
tiers = [ { above = 0, price = 0 }, { above = 1000, price = 0.01 } ]

[[plan]]
id = "BENCH-APP-USERS"
product_code = "ACD"
chargeable = "user"
meter = "app_users"
algorithm = "daily_unique_users"
billing_period = "month"
effective_from = 2020-01-01
tiers = [ { above = 0, price = 0 }, { above = 20, price = 1.5 } ]

[[plan]]
id = "BENCH-CORES-PEAK"
product_code = "SIM"
chargeable = "resource"
meter = "cores_peak"
algorithm = "peak"
billing_period = "month"
effective_from = 2020-01-01
tiers = [ { above = 0, price = 0 }, { above = 16, price = 2 } ]

[[plan]]
id = "BENCH-STORAGE"
product_code = "ADH"
chargeable = "resource"
meter = "storage_gb"
algorithm = "sum"
billing_period = "day"
effective_from = 2020-01-01
tiers = [ { above = 0, price = 0 }, { above = 100, price = 0.01 }, { above = 1000, price = 0.005 } ]
"""

EVENTS_SQL = """
with numbered as (
    select
        i,
        hash(i, {seed}) as h1,
        hash(i, {seed} + 1) as h2,
        hash(i, {seed} + 2) as h3
    from range({start}, {stop}) as t(i)
),

drawn as (
    select
        i,
        cast(floor(pow({accounts}, (h1 % 1000003) / 1000003.0)) as bigint) - 1 as account_n,
        h2 % 3 as scope_n,
        (h2 // 3) % 5 as meter_n,
        (h3 % 50) as user_n,
        (h3 // 50) % 2000 as resource_n,
        (h1 // 1000003) % 86400000 as ms_of_day,
        h3
    from numbered
)

select
    'evt-' || lpad(cast(i as varchar), 12, '0') || '-synthetic-usage' as event_id,
    timestamp '{day}' + to_milliseconds(ms_of_day) as ts,
    'account-' || lpad(cast(account_n as varchar), 6, '0') || '.tenant.example.com' as account_id,
    'scope-' || cast(scope_n as varchar) || '-namespace-of-account' as scope_id,
    case meter_n when 2 then 'ACD' when 3 then 'SIM' else 'ADH' end as product_code,
    case meter_n
        when 0 then 'streams_accessed' when 1 then 'streams_stored' when 2 then 'app_users'
        when 3 then 'cores_peak' else 'storage_gb'
    end as meter,
    case when meter_n = 2 then 'user-' || lpad(cast(user_n as varchar), 4, '0')
        || '@customer-domain.example' end as user_id,
    case when meter_n <> 2 then 'resource-' || lpad(cast(resource_n as varchar), 6, '0')
        || '-stream-identifier' end as resource_id,
    case when meter_n = 3 then cast(1 + (h3 % 64) as double)
         when meter_n = 4 then (h3 % 100000) / 1000.0
         else null end as quantity
from drawn
"""


def write_rate_plans(input_root: Path) -> None:
    input_root.mkdir(parents=True, exist_ok=True)
    (input_root / "rate_plans.toml").write_text(RATE_PLANS, encoding="utf-8")


def write_day(
    input_root: Path,
    day: date,
    events: int,
    *,
    accounts: int = 10_000,
    files: int = 4,
    seed: int = 42,
) -> list[Path]:
    """Write ``events`` synthetic events of ``day`` as ``files`` Parquet files."""
    folder = input_root / "usage" / f"date={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.parquet"):
        old.unlink()
    con = duckdb.connect()
    paths = []
    per_file = -(-events // files)
    day_seed = seed * 100_000 + day.toordinal()
    for k in range(files):
        start, stop = k * per_file, min(events, (k + 1) * per_file)
        path = folder / f"part-{k:05d}.parquet"
        sql = EVENTS_SQL.format(
            seed=day_seed, start=start, stop=stop, accounts=accounts, day=day.isoformat()
        )
        con.execute(
            f"copy ({sql}) to '{path}' (format parquet, compression zstd, row_group_size 1000000)"
        )
        paths.append(path)
    con.close()
    return paths
