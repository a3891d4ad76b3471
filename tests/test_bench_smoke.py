"""Smoke benchmark (performance issue, item 3): on 200 k synthetic events, ``flexbatch run``
must stay within a generous ratio of the bare DuckDB aggregation of the same files,
measured in the same test — a ratio, never an absolute time. And the job's ``usage_daily``
must agree with that aggregation, group for group, so neither side can get fast by being
wrong.

The ratio is of CPU time (``time.process_time``: this process, every DuckDB and Polars
thread), which a busy machine barely moves, where wall time varied 3x between identical runs
while other test suites shared the two cores. The full benchmark (wall time, peak RSS,
chdb, pandas, 10 M events) is ``python -m flexbatch.bench``.
"""

from __future__ import annotations

import time

import duckdb
import pytest

from flexbatch import bench
from flexbatch.bench.measure import OTHER
from flexbatch.config import Paths
from flexbatch.job import pipeline

EVENTS = 200_000
ACCOUNTS = 2_000  # ~100 events per account: the events, not per-account costs, dominate
# CPU seconds of flexbatch run / of the bare DuckDB aggregation (best of 5), both in this
# process. Measured on the 2-core benchmark machine, 2026-11-24, after the second
# performance round, nothing else running (load 1.0-1.1: the test's own and a benchmark's
# decaying): 20.8, 19.1 and 16.7 in three runs (the bare side is ~0.2 s, so the ratio
# moves with it; the first round measured 23.0, 26.7 and 19.1). The floor is ~1.5x the
# middle run: a regression of half again fails (performance issue: "the CI smoke check
# must be able to fail").
FLOOR_RATIO = 30.0


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> bench.Dataset:
    work = tmp_path_factory.mktemp("bench")
    return bench.ensure_dataset(work, EVENTS, days=1, files=4, accounts=ACCOUNTS)


def _timed(fn, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def test_run_keeps_a_floor_ratio_to_bare_duckdb_and_agrees_with_it(dataset, tmp_path):
    con = duckdb.connect()
    bare_wall, bare_cpu = [], []
    for _ in range(5):
        bare, wall, cpu = _timed(bench.duckdb_aggregate, dataset.usage_glob, con)
        bare_wall.append(wall)
        bare_cpu.append(cpu)

    out = tmp_path / "out"
    (result,), run_wall, run_cpu = _timed(pipeline.run, Paths(dataset.input, out), dataset.days[0])
    assert result.counts.rows_read == result.counts.rows_accepted == EVENTS

    con.register("bare", bare)
    usage_daily = str(out / "usage_daily" / "*" / "*.parquet")
    mismatches = con.execute(
        """
        with job as (
            select * from read_parquet(?, hive_partitioning = true)
        )
        select
            coalesce(j.account_id, b.account_id) as account_id,
            coalesce(j.scope_id, b.scope_id) as scope_id,
            coalesce(j.meter, b.meter) as meter,
            j.events, b.events as bare_events,
            j.unique_users, b.unique_users as bare_unique_users,
            j.unique_resources, b.unique_resources as bare_unique_resources,
            j.quantity_sum, b.quantity_sum as bare_quantity_sum
        from job as j
        full outer join bare as b
            on j.date = b.date
            and j.account_id = b.account_id
            and j.scope_id = b.scope_id
            and j.meter = b.meter
        where j.account_id is null
           or b.account_id is null
           or j.events <> b.events
           or j.unique_users <> b.unique_users
           or j.unique_resources <> b.unique_resources
           or (b.quantity_sum is not null
               and abs(cast(j.quantity_sum as double) - b.quantity_sum)
                   > 1e-6 * greatest(1, abs(b.quantity_sum)))
        limit 5
        """,
        [usage_daily],
    ).fetchall()
    assert mismatches == []
    assert bare.num_rows > 5_000  # a real comparison: thousands of account/scope/meter groups
    totals = bench.totals(bare)
    assert totals["events"] == EVENTS and totals["unique_users"] > 0

    ratio = run_cpu / min(bare_cpu)
    summary = (
        f"flexbatch run {run_cpu:.2f}s CPU ({run_wall:.2f}s wall), bare DuckDB best "
        f"{min(bare_cpu):.3f}s CPU ({min(bare_wall):.3f}s wall): CPU ratio {ratio:.1f}, "
        f"wall ratio {run_wall / min(bare_wall):.1f}"
    )
    print(summary)
    assert ratio <= FLOOR_RATIO, f"{summary}; floor {FLOOR_RATIO}x of {EVENTS:,} events"


def test_parse_log_reads_the_job_s_step_and_day_lines():
    """The benchmark's work and per-step seconds come from ``--log-level info`` lines,
    keyed by logger name: they must follow the modules if they move."""
    from flexbatch.transform import charging, sql_steps

    step, day, sql = charging.logger.name, pipeline.logger.name, sql_steps.logger.name
    log = "\n".join(
        [
            f"2026-11-24T15:39:09Z DEBUG {sql}: step user_groups: 11737 rows in 0.040s",
            f"2026-11-24T15:39:09Z INFO {step}: step user_groups           11737 rows    0.041s",
            f"2026-11-24T15:39:09Z INFO {step}: step plan_groups          (view) rows    0.007s",
            f"2026-11-24T15:39:12Z DEBUG {sql}: step ledger_burn: 812 rows in 0.250s",
            f"2026-11-24T15:39:13Z DEBUG {sql}: step ledger_burn: 14 rows in 0.125s",
            f"2026-11-24T15:39:17Z INFO {day}: run 2026-01-01: read 20000, accepted 20000, "
            "quarantined 0, duplicates 0, charges 11483, credits 69598.833460 in 7.86s",
        ]
    )
    steps, days, per_day = bench.parse_log(log)
    # a charging step counted once (its info line); the ledger's from its debug lines
    assert steps == {"user_groups": 0.041, "plan_groups": 0.007, "ledger:ledger_burn": 0.375}
    assert days == {"2026-01-01": 7.86}
    assert per_day[0]["user_groups"] == 0.041
    assert per_day[0][OTHER] == pytest.approx(7.86 - 0.041 - 0.007 - 0.375)


def test_settle_waits_for_the_load_to_fall_and_no_longer_than_its_limit(monkeypatch):
    from flexbatch.bench import measure

    loads = iter([1.9, 1.2, 0.7, 0.4, 0.1])
    slept: list[float] = []
    monkeypatch.setattr(measure.os, "getloadavg", lambda: (next(loads), 0.0, 0.0))
    monkeypatch.setattr(measure.time, "sleep", slept.append)
    measure.settle(600, poll_seconds=5)
    assert slept == [5, 5, 5]  # polled at 1.9, 1.2 and 0.7; 0.4 is below 0.5

    monkeypatch.setattr(measure.os, "getloadavg", lambda: (3.0, 0.0, 0.0))  # never idle
    now = [100.0]  # a clock that moves only when settle sleeps

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(measure.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(measure.time, "sleep", sleep)
    slept.clear()
    measure.settle(12, poll_seconds=5)
    assert slept == [5, 5, 2] and now[0] == 112.0  # gives up at the limit
