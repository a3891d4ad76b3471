"""Deterministic synthetic usage for benchmarks: a day of events with the shape of a real
flex-credit vendor (SPEC §6, performance issue), generated inside DuckDB in seconds.

- accounts are skewed, in one of two ``SHAPES``: ``default``, account index =
  floor(N ** u) - 1 for uniform u, so a few accounts carry most events (log-uniform,
  Zipf-like; the largest holds ~7.5 %); ``skewed``, a Zipf law of exponent 1.3 over the N
  accounts (P(rank k) proportional to k ** -1.3), so one account holds the plurality of the
  events (~27 % of them over 10,000 accounts) and the day has few distinct groups;
  ``shared``, a milder Zipf law (exponent 1.05) over the N accounts, so the day touches
  most of a large account base (the performance issue's 200,000 to 1,000,000 accounts),
  each account with few events;
- every account has 3 scopes, ~50 users and ~2,000 resources, the same 50 user ids and
  2,000 resource ids in every account (``shared``: 200 users and 3,000 resources, drawn
  from pools every account shares, so the day has a few thousand distinct ids in all);
  ids are ~30 bytes;
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
        (h1 % 1000003) / 1000003.0 as account_u,
        h2 % 3 as scope_n,
        (h2 // 3) % 5 as meter_n,
        (h3 % {users}) as user_n,
        (h3 // {users}) % {resources} as resource_n,
        (h1 // 1000003) % 86400000 as ms_of_day,
        h3
    from numbered
),

{account_draw}

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
from placed
order by i
"""

ZIPF_EXPONENT = 1.3  # skewed
SHARED_ZIPF_EXPONENT = 1.05  # shared: a long tail of small accounts
# (users, resources): the ids every account draws from
POOLS = {"default": (50, 2000), "skewed": (50, 2000), "shared": (200, 3000)}
MAX_ACCOUNTS = 1_000_000  # account ids hold six digits

ZIPF_DRAW = """
zipf_ranks as (
    -- account k - 1 has rank k; p_below = P(rank < k) under P(rank k) ~ k ** -s
    select
        k - 1 as account_n,
        coalesce(
            sum(pow(k, -{exponent})) over (
                order by k rows between unbounded preceding and 1 preceding
            ),
            0
        ) / sum(pow(k, -{exponent})) over () as p_below
    from range(1, {{accounts}} + 1) as t(k)
),

placed as (
    -- the inverse of the discrete CDF: the last rank whose p_below is <= account_u
    select drawn.*, zipf_ranks.account_n
    from drawn
    asof join zipf_ranks on drawn.account_u >= zipf_ranks.p_below
)"""

# ``placed``: every drawn event with its account_n, from its uniform ``account_u``
ACCOUNT_DRAWS = {
    "default": """
placed as (
    select *, cast(floor(pow({accounts}, account_u)) as bigint) - 1 as account_n
    from drawn
)""",
    "skewed": ZIPF_DRAW.format(exponent=ZIPF_EXPONENT),
    "shared": ZIPF_DRAW.format(exponent=SHARED_ZIPF_EXPONENT),
}
SHAPES = tuple(ACCOUNT_DRAWS)


def events_sql(shape: str) -> str:
    """The events query of ``shape`` (placeholders: seed, start, stop, accounts, day)."""
    if shape not in ACCOUNT_DRAWS:
        raise ValueError(f"unknown shape {shape!r}; choose from {', '.join(SHAPES)}")
    users, resources = POOLS[shape]
    return (
        EVENTS_SQL.replace("{account_draw}", ACCOUNT_DRAWS[shape].strip("\n"))
        .replace("{users}", str(users))
        .replace("{resources}", str(resources))
    )


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
    shape: str = "default",
) -> list[Path]:
    """Write ``events`` synthetic events of ``day`` as ``files`` Parquet files, accounts
    drawn as ``shape`` says (one of ``SHAPES``)."""
    events_query = events_sql(shape)
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
        sql = events_query.format(
            seed=day_seed, start=start, stop=stop, accounts=accounts, day=day.isoformat()
        )
        con.execute(
            f"copy ({sql}) to '{path}' (format parquet, compression zstd, row_group_size 1000000)"
        )
        paths.append(path)
    con.close()
    return paths


GRANTS_SQL = """
with accounts as (
    select
        n,
        'account-' || lpad(cast(n as varchar), 6, '0') || '.tenant.example.com' as account_id,
        hash(n, {seed}) as h
    from range(0, {accounts}) as t(n)
),

purchases as (
    -- every account buys flex credits for a year: 100.00 .. 50,099.99 credits
    select
        n,
        'G-' || lpad(cast(n as varchar), 6, '0') || '-PURCHASE' as grant_id,
        account_id,
        'flex_credit' as currency,
        cast(100 + (h % 5000000) / 100.0 as decimal(18, 2)) as amount,
        date '{start}' as effective_on,
        date '{start}' + interval 365 day as expires_on,
        cast(null as integer) as priority,
        cast(null as varchar) as products,
        'purchase' as source,
        cast(0.95 as decimal(18, 2)) as unit_cost,
        'USD' as cost_currency
    from accounts
),

extras as (
    -- a third of the accounts also hold legacy cloud credits that expire after 30 days,
    -- another third a Data Hub-only deposit burnt before the purchase (priority 5)
    select
        n,
        'G-' || lpad(cast(n as varchar), 6, '0')
        || case when n % 3 = 0 then '-LEGACY-CC' else '-ADH-DEPOSIT' end as grant_id,
        account_id,
        case when n % 3 = 0 then 'cloud_credit' else 'flex_credit' end as currency,
        cast(10 + (h // 5000000 % 100000) / 100.0 as decimal(18, 2)) as amount,
        date '{start}' as effective_on,
        case when n % 3 = 0 then date '{start}' + interval 30 day end as expires_on,
        case when n % 3 = 1 then 5 end as priority,
        case when n % 3 = 1 then 'ADH' end as products,
        case when n % 3 = 0 then 'legacy' else 'deposit' end as source,
        cast(case when n % 3 = 0 then 0 else 1 end as decimal(18, 2)) as unit_cost,
        'USD' as cost_currency
    from accounts
    where n % 3 < 2
)

select
    grant_id, account_id, currency, amount, cast(effective_on as date) as effective_on,
    cast(expires_on as date) as expires_on, priority, products, source, unit_cost,
    cost_currency
from (select * from purchases union all select * from extras)
order by n, grant_id
"""


def write_grants(input_root: Path, start: date, *, accounts: int = 10_000, seed: int = 42) -> Path:
    """Write IN/grants.csv: one or two grants per synthetic account, effective on ``start``
    (a yearly flex-credit purchase; for two accounts in three also expiring legacy cloud
    credits or a product-restricted deposit)."""
    input_root.mkdir(parents=True, exist_ok=True)
    path = input_root / "grants.csv"
    sql = GRANTS_SQL.format(seed=seed, accounts=accounts, start=start.isoformat())
    con = duckdb.connect()
    con.execute(f"copy ({sql}) to '{path}' (format csv, header true)")
    con.close()
    return path
