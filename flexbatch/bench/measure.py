"""Measuring the engines: each run is its own child process, timed the same way (wall
time around it, peak RSS and CPU time of that one child from ``os.wait4``, the load
average before and after); flexbatch's ``--log-level info`` log gives its days' and steps'
seconds."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from flexbatch.bench.bare import BARE_ENGINES, arrow_table, sql_string
from flexbatch.bench.console import say
from flexbatch.bench.data import Dataset
from flexbatch.bench.totals import totals

ENGINES = ("flexbatch", *BARE_ENGINES)
# A run that started with a 1-minute load average above this shared the machine: its
# figures are recorded but are not a result (performance issue, measurement rules).
LOADED_ABOVE = 0.5
LOADED_NOTE = "loaded — not a result"

OTHER = "(writes, publication, the rest)"  # a day's time outside the logged SQL steps
# logger names: flexbatch.transform.charging, flexbatch.job.pipeline (any package depth)
STEP_LINE = re.compile(r"flexbatch(?:\.\w+)*\.charging: step (\S+)\s+\S+ rows\s+([0-9.]+)s")
# every SQL step's debug line (flexbatch.transform.sql_steps): the ledger's steps are read
# from these; the charging steps, which also log one, from their info lines above
SQL_STEP_LINE = re.compile(r"flexbatch(?:\.\w+)*\.sql_steps: step (\S+): \d+ rows in ([0-9.]+)s")
LEDGER_PREFIX = "ledger:"
DAY_LINE = re.compile(
    r"flexbatch(?:\.\w+)*\.pipeline: (?:run|backfill) (\d{4}-\d{2}-\d{2}): .* in ([0-9.]+)s"
)


def loadavg() -> list[float]:
    """The 1, 5 and 15-minute load averages, rounded to 0.01."""
    return [round(x, 2) for x in os.getloadavg()]


def is_loaded(load_before: list[float]) -> bool:
    return bool(load_before) and load_before[0] > LOADED_ABOVE


def settle(limit_seconds: float, poll_seconds: float = 5.0) -> None:
    """Wait, at most ``limit_seconds``, for the 1-minute load average to fall to
    ``LOADED_ABOVE``: an engine's own run raises it for about a minute, so back-to-back
    runs would each start "loaded". A run that still starts above it is marked."""
    deadline = time.monotonic() + limit_seconds
    while os.getloadavg()[0] > LOADED_ABOVE and time.monotonic() < deadline:
        time.sleep(min(poll_seconds, max(0.0, deadline - time.monotonic())))


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
    load_before: list[float] = field(default_factory=list)  # 1/5/15-minute, this run
    load_after: list[float] = field(default_factory=list)
    all_loads: list[list[float]] = field(default_factory=list)  # every repeat: [before, after]

    @property
    def loaded(self) -> bool:
        return is_loaded(self.load_before)


@dataclass(frozen=True)
class ProcessRun:
    seconds: float
    peak_rss_mib: float
    cpu_seconds: float
    exit_code: int
    load_before: list[float]
    load_after: list[float]


def measure_process(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> ProcessRun:
    """Run ``cmd`` (stdout+stderr to ``log``): its wall time, from ``os.wait4`` the peak
    RSS and CPU time of that one child (not of earlier children, as RUSAGE_CHILDREN would
    mix in), and the load average just before and just after it."""
    load_before = loadavg()
    with log.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    rss_bytes = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    cpu = usage.ru_utime + usage.ru_stime
    return ProcessRun(
        seconds, rss_bytes / 2**20, cpu, proc.returncode, load_before, loadavg()
    )  # fmt: skip


def last_line(text: str) -> str:
    lines = [line for line in text.replace("\r", "\n").splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def run_bare(engine: str, dataset: Dataset, logs: Path) -> Measurement:
    """One bare aggregation in a child (``python -m flexbatch.bench --child ENGINE``)."""
    result = logs / f"{engine}.json"
    cmd = [sys.executable, "-m", "flexbatch.bench", "--child", engine]
    cmd += ["--child-glob", dataset.usage_glob, "--child-result", str(result)]
    log = logs / f"{engine}.log"
    run = measure_process(cmd, log)
    loads = {"load_before": run.load_before, "load_after": run.load_after}
    if run.exit_code != 0:
        error = f"exit {run.exit_code}: {last_line(log.read_text(errors='replace'))}"
        return Measurement(
            engine, run.seconds, run.peak_rss_mib, run.cpu_seconds, None, error=error, **loads
        )
    report = json.loads(result.read_text(encoding="utf-8"))
    return Measurement(
        engine, run.seconds, run.peak_rss_mib, run.cpu_seconds, report["work_seconds"],
        report["totals"], **loads,
    )  # fmt: skip


def flexbatch_command(dataset: Dataset, output: Path) -> list[str]:
    # debug: the ledger's steps log their seconds there (a line per step, not per row)
    cmd = [sys.executable, "-m", "flexbatch.cli", "--log-level", "debug"]
    first, last = dataset.days[0].isoformat(), dataset.days[-1].isoformat()
    if len(dataset.days) == 1:
        cmd += ["run", "--date", first]
    else:
        cmd += ["backfill", "--from", first, "--to", last]
    return cmd + ["--input", str(dataset.input), "--output", str(output)]


def parse_log(text: str) -> tuple[dict[str, float], dict[str, float], list[dict[str, float]]]:
    """From a ``--log-level debug`` log: seconds per step (summed over days; the credit
    ledger's steps named ``ledger:STEP``), seconds per day, and each day's step seconds
    (in day order)."""
    from flexbatch.transform.charging import STEPS as CHARGING_STEPS

    steps: dict[str, float] = {}
    days: dict[str, float] = {}
    per_day: list[dict[str, float]] = []
    current: dict[str, float] = {}
    for line in text.splitlines():
        match = STEP_LINE.search(line)
        sql_step = None if match else SQL_STEP_LINE.search(line)
        if sql_step and sql_step.group(1) not in CHARGING_STEPS:
            match, name = sql_step, LEDGER_PREFIX + sql_step.group(1)
        elif match:
            name = match.group(1)
        if match:
            step, seconds = name, float(match.group(2))
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

    files = sql_string(str(output / "usage_daily" / "*" / "*.parquet"))
    con = duckdb.connect()
    return totals(
        arrow_table(con.sql(f"select * from read_parquet({files}, hive_partitioning = true)"))
    )


def run_flexbatch(
    dataset: Dataset, output: Path, logs: Path, env: dict[str, str] | None = None
) -> Measurement:
    """``flexbatch run`` (or ``backfill``) of the dataset's days into a fresh ``output``."""
    shutil.rmtree(output, ignore_errors=True)
    log = logs / "flexbatch.log"
    run = measure_process(flexbatch_command(dataset, output), log, env)
    loads = {"load_before": run.load_before, "load_after": run.load_after}
    text = log.read_text(encoding="utf-8", errors="replace")
    steps, days, _ = parse_log(text)
    if run.exit_code != 0:
        error = f"exit {run.exit_code}: {last_line(text)}"
        return Measurement(
            "flexbatch", run.seconds, run.peak_rss_mib, run.cpu_seconds, None, steps=steps,
            error=error, **loads,
        )  # fmt: skip
    return Measurement(
        "flexbatch", run.seconds, run.peak_rss_mib, run.cpu_seconds,
        sum(days.values()) if days else None, usage_daily_totals(output), steps=steps,
        day_seconds=days, **loads,
    )  # fmt: skip


def _preference(m: Measurement) -> tuple:
    """Which of an engine's repeats is reported: a successful one over a failure, one on
    an idle machine over a loaded one, then the fastest (failures: the first)."""
    return (1,) if m.error else (0, m.loaded, m.seconds)


def run_engines(
    dataset: Dataset,
    engines: list[str],
    work: Path,
    repeat: int = 1,
    flexbatch_env: dict[str, str] | None = None,
    settle_seconds: float = 0.0,
) -> dict[str, Measurement]:
    """Each engine ``repeat`` times, interleaved; keeps each engine's preferred run (see
    ``_preference``), with its highest peak RSS and every repeat's seconds and load.
    ``flexbatch_env`` is added to the job's environment; before each run the machine is
    given up to ``settle_seconds`` to fall idle (``settle``)."""
    env = {**os.environ, **flexbatch_env} if flexbatch_env else None
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    output = work / f"out-{dataset.root.name}"
    best: dict[str, Measurement] = {}
    for _ in range(repeat):
        for engine in engines:
            settle(settle_seconds)
            say(f"running {engine} ...")
            if engine == "flexbatch":
                m = run_flexbatch(dataset, output, logs, env)
            else:
                m = run_bare(engine, dataset, logs)
            outcome = f"FAILED ({m.error})" if m.error else "ok"
            load = f"load {m.load_before[0]:.2f} -> {m.load_after[0]:.2f}"
            note = f", {LOADED_NOTE}" if m.loaded else ""
            say(f"  {engine}: {m.seconds:.2f}s, {m.peak_rss_mib:.0f} MiB, {outcome}, {load}{note}")
            previous = best.get(engine)
            runs = [*(previous.all_seconds if previous else []), m.seconds]
            loads = [*(previous.all_loads if previous else []), [m.load_before[0], m.load_after[0]]]
            rss = max(m.peak_rss_mib, previous.peak_rss_mib if previous else 0.0)
            if previous is None or _preference(m) < _preference(previous):
                best[engine] = m
            kept = best[engine]
            kept.all_seconds, kept.all_loads, kept.peak_rss_mib = runs, loads, rss
    return best
