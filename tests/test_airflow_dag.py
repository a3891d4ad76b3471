"""The Airflow 3 DAG (jobs/airflow/flexbatch_nightly.py) under real Apache Airflow.

Skipped where Airflow is not importable (the main test environment); `.ci/setup-airflow.sh`
installs Airflow in `.venv-airflow` and runs this file there, with
FLEXBATCH_REQUIRE_AIRFLOW=1 so a broken install fails instead of skipping.

End to end with this environment's flexbatch: late data picked up by the since-changed
task, the wait for a partition that arrives late and for one that never does (the
deadline, the failure hook), a hostile run conf. With a stand-in executable that records
its arguments and exits with a chosen code: no retry on exit 2, retries on exit 4.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DAG_FOLDER = REPO / "jobs" / "airflow"
DAG_FILE = DAG_FOLDER / "flexbatch_nightly.py"
SAMPLE = REPO / "data"
DAG_ID = "flexbatch_nightly"
BIN = Path(sys.executable).parent
TASKS = ["since_changed", "wait_for_usage", "flexbatch_run"]

if importlib.util.find_spec("airflow") is not None:
    # Airflow reads its configuration when first imported: a throw-away home (unless the
    # caller gave one) and this repository's DAG folder, no example DAGs.
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="flexbatch-airflow-"))
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAG_FOLDER)
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"

if os.environ.get("FLEXBATCH_REQUIRE_AIRFLOW"):
    import airflow  # noqa: F401  (fail, do not skip, in the Airflow environment)
else:
    pytest.importorskip("airflow")

from airflow.dag_processing.dagbag import DagBag  # noqa: E402

from helpers import read_table  # noqa: E402


@pytest.fixture(scope="module")
def metadata_db():
    """dag.test() needs Airflow's metadata DB: migrate the sqlite one if it is not there."""
    home = Path(os.environ["AIRFLOW_HOME"])
    if not (home / "airflow.db").exists():
        subprocess.run(
            [str(BIN / "airflow"), "db", "migrate"], check=True, capture_output=True, text=True
        )
    return home


@pytest.fixture(scope="module")
def dagbag():
    return DagBag(dag_folder=str(DAG_FOLDER))


@pytest.fixture(scope="module")
def dag(dagbag):
    return dagbag.dags[DAG_ID]


def test_dag_folder_imports_cleanly(dagbag):
    assert dagbag.import_errors == {}
    assert dagbag.captured_warnings == {}  # no deprecated Airflow 2 imports or arguments
    assert list(dagbag.dags) == [DAG_ID]


def test_schedule_is_a_utc_cron_trigger_with_a_one_day_interval(dag):
    from airflow.sdk import CronTriggerTimetable

    timetable = dag.timetable
    assert isinstance(timetable, CronTriggerTimetable)
    assert timetable.expression == "0 2 * * *"
    assert str(timetable.timezone) in {"UTC", "Timezone('UTC')"}
    assert timetable.interval == timedelta(days=1)
    assert dag.catchup is False  # explicit: backfills are asked for, never implied
    assert dag.max_active_runs == 1


def test_scheduled_run_data_interval_is_the_day_before_the_trigger(dag):
    """What the scheduler will do: the run fired at 2026-09-03T02:00Z covers 09-02."""
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import DataInterval, TimeRestriction

    timetable = coerce_to_core_timetable(dag.timetable)
    previous = DataInterval(
        datetime(2026, 9, 1, 2, tzinfo=UTC), datetime(2026, 9, 2, 2, tzinfo=UTC)
    )
    info = timetable.next_dagrun_info(
        last_automated_data_interval=previous,
        restriction=TimeRestriction(earliest=dag.start_date, latest=None, catchup=True),
    )
    assert info.run_after == datetime(2026, 9, 3, 2, tzinfo=UTC)
    assert info.data_interval.start.date() == date(2026, 9, 2)
    manual = timetable.infer_manual_data_interval(run_after=datetime(2026, 9, 3, 15, tzinfo=UTC))
    assert manual.start.date() == date(2026, 9, 2)


def test_late_data_then_the_wait_then_the_day(dag):
    """since_changed first (late files of processed days), then the sensor, then the day;
    the sensor reschedules (frees its slot) and has a deadline; only the run tasks retry."""
    assert [t.task_id for t in dag.topological_sort()] == TASKS
    assert dag.task_dict["wait_for_usage"].upstream_task_ids == {"since_changed"}
    assert dag.task_dict["flexbatch_run"].upstream_task_ids == {"wait_for_usage"}
    sensor = dag.task_dict["wait_for_usage"]
    assert sensor.mode == "reschedule"
    assert sensor.timeout == timedelta(hours=10).total_seconds()
    assert sensor.retries == 0
    for task_id in ("since_changed", "flexbatch_run"):
        assert dag.task_dict[task_id].retries == 3
    for task in dag.tasks:
        assert task.on_failure_callback  # the failure hook


