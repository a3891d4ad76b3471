"""The metrics file (flexbatch/job/metrics.py): Prometheus textfile format, values summed
from the day results, other commands' samples and the last success kept, atomic writes."""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from flexbatch.job import metrics
from flexbatch.job.day import DayResult
from flexbatch.job.metrics import LAST_SUCCESS, write_metrics
from flexbatch.ledger.credit_ledger import CreditCounts
from flexbatch.transform.charging import DayCounts

START = datetime(2026, 9, 3, 2, 0, tzinfo=UTC)
END = datetime(2026, 9, 3, 2, 0, 12, 500000, tzinfo=UTC)
# the exposition format: comments, or name{labels} value
LINE = re.compile(r'^(# (HELP|TYPE) [a-z_]+ .+|[a-z_]+\{command="[a-z_]+"\} -?[0-9.e+]+)$')


def result(day: date, read: int, quarantined: int, duplicates: int, credits: str) -> DayResult:
    return DayResult(
        day=day,
        counts=DayCounts(read, read - quarantined - duplicates, quarantined, duplicates),
        credit=CreditCounts(0, 0, 0, 0, 0),
        input_files=1,
        charge_rows=read // 10,
        credits=Decimal(credits),
        seconds=1.0,
        restated=1,
    )


RESULTS = [
    result(date(2026, 9, 1), 431, 2, 1, "115.656880"),
    result(date(2026, 9, 2), 400, 0, 3, "0.000001"),
]


def samples(path: Path) -> dict[tuple[str, str], str]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    for line in text.splitlines():
        assert LINE.match(line), line
    found = re.findall(r'^([a-z_]+)\{command="([a-z_]+)"\} (\S+)$', text, re.M)
    return {(name, command): value for name, command, value in found}


def test_a_successful_run_writes_every_gauge(tmp_path):
    path = tmp_path / "collector" / "flexbatch.prom"
    write_metrics(
        path,
        RESULTS,
        command="run",
        started_at=START,
        finished_at=END,
        latest_day=date(2026, 9, 1),
        stale_days=0,
    )
    got = samples(path)
    finished = str(END.timestamp())
    assert got[("flexbatch_last_run_timestamp_seconds", "run")] == finished
    assert got[("flexbatch_last_success_timestamp_seconds", "run")] == finished
    assert got[("flexbatch_last_run_success", "run")] == "1"
    assert got[("flexbatch_last_run_exit_code", "run")] == "0"
    assert got[("flexbatch_last_run_duration_seconds", "run")] == "12.5"
    assert got[("flexbatch_last_run_days_processed", "run")] == "2"
    assert got[("flexbatch_last_run_rows_read", "run")] == "831"
    assert got[("flexbatch_last_run_rows_accepted", "run")] == "825"
    assert got[("flexbatch_last_run_rows_quarantined", "run")] == "2"
    assert got[("flexbatch_last_run_duplicates", "run")] == "4"
    assert got[("flexbatch_last_run_charge_rows", "run")] == "83"
    assert got[("flexbatch_last_run_credits", "run")] == "115.656881"  # exact, not a float sum
    assert got[("flexbatch_last_run_restated", "run")] == "2"
    assert got[("flexbatch_stale_days", "run")] == "0"
    # 2026-09-01T00:00Z; finished on 09-03, so yesterday is 09-02: one day behind
    assert got[("flexbatch_latest_day_timestamp_seconds", "run")] == "1788220800.0"
    assert got[("flexbatch_days_behind", "run")] == "1"
    assert len(got) == len(metrics.HELP)
    text = path.read_text(encoding="utf-8")
    assert text.count("# TYPE") == len(metrics.HELP)
    assert sorted(p.name for p in path.parent.iterdir()) == ["flexbatch.prom"]  # no temp file


