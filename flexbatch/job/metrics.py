"""A metrics file for monitoring, in the Prometheus text format that node-exporter's
textfile collector reads (``--collector.textfile.directory``): one ``.prom`` file the
job rewrites at the end of each command, whatever its outcome.

Each sample carries a ``command`` label (``run``, ``since_changed``, ``backfill``): the
nightly ``run --date D`` and the ``run --since-changed`` after it write the same file, and
the second must not erase the first's counts, so the samples of other commands found in
the previous file are kept. ``flexbatch_last_success_timestamp_seconds`` survives a failed
command the same way (a failure rewrites everything else but not when the command last
succeeded), which is what an alert on staleness needs:

    time() - max(flexbatch_last_success_timestamp_seconds) > 26 * 3600
    max(flexbatch_stale_days) > 0
    max(flexbatch_last_run_success) == 0

The file is written next to its final name and moved over it with ``os.replace``: the
collector reads either the previous file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from flexbatch.config import Paths
from flexbatch.errors import FlexbatchError

if TYPE_CHECKING:  # the job's modules (DuckDB, Polars) load only when a command runs one
    from flexbatch.job.day import DayResult

LAST_SUCCESS = "flexbatch_last_success_timestamp_seconds"

# name -> help text; the order of the file
HELP = {
    "flexbatch_last_run_timestamp_seconds": "Unix time the last command finished.",
    "flexbatch_last_run_success": "1 if the last command succeeded, else 0.",
    "flexbatch_last_run_exit_code": "Exit code of the last command (SPEC section 2).",
    LAST_SUCCESS: "Unix time the last successful command finished.",
    "flexbatch_last_run_duration_seconds": "Wall time of the last command.",
    "flexbatch_last_run_days_processed": "Days the last command computed and published.",
    "flexbatch_last_run_rows_read": "Usage rows read by the last command.",
    "flexbatch_last_run_rows_accepted": "Usage rows accepted by the last command.",
    "flexbatch_last_run_rows_quarantined": "Usage rows quarantined by the last command.",
    "flexbatch_last_run_duplicates": "Duplicate usage rows dropped by the last command.",
    "flexbatch_last_run_charge_rows": "Charge rows written by the last command.",
    "flexbatch_last_run_credits": "Credits charged on the days the last command computed.",
    "flexbatch_last_run_restated": "Account-currency days restated by the last command.",
    "flexbatch_latest_day_timestamp_seconds": "Unix time of the latest processed UTC day.",
    "flexbatch_days_behind": "Whole days between the latest processed day and yesterday.",
    "flexbatch_stale_days": "Processed days that status calls stale.",
}

_SAMPLE = re.compile(
    r'^(?P<name>[a-z_]+)\{command="(?P<command>(?:[^"\\]|\\.)*)"\} (?P<value>\S+)$'
)


@contextlib.contextmanager
def recorded(path: Path | None, command: str, paths: Paths) -> Iterator[list[DayResult]]:
    """Around one command: the caller appends the days it published to the yielded list;
    at the end, success or failure, ``path`` (when set) is rewritten with the command's
    samples, its exit code, OUT's latest day and the days ``status`` calls stale."""
    results: list[DayResult] = []
    started = datetime.now(UTC)
    code = 0
    try:
        yield results
    except FlexbatchError as exc:
        code = exc.exit_code
        raise
    except BaseException:
        code = 1
        raise
    finally:
        if path is not None:
            latest, stale = _out_state(paths)
            write_metrics(
                path, results, command=command, started_at=started,
                finished_at=datetime.now(UTC), exit_code=code, latest_day=latest,
                stale_days=stale,
            )  # fmt: skip


def _out_state(paths: Paths) -> tuple[date | None, int | None]:
    """OUT's latest processed day and its stale days; unknown (None) when OUT cannot be
    read (a failed first run): the metrics must not hide the command's own error."""
    from flexbatch.job import pipeline  # the pipeline writes results this module reads

    try:
        statuses = pipeline.stale_days(paths)
    except Exception:
        return None, None
    latest = max((s.day for s in statuses if s.run_id), default=None)
    return latest, sum(1 for s in statuses if s.state == "stale")


def write_metrics(
    path: Path,
    results: Sequence[DayResult],
    *,
    command: str,
    started_at: datetime,
    finished_at: datetime,
    exit_code: int = 0,
    latest_day: date | None = None,
    stale_days: int | None = None,
) -> None:
    """Rewrite ``path`` atomically with this command's samples (label ``command``) and the
    other commands' samples of the previous file. ``results`` are the days it published
    (none on a failure before any day); ``latest_day`` is OUT's latest processed day and
    ``stale_days`` the number of days ``status`` calls stale, each left out when None."""
    path = Path(path)
    previous = _read_samples(path)
    ok = exit_code == 0
    finished = finished_at.timestamp()
    values: dict[str, object] = {
        "flexbatch_last_run_timestamp_seconds": finished,
        "flexbatch_last_run_success": int(ok),
        "flexbatch_last_run_exit_code": exit_code,
        LAST_SUCCESS: finished if ok else previous.get((LAST_SUCCESS, command)),
        "flexbatch_last_run_duration_seconds": (finished_at - started_at).total_seconds(),
        "flexbatch_last_run_days_processed": len(results),
        "flexbatch_last_run_rows_read": sum(r.counts.rows_read for r in results),
        "flexbatch_last_run_rows_accepted": sum(r.counts.rows_accepted for r in results),
        "flexbatch_last_run_rows_quarantined": sum(r.counts.rows_quarantined for r in results),
        "flexbatch_last_run_duplicates": sum(r.counts.duplicates for r in results),
        "flexbatch_last_run_charge_rows": sum(r.charge_rows for r in results),
        "flexbatch_last_run_credits": sum((r.credits for r in results), Decimal(0)),
        "flexbatch_last_run_restated": sum(r.restated for r in results),
        "flexbatch_stale_days": stale_days,
    }
    if latest_day is not None:
        midnight = datetime.combine(latest_day, time(), tzinfo=UTC)
        yesterday = finished_at.astimezone(UTC).date().toordinal() - 1
        values["flexbatch_latest_day_timestamp_seconds"] = midnight.timestamp()
        values["flexbatch_days_behind"] = max(0, yesterday - latest_day.toordinal())
    samples = {key: value for key, value in previous.items() if key[1] != command}
    samples.update({(name, command): v for name, v in values.items() if v is not None})
    _replace(path, render(samples))


def render(samples: dict[tuple[str, str], object]) -> str:
    """The exposition text: per metric its HELP and TYPE, then one line per command."""
    lines = []
    for name, help_text in HELP.items():
        rows = sorted((c, v) for (n, c), v in samples.items() if n == name)
        if not rows:
            continue
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        lines += [f'{name}{{command="{_label(c)}"}} {_number(v)}' for c, v in rows]
    return "\n".join(lines) + "\n"


def _number(value: object) -> str:
    if isinstance(value, float):
        return repr(round(value, 3))
    return str(value)  # an int, a Decimal (exact), or the text kept from the previous file


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _read_samples(path: Path) -> dict[tuple[str, str], object]:
    """The samples of the previous file, by (metric, command); none when it is missing
    or not ours (a line we do not recognise is dropped, never an error)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return {}
    samples: dict[tuple[str, str], object] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match and match["name"] in HELP:
            command = re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], match["command"])
            samples[(match["name"], command)] = match["value"]
    return samples


def _replace(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # not *.prom: never collected
    try:
        with tmp.open("w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
