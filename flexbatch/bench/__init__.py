"""The benchmark of the performance issue (SPEC §6): ``flexbatch run`` against bare
aggregations of the same synthetic files, in the same run.

    python -m flexbatch.bench --events 10000000 [--days 1] [--files 8] [--work DIR]
                              [--shape default|skewed] [--skip pandas,chdb] [--repeat N]
                              [--json FILE]
    python -m flexbatch.bench --backfill-days 365 [--events 20000]

The data (``synthetic``: usage, rate plans, grants; two shapes of account skew) is
generated once per set of parameters under ``WORK/data-.../`` and reused while
``params.json`` beside it matches (``data``). Each engine then runs in its own child
process, so wall time, CPU time and peak RSS (of that one child, from ``os.wait4``) and the
load average before and after are measured the same way for all of them (``measure``):

- ``flexbatch``: the CLI end to end (``run --date D``, or ``backfill`` for several days);
- ``duckdb``: per day, account, scope, meter: two COUNT(DISTINCT), SUM, COUNT(*) — the
  floor of what any job must do (``bare``);
- ``chdb``: the same in ClickHouse (``uniqExact``, ``file()`` over the Parquet files);
- ``pandas``: ``read_parquet`` + ``groupby`` ``nunique``/``sum``/``size``.

Every engine's result is reduced to totals (groups, events, distinct users and resources,
quantity) that must agree, so a fast wrong answer shows (``totals``). A run that started
with a 1-minute load average above 0.5 is marked "loaded — not a result" (``report``).
chdb and pandas are optional (the ``bench`` extra); the DuckDB floor and flexbatch need
nothing beyond the job's own dependencies, so the CI smoke test
(tests/test_bench_smoke.py) uses this package too.
"""

from flexbatch.bench.bare import (
    BARE_ENGINES,
    CHDB_SQL,
    DUCKDB_SQL,
    arrow_table,
    chdb_aggregate,
    duckdb_aggregate,
    pandas_aggregate,
)
from flexbatch.bench.cli import main, parse_args
from flexbatch.bench.data import START_DAY, Dataset, ensure_dataset, params
from flexbatch.bench.measure import (
    ENGINES,
    LOADED_ABOVE,
    LOADED_NOTE,
    Measurement,
    ProcessRun,
    flexbatch_command,
    measure_process,
    parse_log,
    run_engines,
    usage_daily_totals,
)
from flexbatch.bench.modes import aggregation, backfill
from flexbatch.bench.report import machine, print_steps, print_table, rows_with_ratios
from flexbatch.bench.synthetic import SHAPES
from flexbatch.bench.totals import QUANTITY_METERS, agrees, totals

__all__ = [
    "BARE_ENGINES",
    "CHDB_SQL",
    "DUCKDB_SQL",
    "ENGINES",
    "LOADED_ABOVE",
    "LOADED_NOTE",
    "QUANTITY_METERS",
    "SHAPES",
    "START_DAY",
    "Dataset",
    "Measurement",
    "ProcessRun",
    "aggregation",
    "agrees",
    "arrow_table",
    "backfill",
    "chdb_aggregate",
    "duckdb_aggregate",
    "ensure_dataset",
    "flexbatch_command",
    "machine",
    "main",
    "measure_process",
    "pandas_aggregate",
    "params",
    "parse_args",
    "parse_log",
    "print_steps",
    "print_table",
    "rows_with_ratios",
    "run_engines",
    "totals",
    "usage_daily_totals",
]