def test_nothing_is_read_from_the_environment_when_the_file_is_parsed():
    """Module-level code (outside functions) never touches os.environ or getenv."""
    tree = ast.parse(DAG_FILE.read_text(encoding="utf-8"))
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    inside = {
        id(node)
        for fn in ast.walk(tree)
        if isinstance(fn, functions)
        for node in ast.walk(fn)
        if node is not fn
    }
    for node in ast.walk(tree):
        if id(node) in inside:
            continue
        assert not (isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv"})
    source = DAG_FILE.read_text(encoding="utf-8")
    assert "dag_run.conf" not in source.replace("``dag_run.conf``", "")
    assert "BashOperator" not in source and "shell=True" not in source  # no shell


def _copy_sample(root: Path, days: list[str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name in ("rate_plans.toml", "grants.csv", "transfers.csv"):
        shutil.copy2(SAMPLE / name, root / name)
    for day in days:
        shutil.copytree(SAMPLE / "usage" / f"date={day}", root / "usage" / f"date={day}")
    return root


@pytest.fixture
def variables(dag, tmp_path, monkeypatch):
    """Airflow Variables (the environment backend), short waits and retry delays so that
    dag.test() does not sit out the real ones; returns a setter."""
    monkeypatch.setattr(dag.task_dict["wait_for_usage"], "poke_interval", 1)
    for task in dag.tasks:
        monkeypatch.setattr(task, "retry_delay", timedelta(0))
        monkeypatch.setattr(task, "retry_exponential_backoff", False)
    failures = tmp_path / "failures.jsonl"

    def set_variables(**values: str) -> Path:
        values.setdefault("flexbatch_bin", str(BIN / "flexbatch"))
        values.setdefault("flexbatch_failure_log", str(failures))
        for name, value in values.items():
            monkeypatch.setenv(f"AIRFLOW_VAR_{name.upper()}", value)
        return failures

    return set_variables


def _states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def _tries(run) -> dict[str, int]:
    return {ti.task_id: ti.try_number for ti in run.get_task_instances()}


def _runs(out: Path) -> list[tuple[date, int]]:
    """(day, rows_read) of each run of ``runs``, in the order they finished."""
    runs = read_table(out, "runs").sort("finished_at")
    return list(zip(runs["date"].to_list(), runs["rows_read"].to_list(), strict=True))


def test_a_night_processes_late_data_and_the_day_before_the_trigger(
    dag, metadata_db, variables, tmp_path
):
    inp = _copy_sample(tmp_path / "in", ["2026-09-01", "2026-09-02", "2026-09-03"])
    out = tmp_path / "out"
    marker = tmp_path / "injected"
    failures = variables(flexbatch_input=str(inp), flexbatch_output=str(out))

    first = dag.test(
        logical_date=datetime(2026, 9, 2, 2, tzinfo=UTC),
        # a hostile conf must reach no shell
        run_conf={"date": f"2026-09-01; touch {marker}", "output": f"$(touch {marker})"},
    )
    assert first.state == "success", _states(first)
    assert first.data_interval_start.date() == date(2026, 9, 1)
    [(day, read_before)] = _runs(out)
    assert day == date(2026, 9, 1)  # the day before the trigger, not 09-02
    assert not marker.exists()

    # a late file for 09-01: the next night's since_changed recomputes 09-01 first
    late = inp / "usage" / "date=2026-09-01"
    original = sorted(late.glob("*.parquet"))[0]
    shutil.copy2(original, late / "late-arrival.parquet")
    second = dag.test(logical_date=datetime(2026, 9, 3, 2, tzinfo=UTC))
    assert second.state == "success", _states(second)
    runs = _runs(out)
    assert [d for d, _ in runs] == [date(2026, 9, 1), date(2026, 9, 1), date(2026, 9, 2)]
    assert runs[1][1] > read_before  # the late rows were read (as duplicates of ids)
    assert not failures.exists()


def test_a_manual_run_without_a_logical_date_processes_the_day_before_it(
    dag, metadata_db, variables, tmp_path
):
    """``airflow dags trigger`` without --logical-date: no data interval at all."""
    inp = _copy_sample(tmp_path / "in", ["2026-09-03"])
    out = tmp_path / "out"
    variables(flexbatch_input=str(inp), flexbatch_output=str(out))
    run = dag.test(logical_date=None, run_after=datetime(2026, 9, 4, 9, 30, tzinfo=UTC))
    assert run.state == "success", _states(run)
    assert run.logical_date is None and run.data_interval_start is None
    assert [d for d, _ in _runs(out)] == [date(2026, 9, 3)]


def test_the_sensor_waits_for_a_partition_that_arrives_late(dag, metadata_db, variables, tmp_path):
    inp = _copy_sample(tmp_path / "in", [])
    out = tmp_path / "out"
    variables(flexbatch_input=str(inp), flexbatch_output=str(out))
    arrival = threading.Timer(
        4, lambda: _copy_sample(inp, ["2026-09-02"])
    )  # while the sensor is rescheduled
    arrival.start()
    try:
        run = dag.test(logical_date=datetime(2026, 9, 3, 2, tzinfo=UTC))
    finally:
        arrival.cancel()
    assert run.state == "success", _states(run)
    assert [d for d, _ in _runs(out)] == [date(2026, 9, 2)]


def test_past_the_deadline_the_wait_fails_and_the_hook_fires(
    dag, metadata_db, variables, tmp_path, monkeypatch
):
    monkeypatch.setattr(dag.task_dict["wait_for_usage"], "timeout", 3)
    inp = _copy_sample(tmp_path / "in", [])
    out = tmp_path / "out"
    failures = variables(flexbatch_input=str(inp), flexbatch_output=str(out))
    run = dag.test(logical_date=datetime(2026, 9, 3, 2, tzinfo=UTC))
    assert run.state == "failed"
    states = _states(run)
    assert states["wait_for_usage"] == "failed"
    assert states["flexbatch_run"] == "upstream_failed"  # exit 3 is never retried
    [record] = [json.loads(line) for line in failures.read_text().splitlines()]
    assert record["task_id"] == "wait_for_usage"
    assert record["dag_id"] == DAG_ID


FAKE_BIN = """#!/usr/bin/env bash
# a stand-in flexbatch: record the arguments, exit with the next code of CODES
echo "$*" >> "{calls}"
n=$(wc -l < "{calls}")
codes=({codes})
code=${{codes[$((n - 1))]:-0}}
echo "flexbatch: stand-in exit $code" >&2
exit "$code"
"""


def _fake_bin(tmp_path: Path, codes: list[int]) -> tuple[Path, Path]:
    calls = tmp_path / "calls.txt"
    script = tmp_path / "fake-flexbatch"
    script.write_text(FAKE_BIN.format(calls=calls, codes=" ".join(map(str, codes))))
    script.chmod(0o755)
    return script, calls


def test_exit_2_fails_at_once_without_retry(dag, metadata_db, variables, tmp_path):
    script, calls = _fake_bin(tmp_path, [2, 2, 2, 2])
    inp = _copy_sample(tmp_path / "in", ["2026-09-02"])
    failures = variables(
        flexbatch_bin=str(script), flexbatch_input=str(inp), flexbatch_output=str(tmp_path / "o")
    )
    run = dag.test(logical_date=datetime(2026, 9, 3, 2, tzinfo=UTC))
    assert run.state == "failed"
    assert calls.read_text().splitlines() == [
        f"--log-level info run --since-changed --input {inp} --output {tmp_path / 'o'} "
        "--engine duckdb"
    ]  # one call: no retry
    assert _tries(run)["since_changed"] == 1
    assert _states(run)["flexbatch_run"] == "upstream_failed"
    [record] = [json.loads(line) for line in failures.read_text().splitlines()]
    assert record["task_id"] == "since_changed" and "exit 2" in record["error"]
    assert "stand-in exit 2" in record["error"]  # flexbatch's own line reaches the alert


def test_exit_4_is_retried_until_the_lock_is_free(dag, metadata_db, variables, tmp_path):
    script, calls = _fake_bin(tmp_path, [4, 0, 4, 4, 0])
    inp = _copy_sample(tmp_path / "in", ["2026-09-02"])
    failures = variables(
        flexbatch_bin=str(script),
        flexbatch_input=str(inp),
        flexbatch_output=str(tmp_path / "o"),
        flexbatch_metrics_file=str(tmp_path / "flexbatch.prom"),
    )
    run = dag.test(logical_date=datetime(2026, 9, 3, 2, tzinfo=UTC))
    assert run.state == "success", _states(run)
    lines = calls.read_text().splitlines()
    assert [line.split(" --input")[0] for line in lines] == [
        "--log-level info run --since-changed",
        "--log-level info run --since-changed",
        "--log-level info run --date 2026-09-02",
        "--log-level info run --date 2026-09-02",
        "--log-level info run --date 2026-09-02",
    ]
    assert _tries(run) == {"since_changed": 2, "wait_for_usage": 1, "flexbatch_run": 3}
    assert not failures.exists()  # retries are not failures


def test_a_relative_path_is_refused(dag, metadata_db, variables, tmp_path):
    """Tasks run in a temporary folder: a relative IN would silently mean another one."""
    script, calls = _fake_bin(tmp_path, [0])
    failures = variables(flexbatch_bin=str(script), flexbatch_input="in", flexbatch_output="/o")
    run = dag.test(logical_date=datetime(2026, 9, 3, 2, tzinfo=UTC))
    assert run.state == "failed"
    assert not calls.exists()
    assert _tries(run)["since_changed"] == 1
    assert "absolute" in json.loads(failures.read_text().splitlines()[0])["error"]
