"""The two benchmarks: ``aggregation`` (flexbatch and the bare engines on the same day's
files, one table of ratios) and ``backfill`` (is flexbatch's time per day flat over many
days?)."""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from flexbatch.bench.console import say
from flexbatch.bench.data import ensure_dataset, params
from flexbatch.bench.measure import (
    LOADED_ABOVE,
    LOADED_NOTE,
    flexbatch_command,
    is_loaded,
    last_line,
    loadavg,
    measure_process,
    parse_log,
    run_engines,
)
from flexbatch.bench.report import (
    machine,
    mean_steps,
    print_backfill,
    print_steps,
    print_table,
    rows_with_ratios,
    write_json,
)


def env_pairs(pairs: list[str]) -> dict[str, str]:
    """``--env KEY=VALUE`` options as a dict; a malformed one exits with its fix."""
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            sys.exit(f"--env {pair!r}: expected KEY=VALUE")
        env[key] = value
    return env


def _command() -> str:
    return " ".join(["python -m flexbatch.bench", *sys.argv[1:]])


def aggregation(args: argparse.Namespace, engines: list[str]) -> dict[str, Any]:
    """flexbatch and the bare engines on one dataset: table, steps, JSON report."""
    events = args.events or 10_000_000
    dataset = ensure_dataset(
        args.work, events, days=args.days, files=args.files or 8, accounts=args.accounts,
        seed=args.seed, shape=args.shape,
    )  # fmt: skip
    before = machine()
    results = run_engines(
        dataset, engines, args.work, args.repeat, env_pairs(args.env), args.settle
    )
    rows = rows_with_ratios(results, dataset.events, args.accounts)
    title = (
        f"{dataset.events:,} events ({dataset.shape} shape), {args.accounts:,} accounts, "
        f"{len(dataset.days)} day(s), {dataset.files} files/day"
    )
    print_table(rows, title)
    if "flexbatch" in results:
        print_steps(results["flexbatch"])
    report = {
        "kind": "aggregation",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": _command(),
        "flexbatch_env": env_pairs(args.env),
        "machine": before,
        "loadavg_after": loadavg(),
        "loaded_above": LOADED_ABOVE,
        "dataset": {"path": str(dataset.root), "events": dataset.events,
                    **params(events, args.days, dataset.files, args.accounts, args.seed,
                             args.shape)},
        "rows": rows,
        "measurements": {k: {**asdict(v), "loaded": v.loaded} for k, v in results.items()},
    }  # fmt: skip
    write_json(args.json or args.work / f"results-{dataset.root.name}.json", report)
    return report


def backfill(args: argparse.Namespace) -> dict[str, Any]:
    """``flexbatch backfill`` over N small days: is the time per day flat?"""
    events = args.events or 20_000
    dataset = ensure_dataset(
        args.work, events, days=args.backfill_days, files=args.files or 2,
        accounts=args.accounts, seed=args.seed, shape=args.shape,
    )  # fmt: skip
    before = machine()
    logs = args.work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    output = args.work / f"out-{dataset.root.name}"
    shutil.rmtree(output, ignore_errors=True)
    say(f"running flexbatch backfill over {len(dataset.days)} days ...")
    log = logs / "flexbatch-backfill.log"
    env = {**os.environ, **env_pairs(args.env)} if args.env else None
    run = measure_process(flexbatch_command(dataset, output), log, env)
    text = log.read_text(encoding="utf-8", errors="replace")
    if run.exit_code != 0:
        raise RuntimeError(f"flexbatch backfill failed (exit {run.exit_code}): {last_line(text)}")
    _, days, per_day_steps = parse_log(text)
    if not days:
        raise RuntimeError(f"no day lines in {log}: has the pipeline's log format changed?")
    per_day = list(days.values())
    tenth = max(1, math.ceil(len(per_day) / 10))
    first, last = per_day[:tenth], per_day[-tenth:]
    loaded = is_loaded(run.load_before)
    summary = {
        "days": len(per_day),
        "events_per_day": events,
        "shape": dataset.shape,
        "wall_seconds": round(run.seconds, 2),
        "cpu_seconds": round(run.cpu_seconds, 2),
        "peak_rss_mib": round(run.peak_rss_mib, 1),
        "accounts": args.accounts,
        "median_day_us_per_account": round(
            sorted(per_day)[len(per_day) // 2] * 1e6 / args.accounts, 1
        ),
        "tenth_days": tenth,
        "first_tenth_mean_s": round(sum(first) / len(first), 3),
        "last_tenth_mean_s": round(sum(last) / len(last), 3),
        "last_over_first": round(sum(last) / len(last) / (sum(first) / len(first)), 2),
        "median_day_s": round(sorted(per_day)[len(per_day) // 2], 3),
        "max_day_s": round(max(per_day), 3),
        "load_before": run.load_before,
        "load_after": run.load_after,
        "loaded": loaded,
    }
    steps_first = mean_steps(per_day_steps[:tenth])
    steps_last = mean_steps(per_day_steps[-tenth:])
    print_backfill(summary, steps_first, steps_last)
    report = {
        "kind": "backfill",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": _command(),
        "machine": before,
        "loadavg_after": loadavg(),
        "note": LOADED_NOTE if loaded else None,
        "summary": summary,
        "step_means_first_tenth": steps_first,
        "step_means_last_tenth": steps_last,
        "day_seconds": days,
    }
    write_json(args.json or args.work / f"results-backfill-{dataset.root.name}.json", report)
    return report
