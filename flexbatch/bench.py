"""The benchmark of the performance issue (SPEC §6): ``flexbatch run`` against bare
aggregations of the same synthetic files, in the same run.

    python -m flexbatch.bench --events 10000000 [--days 1] [--files 8] [--work DIR]
                              [--skip pandas,chdb] [--repeat N] [--json FILE]
    python -m flexbatch.bench --backfill-days 365 [--events 20000]

The data (``flexbatch.synthetic``: usage, rate plans, grants) is generated once per set of
parameters under ``WORK/data-.../`` and reused while ``params.json`` beside it matches.
Each engine then runs in its own child process, so wall time and peak RSS (``ru_maxrss``
of that one child, from ``os.wait4``) are measured the same way for all of them:

- ``flexbatch``: the CLI end to end (``run --date D``, or ``backfill`` for several days);
- ``duckdb``: per day, account, scope, meter: two COUNT(DISTINCT), SUM, COUNT(*) — the
  floor of what any job must do;
- ``chdb``: the same in ClickHouse (``uniqExact``, ``file()`` over the Parquet files);
- ``pandas``: ``read_parquet`` + ``groupby`` ``nunique``/``sum``/``size``.

Every engine's result is reduced to totals (groups, events, distinct users and resources,
quantity) that must agree, so a fast wrong answer shows. chdb and pandas are optional
(the ``bench`` extra); the DuckDB floor and flexbatch need nothing beyond the job's own
dependencies, so the CI smoke test (tests/test_bench_smoke.py) uses this module too.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

from flexbatch import synthetic

START_DAY = date(2026, 1, 1)
ENGINES = ("flexbatch", "duckdb", "chdb", "pandas")
BARE_ENGINES = ENGINES[1:]
# synthetic.EVENTS_SQL writes a quantity only for these meters (null elsewhere)
QUANTITY_METERS = ("cores_peak", "storage_gb")

DUCKDB_SQL = """
select
    date, account_id, scope_id, meter,
    count(*) as events,
    count(distinct user_id) as unique_users,
    count(distinct resource_id) as unique_resources,
    sum(quantity) as quantity_sum
from read_parquet({files}, hive_partitioning = true)
group by date, account_id, scope_id, meter
"""

CHDB_SQL = """
select
    date, account_id, scope_id, meter,
    count() as events,
    uniqExact(user_id) as unique_users,
    uniqExact(resource_id) as unique_resources,
    sum(quantity) as quantity_sum
