"""What a benchmark reports: the machine and commit measured, rows with the ratios between
engines and the load around each run, printed as tables and written as JSON."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from flexbatch.bench.console import console, say
from flexbatch.bench.measure import ENGINES, LOADED_ABOVE, LOADED_NOTE, OTHER, Measurement
from flexbatch.bench.totals import agrees


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
    root = Path(__file__).resolve().parents[2]
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


def rows_with_ratios(
    results: dict[str, Measurement], events: int, accounts: int | None = None
) -> list[dict[str, Any]]:
    """One row per engine: its figures, its ratios to chdb and DuckDB, whether its totals
    agree, the load around its run (``note`` says when it is not a result), and with
    ``accounts`` the cost per account (microseconds of the whole run per account)."""
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
        if accounts:
            row["us_per_account"] = round(m.seconds * 1e6 / accounts, 1)
        ratios_loaded = m.loaded
        for ref in ("chdb", "duckdb"):
            base = results.get(ref)
            base = None if base is None or base.error or m.error else base
            ratios_loaded = ratios_loaded or bool(base and base.loaded)
            row[f"x_{ref}"] = round(m.seconds / base.seconds, 2) if base else None
            row[f"x_{ref}_cpu"] = round(m.cpu_seconds / base.cpu_seconds, 2) if base else None
            if base and m.work_seconds and base.work_seconds:
                row[f"x_{ref}_work"] = round(m.work_seconds / base.work_seconds, 2)
        fine = [r for r in results.values() if not r.error]
        reference = results["duckdb"] if results.get("duckdb") in fine else None
        reference = reference or (fine[0] if fine else m)
        row["totals_agree"] = None if m.error else agrees(m.totals, reference.totals)
        row["load_before"] = m.load_before
        row["load_after"] = m.load_after
        row["loaded"] = m.loaded
        row["ratios_loaded"] = ratios_loaded  # this run or a reference run was loaded
        row["note"] = LOADED_NOTE if m.loaded else None
        rows.append(row)
    return rows


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _load(row: dict[str, Any]) -> str:
    """The 1-minute load average before → after the run."""
    before, after = row["load_before"], row["load_after"]
    return (
        f"{_fmt(before[0] if before else None, '.2f')}→{_fmt(after[0] if after else None, '.2f')}"
    )


def print_table(rows: list[dict[str, Any]], title: str) -> None:
    from rich.table import Table

    table = Table(title=title)
    columns = ("engine", "wall s", "cpu s", "work s", "events/s", "peak RSS MiB", "µs/account",
               "× chdb", "× duckdb", "agree", "load 1m", "note")  # fmt: skip
    for name in columns:
        table.add_column(name, justify="left" if name in ("engine", "note") else "right",
                         no_wrap=name != "note")  # fmt: skip

    for r in rows:
        table.add_row(
            r["engine"], _fmt(r["seconds"], ".2f"), _fmt(r["cpu_seconds"], ".2f"),
            _fmt(r["work_seconds"], ".2f"),
            _fmt(r["events_per_s"], ",d"), _fmt(r["peak_rss_mib"], ",.0f"),
            _fmt(r.get("us_per_account"), ",.1f"),
            _fmt(r["x_chdb"], ".2f"), _fmt(r["x_duckdb"], ".2f"),
            {True: "yes", False: "NO", None: "FAILED"}[r["totals_agree"]],
            _load(r), r["note"] or "",
        )  # fmt: skip
    out = console()
    out.print(table)
    loaded = [r["engine"] for r in rows if r["loaded"]]
    if loaded:
        out.print(
            f"{LOADED_NOTE}: {', '.join(loaded)} (1-minute load above {LOADED_ABOVE} before "
            "the run), nor are the ratios that involve them",
            markup=False,
        )
    for r in rows:
        if r["error"]:
            out.print(f"{r['engine']} failed: {r['error']}", markup=False)


def print_steps(m: Measurement) -> None:
    from rich.table import Table

    if not m.work_seconds:
        return
    table = Table(title="flexbatch: seconds per step (its step log lines)")
    table.add_column("step")
    table.add_column("seconds", justify="right")
    table.add_column("share of days' time", justify="right")
    other = m.work_seconds - sum(m.steps.values())
    for step, seconds in [*m.steps.items(), (OTHER, other)]:
        table.add_row(step, f"{seconds:.2f}", f"{seconds / m.work_seconds:.0%}")
    table.add_row("days' total", f"{m.work_seconds:.2f}", "100%")
    console().print(table)


def mean_steps(days: list[dict[str, float]]) -> dict[str, float]:
    """Each step's mean seconds over ``days`` (a step missing from a day counts 0)."""
    names = {name for day in days for name in day}
    return {n: round(sum(d.get(n, 0.0) for d in days) / max(1, len(days)), 4) for n in names}


def print_backfill(
    summary: dict[str, Any], first: dict[str, float], last: dict[str, float]
) -> None:
    from rich.table import Table

    out = console()
    out.print(f"flexbatch backfill: {summary['days']} days × {summary['events_per_day']:,} events")
    table = Table()
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        table.add_row(key, str(value))
    out.print(table)
    if summary.get("loaded"):
        out.print(
            f"{LOADED_NOTE}: the 1-minute load average was above {LOADED_ABOVE} before the run",
            markup=False,
        )
    out.print("mean seconds per step, first vs last tenth of the days")
    steps = Table()
    for name in ("step", "first", "last"):
        steps.add_column(name, justify="left" if name == "step" else "right")
    for name in sorted(set(first) | set(last), key=lambda n: -last.get(n, 0.0)):
        steps.add_row(name, f"{first.get(name, 0.0):.4f}", f"{last.get(name, 0.0):.4f}")
    out.print(steps)


def write_json(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    say(f"results: {path}")
