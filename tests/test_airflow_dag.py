"""The Airflow 3 DAG (jobs/airflow/flexbatch_nightly.py) under real Apache Airflow.

Skipped where Airflow is not importable (the main test environment); `.ci/setup-airflow.sh`
installs Airflow in `.venv-airflow` and runs this file there, with
FLEXBATCH_REQUIRE_AIRFLOW=1 so a broken install fails instead of skipping.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DAG_FOLDER = REPO / "jobs" / "airflow"
SAMPLE = REPO / "data"
DAG_ID = "flexbatch_nightly"
BIN = Path(sys.executable).parent

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
from airflow.providers.standard.operators.bash import BashOperator  # noqa: E402

from flexbatch.storage.publish import processed_days  # noqa: E402

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
    # a manual trigger an afternoon later still means the day before it
    manual = timetable.infer_manual_data_interval(run_after=datetime(2026, 9, 3, 15, tzinfo=UTC))
    assert manual.start.date() == date(2026, 9, 2)


def test_one_bash_task_passes_the_date_through_the_environment(dag):
    assert [t.task_id for t in dag.tasks] == ["flexbatch_run"]
    task = dag.tasks[0]
    assert isinstance(task, BashOperator)
    assert task.retries >= 1
    assert task.retry_delay > timedelta(0)
    assert task.append_env is True
    date_template = task.env["FLEXBATCH_DATE"]
    assert date_template.startswith("{{ (data_interval_start |")  # never the trigger's ds
    assert date_template.endswith(" | ds }}")
    for name in ("FLEXBATCH_INPUT", "FLEXBATCH_OUTPUT", "FLEXBATCH_BIN", "FLEXBATCH_ENGINE"):
        assert f"var.value.get('{name.lower()}'" in task.env[name]
    # the command is constant: no template, no conf, every value a quoted variable
    assert "{{" not in task.bash_command and "{%" not in task.bash_command
    assert "conf" not in task.bash_command
    assert '"$FLEXBATCH_BIN"' in task.bash_command
    assert 'run --date "$FLEXBATCH_DATE"' in task.bash_command
    assert not any("conf" in value for value in task.env.values())


def _copy_sample(root: Path, days: list[str]) -> Path:
    root.mkdir(parents=True)
    for name in ("rate_plans.toml", "grants.csv", "transfers.csv"):
        shutil.copy2(SAMPLE / name, root / name)
    for day in days:
        shutil.copytree(SAMPLE / "usage" / f"date={day}", root / "usage" / f"date={day}")
    return root


@pytest.fixture
def sample_run(dag, tmp_path, monkeypatch):
    """Sample input and an empty OUT, handed to the DAG through Airflow Variables (the
    environment backend), with this environment's flexbatch. No retries: dag.test()
    would wait out the retry delay of a failed task instead of failing."""
    monkeypatch.setattr(dag.tasks[0], "retries", 0)
    inp = _copy_sample(tmp_path / "in", ["2026-09-01", "2026-09-02", "2026-09-03"])
    out = tmp_path / "out"
    monkeypatch.setenv("AIRFLOW_VAR_FLEXBATCH_INPUT", str(inp))
    monkeypatch.setenv("AIRFLOW_VAR_FLEXBATCH_OUTPUT", str(out))
    monkeypatch.setenv("AIRFLOW_VAR_FLEXBATCH_BIN", str(BIN / "flexbatch"))
    return out


def test_dag_test_run_processes_the_utc_day_before_the_trigger(
    dag, metadata_db, sample_run, tmp_path
):
    out = sample_run
    marker = tmp_path / "injected"

    run = dag.test(
        logical_date=datetime(2026, 9, 3, 2, tzinfo=UTC),
        # a hostile conf must reach no shell
        run_conf={"date": f"2026-09-01; touch {marker}", "output": f"$(touch {marker})"},
    )

    assert run.state == "success"
    assert run.data_interval_start.date() == date(2026, 9, 2)
    assert processed_days(out) == [date(2026, 9, 2)]  # the day before, not 09-03
    runs = read_table(out, "runs")
    assert runs["command"].to_list() == ["run"]
    assert runs["date"].to_list() == [date(2026, 9, 2)]
    assert read_table(out, "charges").height > 0
    assert not marker.exists()
    assert not (out / "_staging").exists()


def test_manual_run_without_a_logical_date_processes_the_day_before_it(
    dag, metadata_db, sample_run
):
    """``airflow dags trigger`` without --logical-date: no data interval at all."""
    run = dag.test(logical_date=None, run_after=datetime(2026, 9, 4, 9, 30, tzinfo=UTC))

    assert run.state == "success"
    assert run.logical_date is None and run.data_interval_start is None
    assert processed_days(sample_run) == [date(2026, 9, 3)]