from file({files}, Parquet)
group by date, account_id, scope_id, meter
settings use_hive_partitioning = 1
"""

OTHER = "(ledger, outputs, publish)"  # a day's time outside the logged charging steps
STEP_LINE = re.compile(r"flexbatch\.charging: step (\S+)\s+\S+ rows\s+([0-9.]+)s")
DAY_LINE = re.compile(
    r"flexbatch\.pipeline: (?:run|backfill) (\d{4}-\d{2}-\d{2}): .* in ([0-9.]+)s"
)


# --------------------------------------------------------------------------- data
@dataclass(frozen=True)
class Dataset:
    root: Path
    input: Path
    days: tuple[date, ...]
    events_per_day: int
    files: int

    @property
    def events(self) -> int:
        return self.events_per_day * len(self.days)

    @property
    def usage_glob(self) -> str:
        return str(self.input / "usage" / "date=*" / "*.parquet")


def _params(events: int, days: int, files: int, accounts: int, seed: int) -> dict[str, Any]:
    generator = synthetic.EVENTS_SQL + synthetic.RATE_PLANS + synthetic.GRANTS_SQL
    return {
        "events_per_day": events,
        "days": days,
        "files_per_day": files,
        "accounts": accounts,
        "seed": seed,
        "start": START_DAY.isoformat(),
        "generator_sha256": hashlib.sha256(generator.encode()).hexdigest(),
    }


def ensure_dataset(
    work: Path, events: int, *, days: int = 1, files: int = 8, accounts: int = 10_000,
    seed: int = 42,
) -> Dataset:  # fmt: skip
    """The synthetic input for these parameters under ``work``: reused when its
    ``params.json`` matches, else (re)generated; ``params.json`` is written last."""
    params = _params(events, days, files, accounts, seed)
    root = work / f"data-{events}x{days}d-{files}f-{accounts}a-s{seed}"
    dataset = Dataset(
        root,
        root / "input",
        tuple(START_DAY + timedelta(days=i) for i in range(days)),
        events,
        files,
    )
    marker = root / "params.json"
    if marker.exists() and json.loads(marker.read_text(encoding="utf-8")) == params:
        return dataset
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    synthetic.write_rate_plans(dataset.input)
    synthetic.write_grants(dataset.input, START_DAY, accounts=accounts, seed=seed)
    for day in dataset.days:
        synthetic.write_day(dataset.input, day, events, accounts=accounts, files=files, seed=seed)
    marker.write_text(json.dumps(params, indent=2) + "\n", encoding="utf-8")
    _say(f"generated {dataset.events:,} events in {time.perf_counter() - started:.1f}s: {root}")
    return dataset


# --------------------------------------------------------------------------- bare engines
def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def duckdb_aggregate(usage_glob: str, con: Any = None) -> Any:
    """The bare DuckDB aggregation as a pyarrow Table (one row per day, account, scope,
    meter)."""
    import duckdb

    con = con or duckdb.connect()
    return arrow_table(con.sql(DUCKDB_SQL.format(files=_sql_string(usage_glob))))


def arrow_table(relation: Any) -> Any:
    """A DuckDB relation's result as a pyarrow Table (``arrow()`` returns a Table before
    DuckDB 1.4 and a RecordBatchReader since)."""
    result = relation.arrow()
    return result.read_all() if hasattr(result, "read_all") else result


def _chdb_aggregate(usage_glob: str) -> Any:
    import chdb

    return chdb.query(CHDB_SQL.format(files=_sql_string(usage_glob)), "ArrowTable")


def _pandas_aggregate(usage_glob: str) -> Any:
    import pandas as pd

    usage_dir = usage_glob.split("/date=*", 1)[0]
    columns = ["date", "account_id", "scope_id", "meter", "user_id", "resource_id", "quantity"]
    frame = pd.read_parquet(usage_dir, columns=columns)
    return (
        frame.groupby(["date", "account_id", "scope_id", "meter"], observed=True, sort=False)
        .agg(
            events=("meter", "size"),
            unique_users=("user_id", "nunique"),
            unique_resources=("resource_id", "nunique"),
            quantity_sum=("quantity", "sum"),
        )
        .reset_index()
    )


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


def _warm_up(engine: str) -> None:
    """Start the engine before the clock (chdb's first query boots its server, ~1 s):
    the process wall time still includes it."""
    if engine == "chdb":
        import chdb

        chdb.query("select 1", "CSV")
    elif engine == "duckdb":
        import duckdb

        duckdb.sql("select 1").fetchall()
    else:
        import pandas  # noqa: F401


def _child(engine: str, usage_glob: str, result: Path) -> None:
    """In the child process: run one bare aggregation, time it, write totals as JSON."""
    aggregate = {
        "duckdb": duckdb_aggregate,
        "chdb": _chdb_aggregate,
        "pandas": _pandas_aggregate,
    }[engine]
    _warm_up(engine)
    started = time.perf_counter()
    table = aggregate(usage_glob)
    work_seconds = time.perf_counter() - started
    report = {"work_seconds": work_seconds, "totals": totals(table)}
    result.write_text(json.dumps(report), encoding="utf-8")


# --------------------------------------------------------------------------- measuring
@dataclass
class Measurement:
    engine: str
    seconds: float  # wall time of the whole child process
    peak_rss_mib: float  # ru_maxrss of that child
    cpu_seconds: float  # user + system CPU of that child (all threads): robust to neighbours
    work_seconds: float | None  # inside the child: the query, or the days' processing
    totals: dict[str, float] = field(default_factory=dict)
    steps: dict[str, float] = field(default_factory=dict)  # flexbatch: seconds per SQL step
    day_seconds: dict[str, float] = field(default_factory=dict)  # flexbatch: per day
    all_seconds: list[float] = field(default_factory=list)  # every repeat
    error: str | None = None  # the child's last output line when it failed


@dataclass(frozen=True)
class ProcessRun:
    seconds: float
    peak_rss_mib: float
    cpu_seconds: float
    exit_code: int


def measure_process(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> ProcessRun:
    """Run ``cmd`` (stdout+stderr to ``log``): its wall time, and from ``os.wait4`` the
    peak RSS and CPU time of that one child (not of earlier children, as RUSAGE_CHILDREN
    would mix in)."""
    with log.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    rss_bytes = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    cpu = usage.ru_utime + usage.ru_stime
    return ProcessRun(seconds, rss_bytes / 2**20, cpu, proc.returncode)


def _run_bare(engine: str, dataset: Dataset, logs: Path) -> Measurement:
    result = logs / f"{engine}.json"
    cmd = [sys.executable, "-m", "flexbatch.bench", "--child", engine]
    cmd += ["--child-glob", dataset.usage_glob, "--child-result", str(result)]
    log = logs / f"{engine}.log"
    run = measure_process(cmd, log)
    if run.exit_code != 0:
        error = f"exit {run.exit_code}: {_last_line(log.read_text(errors='replace'))}"
        return Measurement(
            engine, run.seconds, run.peak_rss_mib, run.cpu_seconds, None, error=error
        )
    report = json.loads(result.read_text(encoding="utf-8"))
    return Measurement(
        engine, run.seconds, run.peak_rss_mib, run.cpu_seconds, report["work_seconds"],
        report["totals"],
    )  # fmt: skip


def flexbatch_command(dataset: Dataset, output: Path) -> list[str]:
    cmd = [sys.executable, "-m", "flexbatch.cli", "--log-level", "info"]
    first, last = dataset.days[0].isoformat(), dataset.days[-1].isoformat()
    if len(dataset.days) == 1:
        cmd += ["run", "--date", first]
    else:
        cmd += ["backfill", "--from", first, "--to", last]
    return cmd + ["--input", str(dataset.input), "--output", str(output)]


def parse_log(text: str) -> tuple[dict[str, float], dict[str, float], list[dict[str, float]]]:
    """From a ``--log-level info`` log: seconds per step (summed over days), seconds per
    day, and each day's step seconds (in day order)."""
    steps: dict[str, float] = {}
    days: dict[str, float] = {}
    per_day: list[dict[str, float]] = []
    current: dict[str, float] = {}
    for line in text.splitlines():
        if match := STEP_LINE.search(line):
            step, seconds = match.group(1), float(match.group(2))
            steps[step] = steps.get(step, 0.0) + seconds
            current[step] = current.get(step, 0.0) + seconds
        elif match := DAY_LINE.search(line):
            days[match.group(1)] = float(match.group(2))
            current[OTHER] = float(match.group(2)) - sum(current.values())
            per_day.append(current)
            current = {}
    return steps, days, per_day


def usage_daily_totals(output: Path) -> dict[str, float]:
    """The totals of ``OUT/usage_daily`` (all days), comparable with ``totals``."""
    import duckdb

    files = _sql_string(str(output / "usage_daily" / "*" / "*.parquet"))
    con = duckdb.connect()
    return totals(
        arrow_table(con.sql(f"select * from read_parquet({files}, hive_partitioning = true)"))
    )


def _run_flexbatch(
    dataset: Dataset, output: Path, logs: Path, env: dict[str, str] | None = None
) -> Measurement:
    shutil.rmtree(output, ignore_errors=True)
    log = logs / "flexbatch.log"
    run = measure_process(flexbatch_command(dataset, output), log, env)
    text = log.read_text(encoding="utf-8", errors="replace")
    steps, days, _ = parse_log(text)
    if run.exit_code != 0:
        error = f"exit {run.exit_code}: {_last_line(text)}"
        return Measurement(
            "flexbatch", run.seconds, run.peak_rss_mib, run.cpu_seconds, None, steps=steps,
            error=error,
        )  # fmt: skip
    return Measurement(
        "flexbatch", run.seconds, run.peak_rss_mib, run.cpu_seconds,
        sum(days.values()) if days else None, usage_daily_totals(output), steps=steps,
        day_seconds=days,
    )  # fmt: skip


def _last_line(text: str) -> str:
    lines = [line for line in text.replace("\r", "\n").splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def agrees(a: dict[str, float], b: dict[str, float]) -> bool:
    exact = ("groups", "events", "unique_users", "unique_resources")
    if any(a.get(k) != b.get(k) for k in exact):
        return False
    qa, qb = a.get("quantity_sum", 0.0), b.get("quantity_sum", 0.0)
    return math.isclose(qa, qb, rel_tol=1e-9, abs_tol=1e-6)


def run_engines(
    dataset: Dataset,
    engines: list[str],
    work: Path,
    repeat: int = 1,
    flexbatch_env: dict[str, str] | None = None,
) -> dict[str, Measurement]:
    """Each engine ``repeat`` times, interleaved; keeps each engine's fastest successful
    run (and its highest peak RSS). ``flexbatch_env`` is added to the job's environment."""
    env = {**os.environ, **flexbatch_env} if flexbatch_env else None
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    output = work / f"out-{dataset.root.name}"
    best: dict[str, Measurement] = {}
    for _ in range(repeat):
        for engine in engines:
            _say(f"running {engine} ...")
            if engine == "flexbatch":
                m = _run_flexbatch(dataset, output, logs, env)
            else:
                m = _run_bare(engine, dataset, logs)
            outcome = f"FAILED ({m.error})" if m.error else "ok"
            _say(f"  {engine}: {m.seconds:.2f}s, {m.peak_rss_mib:.0f} MiB, {outcome}")
            previous = best.get(engine)
            runs = [*(previous.all_seconds if previous else []), m.seconds]
            rss = max(m.peak_rss_mib, previous.peak_rss_mib if previous else 0.0)
            if (
                previous is None
                or (previous.error and not m.error)
                or (not m.error and m.seconds < previous.seconds)
            ):
                best[engine] = m
            best[engine].all_seconds, best[engine].peak_rss_mib = runs, rss
    return best


# --------------------------------------------------------------------------- reporting
def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }
    cpuinfo, meminfo = Path("/proc/cpuinfo"), Path("/proc/meminfo")
    if cpuinfo.exists():
        models = re.findall(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
        info["cpu"] = models[0] if models else platform.processor()
    if meminfo.exists():
        kib = re.search(r"^MemTotal:\s+(\d+) kB", meminfo.read_text(), re.MULTILINE)
        info["memory_gib"] = round(int(kib.group(1)) / 2**20, 1) if kib else None
    versions = {}
    for package in ("flexbatch", "duckdb", "chdb", "chdb-core", "pandas", "pyarrow", "polars"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    info["versions"] = versions
    info["git"] = _git_revision()
    return info


def _git_revision() -> str | None:
    """The checkout's commit (``+dirty`` with uncommitted changes): what was measured."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def rows_with_ratios(results: dict[str, Measurement], events: int) -> list[dict[str, Any]]:
    rows = []
    for engine in ENGINES:
        if engine not in results:
            continue
        m = results[engine]
        row: dict[str, Any] = {
            "engine": engine,
            "error": m.error,
            "seconds": round(m.seconds, 3),
            "cpu_seconds": round(m.cpu_seconds, 3),
            "work_seconds": None if m.work_seconds is None else round(m.work_seconds, 3),
            "events_per_s": None if m.error else round(events / m.seconds),
            "peak_rss_mib": round(m.peak_rss_mib, 1),
        }
        for ref in ("chdb", "duckdb"):
            base = results.get(ref)
            base = None if base is None or base.error or m.error else base
            row[f"x_{ref}"] = round(m.seconds / base.seconds, 2) if base else None
            row[f"x_{ref}_cpu"] = round(m.cpu_seconds / base.cpu_seconds, 2) if base else None
            if base and m.work_seconds and base.work_seconds:
                row[f"x_{ref}_work"] = round(m.work_seconds / base.work_seconds, 2)
        fine = [r for r in results.values() if not r.error]
        reference = results["duckdb"] if results.get("duckdb") in fine else None
        reference = reference or (fine[0] if fine else m)
        row["totals_agree"] = None if m.error else agrees(m.totals, reference.totals)
        rows.append(row)
    return rows


def print_table(rows: list[dict[str, Any]], title: str) -> None:
    from rich.table import Table

    table = Table(title=title)
    columns = ("engine", "wall s", "cpu s", "work s", "events/s", "peak RSS MiB", "× chdb",
               "× duckdb", "agree")  # fmt: skip
    for name in columns:
        table.add_column(name, justify="left" if name == "engine" else "right", no_wrap=True)

    def fmt(value: Any, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    for r in rows:
        table.add_row(
            r["engine"], fmt(r["seconds"], ".2f"), fmt(r["cpu_seconds"], ".2f"),
            fmt(r["work_seconds"], ".2f"),
            fmt(r["events_per_s"], ",d"), fmt(r["peak_rss_mib"], ",.0f"),
            fmt(r["x_chdb"], ".2f"), fmt(r["x_duckdb"], ".2f"),
            {True: "yes", False: "NO", None: "FAILED"}[r["totals_agree"]],
        )  # fmt: skip
    _console().print(table)
    for r in rows:
        if r["error"]:
            _console().print(f"{r['engine']} failed: {r['error']}", markup=False)


def print_steps(m: Measurement) -> None:
    from rich.table import Table

    if not m.work_seconds:
        return
    table = Table(title="flexbatch: seconds per step (--log-level info)")
    table.add_column("step")
    table.add_column("seconds", justify="right")
    table.add_column("share of days' time", justify="right")
    other = m.work_seconds - sum(m.steps.values())
    for step, seconds in [*m.steps.items(), (OTHER, other)]:
        table.add_row(step, f"{seconds:.2f}", f"{seconds / m.work_seconds:.0%}")
    table.add_row("days' total", f"{m.work_seconds:.2f}", "100%")
    _console().print(table)


def _console() -> Any:
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=120)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _write_json(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    _say(f"results: {path}")


# --------------------------------------------------------------------------- modes
def bench(args: argparse.Namespace, engines: list[str]) -> dict[str, Any]:
    events = args.events or 10_000_000
    dataset = ensure_dataset(
        args.work, events, days=args.days, files=args.files or 8, accounts=args.accounts,
        seed=args.seed,
    )  # fmt: skip
    before = machine()
    results = run_engines(dataset, engines, args.work, args.repeat, _env(args.env))
    rows = rows_with_ratios(results, dataset.events)
    title = f"{dataset.events:,} events, {len(dataset.days)} day(s), {dataset.files} files/day"
    print_table(rows, title)
    if "flexbatch" in results:
        print_steps(results["flexbatch"])
    report = {
        "kind": "aggregation",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m flexbatch.bench", *sys.argv[1:]]),
        "flexbatch_env": _env(args.env),
        "machine": before,
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "dataset": {"path": str(dataset.root), "events": dataset.events,
                    **_params(events, args.days, dataset.files, args.accounts, args.seed)},
        "rows": rows,
        "measurements": {k: asdict(v) for k, v in results.items()},
    }  # fmt: skip
    _write_json(args.json or args.work / f"results-{dataset.root.name}.json", report)
    return report


def _env(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            sys.exit(f"--env {pair!r}: expected KEY=VALUE")
        env[key] = value
    return env


def backfill_bench(args: argparse.Namespace) -> dict[str, Any]:
    """``flexbatch backfill`` over N small days: is the time per day flat?"""
    events = args.events or 20_000
    dataset = ensure_dataset(
        args.work, events, days=args.backfill_days, files=args.files or 2,
        accounts=args.accounts, seed=args.seed,
    )  # fmt: skip
    before = machine()
    logs = args.work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    output = args.work / f"out-{dataset.root.name}"
    shutil.rmtree(output, ignore_errors=True)
    _say(f"running flexbatch backfill over {len(dataset.days)} days ...")
    log = logs / "flexbatch-backfill.log"
    env = {**os.environ, **_env(args.env)} if args.env else None
    run = measure_process(flexbatch_command(dataset, output), log, env)
    text = log.read_text(encoding="utf-8", errors="replace")
    if run.exit_code != 0:
        raise RuntimeError(f"flexbatch backfill failed (exit {run.exit_code}): {_last_line(text)}")
    _, days, per_day_steps = parse_log(text)
    per_day = list(days.values())
    tenth = max(1, math.ceil(len(per_day) / 10))
    first, last = per_day[:tenth], per_day[-tenth:]
    summary = {
        "days": len(per_day),
        "events_per_day": events,
        "wall_seconds": round(run.seconds, 2),
        "cpu_seconds": round(run.cpu_seconds, 2),
        "peak_rss_mib": round(run.peak_rss_mib, 1),
        "tenth_days": tenth,
        "first_tenth_mean_s": round(sum(first) / len(first), 3),
        "last_tenth_mean_s": round(sum(last) / len(last), 3),
        "last_over_first": round(sum(last) / len(last) / (sum(first) / len(first)), 2),
        "median_day_s": round(sorted(per_day)[len(per_day) // 2], 3),
        "max_day_s": round(max(per_day), 3),
    }
    steps_first = _mean_steps(per_day_steps[:tenth])
    steps_last = _mean_steps(per_day_steps[-tenth:])
    _print_backfill(summary, steps_first, steps_last)
    report = {
        "kind": "backfill",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m flexbatch.bench", *sys.argv[1:]]),
        "machine": before,
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "summary": summary,
        "step_means_first_tenth": steps_first,
        "step_means_last_tenth": steps_last,
        "day_seconds": days,
    }
    _write_json(args.json or args.work / f"results-backfill-{dataset.root.name}.json", report)
    return report


def _mean_steps(days: list[dict[str, float]]) -> dict[str, float]:
    names = {name for day in days for name in day}
    return {n: round(sum(d.get(n, 0.0) for d in days) / max(1, len(days)), 4) for n in names}


def _print_backfill(
    summary: dict[str, Any], first: dict[str, float], last: dict[str, float]
) -> None:
    from rich.table import Table

    _console().print(
        f"flexbatch backfill: {summary['days']} days × {summary['events_per_day']:,} events"
    )
    table = Table()
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        table.add_row(key, str(value))
    _console().print(table)
    _console().print("mean seconds per step, first vs last tenth of the days")
    steps = Table()
    for name in ("step", "first", "last"):
        steps.add_column(name, justify="left" if name == "step" else "right")
    for name in sorted(set(first) | set(last), key=lambda n: -last.get(n, 0.0)):
        steps.add_row(name, f"{first.get(name, 0.0):.4f}", f"{last.get(name, 0.0):.4f}")
    _console().print(steps)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m flexbatch.bench",
        description="Time flexbatch run against bare DuckDB, chdb and pandas aggregations "
        "of the same synthetic usage files.",
    )
    parser.add_argument("--events", type=int, help="events per day (default 10,000,000; "
                        "20,000 with --backfill-days)")  # fmt: skip
    parser.add_argument("--days", type=int, default=1, help="days of usage (default 1)")
    parser.add_argument("--files", type=int, help="Parquet files per day (default 8; 2 with "
                        "--backfill-days)")  # fmt: skip
    parser.add_argument("--accounts", type=int, default=10_000, help="accounts (default 10,000)")
    parser.add_argument("--seed", type=int, default=42, help="generator seed (default 42)")
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "flexbatch-bench",
        help="folder for data, outputs, logs and results (default: $TMPDIR/flexbatch-bench)",
    )  # fmt: skip
    parser.add_argument("--skip", default="", help="engines to skip, comma-separated "
                        f"({', '.join(ENGINES)})")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=1, help="runs per engine; the fastest "
                        "is reported (default 1)")  # fmt: skip
    parser.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE",
        help="set in flexbatch's environment (e.g. FLEXBATCH_MEMORY_LIMIT=8GB); repeatable",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, help="results file (default: WORK/results-*.json)")
    parser.add_argument("--backfill-days", type=int, help="instead: time flexbatch backfill "
                        "over this many days and compare the first and last tenth")  # fmt: skip
    parser.add_argument("--child", choices=BARE_ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--child-glob", help=argparse.SUPPRESS)
    parser.add_argument("--child-result", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        _child(args.child, args.child_glob, args.child_result)
        return
    if args.backfill_days:
        backfill_bench(args)
        return
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if unknown := skip - set(ENGINES):
        sys.exit(f"--skip: unknown engine {sorted(unknown)[0]!r}; choose from {', '.join(ENGINES)}")
    engines = [e for e in ENGINES if e not in skip]
    for module in ("chdb", "pandas"):
        if module in engines and importlib.util.find_spec(module) is None:
            sys.exit(f"{module} is not installed; fix: pip install -e '.[bench]' "
                     f"or add --skip {module}")  # fmt: skip
    bench(args, engines)


if __name__ == "__main__":
    main()