def test_a_failure_keeps_the_last_success_and_other_commands(tmp_path):
    path = tmp_path / "flexbatch.prom"
    write_metrics(path, RESULTS, command="run", started_at=START, finished_at=END)
    write_metrics(path, [], command="since_changed", started_at=START, finished_at=END)
    later = datetime(2026, 9, 4, 2, 0, 3, tzinfo=UTC)
    write_metrics(path, [], command="run", started_at=later, finished_at=later, exit_code=3)
    got = samples(path)
    assert got[("flexbatch_last_run_success", "run")] == "0"
    assert got[("flexbatch_last_run_exit_code", "run")] == "3"
    assert got[("flexbatch_last_run_timestamp_seconds", "run")] == str(later.timestamp())
    assert got[("flexbatch_last_success_timestamp_seconds", "run")] == str(END.timestamp())
    assert got[("flexbatch_last_run_rows_read", "run")] == "0"  # this attempt read nothing
    assert got[("flexbatch_last_run_success", "since_changed")] == "1"
    assert ("flexbatch_stale_days", "run") not in got  # not given: left out, not 0
    # one HELP/TYPE per metric even with two commands
    text = path.read_text(encoding="utf-8")
    assert text.count("# TYPE flexbatch_last_run_success gauge") == 1


def test_a_first_failure_has_no_last_success(tmp_path):
    path = tmp_path / "flexbatch.prom"
    path.write_text("garbage that is not ours\n", encoding="utf-8")
    write_metrics(path, [], command="run", started_at=START, finished_at=END, exit_code=2)
    got = samples(path)
    assert ("flexbatch_last_success_timestamp_seconds", "run") not in got
    assert got[("flexbatch_last_run_exit_code", "run")] == "2"


def test_the_write_is_atomic(tmp_path, monkeypatch):
    """The old file stays whole until os.replace, and a failed write leaves no temp file."""
    path = tmp_path / "flexbatch.prom"
    write_metrics(path, RESULTS, command="run", started_at=START, finished_at=END)
    before = path.read_text(encoding="utf-8")
    seen = []

    def failing_replace(src, dst):
        seen.append((Path(src).name, Path(dst).read_text(encoding="utf-8")))
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_metrics(path, [], command="run", started_at=START, finished_at=END, exit_code=1)
    assert seen and not seen[0][0].endswith(".prom")  # the collector never reads the temp
    assert seen[0][1] == before
    assert path.read_text(encoding="utf-8") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flexbatch.prom"]


def test_a_run_writes_the_file_the_environment_names(flexbatch, monkeypatch, tmp_path):
    """End to end: FLEXBATCH_METRICS_FILE names the file; a run writes its day's counts
    (equal to its runs row) and success; a refused run writes its exit code and keeps the
    last success time."""
    from helpers import copy_sample, read_table

    prom = tmp_path / "flexbatch.prom"
    monkeypatch.setenv("FLEXBATCH_METRICS_FILE", str(prom))
    inp = copy_sample(tmp_path / "in", [date(2026, 9, 1)])
    out = tmp_path / "out"
    io = ("--input", str(inp), "--output", str(out))
    assert flexbatch("run", "--date", "2026-09-01", *io).exit_code == 0
    first = _samples(prom)
    runs = read_table(out, "runs").row(0, named=True)
    assert first[("flexbatch_last_run_rows_read", "run")] == runs["rows_read"]
    assert first[("flexbatch_last_run_success", "run")] == 1
    assert first[("flexbatch_stale_days", "run")] == 0
    assert flexbatch("run", "--date", "2026-09-02", *io).exit_code == 3  # no partition
    second = _samples(prom)
    assert second[("flexbatch_last_run_exit_code", "run")] == 3
    assert second[(LAST_SUCCESS, "run")] == first[(LAST_SUCCESS, "run")]


def _samples(path) -> dict[tuple[str, str], float]:
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name_labels, value = line.rsplit(" ", 1)
            name, labels = name_labels.split("{", 1)
            found[(name, labels.split('"')[1])] = float(value)
    return found
