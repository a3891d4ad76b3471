"""``python -m flexbatch.bench``: parse the arguments, check the engines asked for, run
one benchmark (or, with ``--child``, one bare aggregation in its own process)."""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path

from flexbatch.bench.bare import BARE_ENGINES, child
from flexbatch.bench.measure import ENGINES
from flexbatch.bench.modes import aggregation, backfill
from flexbatch.bench.synthetic import MAX_ACCOUNTS, SHAPES


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
    parser.add_argument("--accounts", type=int, default=10_000, help="accounts, each holding "
                        "a grant (default 10,000; at most 1,000,000)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=42, help="generator seed (default 42)")
    parser.add_argument(
        "--shape", choices=SHAPES, default="default",
        help="how events fall on accounts: default (log-uniform, the largest account ~7.5 %%), "
        "skewed (Zipf s=1.3: one account holds the plurality, ~27 %%) or shared (Zipf "
        "s=1.05 over many accounts; 3,000 resource and 200 user ids shared by all)",
    )  # fmt: skip
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "flexbatch-bench",
        help="folder for data, outputs, logs and results (default: $TMPDIR/flexbatch-bench)",
    )  # fmt: skip
    parser.add_argument("--skip", default="", help="engines to skip, comma-separated "
                        f"({', '.join(ENGINES)})")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=1, help="runs per engine; the fastest "
                        "on an idle machine is reported (default 1)")  # fmt: skip
    parser.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE",
        help="set in flexbatch's environment (e.g. FLEXBATCH_MEMORY_LIMIT=8GB); repeatable",
    )  # fmt: skip
    parser.add_argument("--settle", type=float, default=0.0, metavar="SECONDS",
                        help="before each run, wait up to SECONDS for the 1-minute load "
                        "average to fall below 0.5 (default 0: no wait)")  # fmt: skip
    parser.add_argument("--json", type=Path, help="results file (default: WORK/results-*.json)")
    parser.add_argument("--backfill-days", type=int, help="instead: time flexbatch backfill "
                        "over this many days and compare the first and last tenth")  # fmt: skip
    parser.add_argument("--child", choices=BARE_ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--child-glob", help=argparse.SUPPRESS)
    parser.add_argument("--child-result", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not 1 <= args.accounts <= MAX_ACCOUNTS:
        sys.exit(f"--accounts {args.accounts}: choose 1 to {MAX_ACCOUNTS:,}")
    if args.child:
        child(args.child, args.child_glob, args.child_result)
        return
    if args.backfill_days:
        backfill(args)
        return
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if unknown := skip - set(ENGINES):
        sys.exit(f"--skip: unknown engine {sorted(unknown)[0]!r}; choose from {', '.join(ENGINES)}")
    engines = [e for e in ENGINES if e not in skip]
    for module in ("chdb", "pandas"):
        if module in engines and importlib.util.find_spec(module) is None:
            sys.exit(f"{module} is not installed; fix: pip install -e '.[bench]' "
                     f"or add --skip {module}")  # fmt: skip
    aggregation(args, engines)
