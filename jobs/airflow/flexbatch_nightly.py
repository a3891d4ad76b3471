"""flexbatch nightly: late data, then the UTC day that just ended, at 02:00 UTC.

Three tasks, each a call of the same CLI as the crontab (SPEC §2), no logic of its own:

1. ``since_changed``: ``flexbatch run --since-changed`` recomputes from the earliest
   processed day whose inputs or configuration changed (late or replaced usage files, new
   grants), so late data is picked up every night without a person;
2. ``wait_for_usage``: a sensor (``mode="reschedule"``: it frees its worker slot between
   looks) that waits for the day's partition ``IN/usage/date=D/`` every 5 minutes, up to a
   deadline of 10 hours; past it the task fails and the failure hook fires. An empty
   partition folder is a day with zero usage (SPEC §2), so the folder is the signal;
3. ``flexbatch_run``: ``flexbatch run --date D``, which recomputes D and every later
   processed day, so a retry or a rerun leaves OUT equal to a clean backfill.

Exit codes decide retries (only what can succeed later is retried): 1 (unexpected, e.g. a
full disk or a lost connection) and 4 (another run holds the output lock) are retried
3 times; 2 (bad configuration) and 3 (the partition is missing although the sensor saw
it: someone removed it) fail at once, since a retry would only delay the alert.
``notify_failure`` runs when a task has failed for good: it logs one error line and, when
the Variable ``flexbatch_failure_log`` names a file, appends a JSON line to it; add a
notifier of your own next to it (``on_failure_callback=[notify_failure, SlackNotifier(...)]``).

Which day. Airflow 3 turns a plain cron string into a ``CronTriggerTimetable`` without an
interval, whose logical date is the trigger's own date. Here the timetable has
``interval=timedelta(days=1)``, so a run's data interval is [trigger - 1 day, trigger) and
the day is ``data_interval_start``: 2026-09-02 for the run fired at 2026-09-03T02:00Z,
for scheduled, backfill and manual runs alike. ``airflow dags trigger`` without
``--logical-date`` makes a run with no data interval: the day is then counted back one day
from the moment the run was triggered (``dag_run.run_after``).

Nothing is read when the file is parsed (in Airflow 3 the dag-processor parses it, not the
worker, and its environment is not the worker's). At run time each task reads the Airflow
Variables below and calls flexbatch with an argument list, never through a shell, and with
absolute paths, never relying on the working folder; ``dag_run.conf`` is never read, so a
trigger's conf cannot reach a command.

- ``flexbatch_input`` / ``flexbatch_output``: absolute folders or Hadoop URIs (defaults
  ``/srv/flexbatch/in``, ``/srv/flexbatch/out``);
- ``flexbatch_bin``: the flexbatch executable, absolute (default ``flexbatch`` on the
  worker's PATH), or ``jobs/spark/spark-submit.sh`` with ``flexbatch_engine = spark``;
- ``flexbatch_engine`` (default ``duckdb``);
- ``flexbatch_metrics_file``: passed on as ``FLEXBATCH_METRICS_FILE`` (the Prometheus
  textfile flexbatch writes at the end of each command);
- ``flexbatch_close_after_days``: passed on as ``FLEXBATCH_CLOSE_AFTER_DAYS``: each run
  ends by closing the months whose last day is that many days behind (unset: never);
- ``flexbatch_hadoop_bin``: how the sensor looks at a URI input (``hadoop fs -test -d``;
  default ``hadoop``);
- ``flexbatch_failure_log``: the file ``notify_failure`` appends to (optional).

Catch-up and backfill. ``catchup=False``: a paused or new DAG does not queue one run per
missed night. Fill gaps with ``flexbatch backfill --from D1 --to D2`` (one process, linear
in days), or ``airflow backfill create --dag-id flexbatch_nightly --from-date D1+1
--to-date D2+2`` (the range is of trigger times; see jobs/README.md).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import PurePosixPath

from airflow.sdk import DAG, CronTriggerTimetable, Variable, get_current_context, task
from airflow.sdk.exceptions import AirflowException, AirflowFailException

DAG_ID = "flexbatch_nightly"
log = logging.getLogger(__name__)

DEFAULTS = {
    "flexbatch_input": "/srv/flexbatch/in",
    "flexbatch_output": "/srv/flexbatch/out",
    "flexbatch_bin": "flexbatch",
    "flexbatch_engine": "duckdb",
    "flexbatch_hadoop_bin": "hadoop",
}
WAIT_POKE = timedelta(minutes=5)
WAIT_DEADLINE = timedelta(hours=10)  # from 02:00 UTC: the day's data is due by noon
RETRYABLE = {1: "unexpected error", 4: "another run holds the output lock"}
FINAL = {2: "bad arguments or configuration", 3: "the usage partition is missing"}


def setting(name: str) -> str:
    """An Airflow Variable, read when a task runs, else its default."""
    value = Variable.get(name, default=DEFAULTS.get(name, ""))
    return str(value).strip()


def is_uri(value: str) -> bool:
    return "://" in value


def location(name: str) -> str:
    """``flexbatch_input``/``flexbatch_output``: an absolute path or a URI, since a task's
    working folder is a temporary one."""
    value = setting(name)
    if not (is_uri(value) or PurePosixPath(value).is_absolute()):
        raise AirflowFailException(
            f"Variable {name} = {value!r} is not an absolute path or a URI; fix: set it "
            "to an absolute folder (tasks run in a temporary working folder)"
        )
    return value


def utc_day() -> date:
    """The UTC day that just ended: the data interval's start, else (a run triggered
    without a logical date has no data interval) the day before the trigger time."""
    context = get_current_context()
    start = context.get("data_interval_start")
    if start is None:
        start = context["dag_run"].run_after - timedelta(days=1)
    return start.astimezone(UTC).date()


def flexbatch(*arguments: str) -> None:
    """Run ``flexbatch ARGUMENTS`` on IN and OUT (an argument list: no shell), its output
    in the task log; fail for good on exits that a retry cannot fix."""
    argv = [
        setting("flexbatch_bin"),
        "--log-level",
        "info",
        *arguments,
        "--input",
        location("flexbatch_input"),
        "--output",
        location("flexbatch_output"),
        "--engine",
        setting("flexbatch_engine"),
    ]
    env = dict(os.environ)
    metrics = setting("flexbatch_metrics_file")
    if metrics:
        env["FLEXBATCH_METRICS_FILE"] = metrics
    close_after = setting("flexbatch_close_after_days")
    if close_after:  # the unattended close: months N days past their end (SPEC §8)
        env["FLEXBATCH_CLOSE_AFTER_DAYS"] = close_after
    log.info("running %s", argv)
    last = ""
    with subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        for line in proc.stdout:
            line = line.rstrip()
            log.info("%s", line)
            last = line or last
    code = proc.returncode
    if code == 0:
        return
    if code in FINAL:
        raise AirflowFailException(f"flexbatch exit {code} ({FINAL[code]}), no retry: {last}")
    raise AirflowException(f"flexbatch exit {code} ({RETRYABLE.get(code, 'killed')}): {last}")


def partition_present(day: date) -> bool:
    """Whether ``IN/usage/date=D/`` exists (a local folder, or a URI through hadoop fs)."""
    root = location("flexbatch_input")
    folder = f"{root.rstrip('/')}/usage/date={day.isoformat()}"
    if is_uri(root):
        argv = [setting("flexbatch_hadoop_bin"), "fs", "-test", "-d", folder]
        found = subprocess.run(argv, capture_output=True, check=False).returncode == 0
    else:
        found = os.path.isdir(folder)
    log.info("%s: %s", folder, "present" if found else "not yet")
    return found


def notify_failure(context) -> None:
    """The failure hook: one error line, and a JSON line in ``flexbatch_failure_log``."""
    ti = context["ti"]
    record = {
        "dag_id": ti.dag_id,
        "task_id": ti.task_id,
        "run_id": ti.run_id,
        "try_number": ti.try_number,
        "error": str(context.get("exception") or "unknown"),
    }
    log.error("flexbatch nightly failed: %s", json.dumps(record))
    path = setting("flexbatch_failure_log")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


with DAG(
    dag_id=DAG_ID,
    description="flexbatch: late data, then the UTC day that just ended",
    schedule=CronTriggerTimetable("0 2 * * *", timezone="UTC", interval=timedelta(days=1)),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": 3,
        "retry_delay": timedelta(minutes=10),
        "retry_exponential_backoff": True,
        "execution_timeout": timedelta(hours=6),
        "on_failure_callback": notify_failure,
    },
    tags=["flexbatch", "billing"],
    doc_md=__doc__,
) as dag:

    @task
    def since_changed() -> None:
        """Recompute from the earliest stale day (late or replaced inputs)."""
        flexbatch("run", "--since-changed")

    @task.sensor(
        poke_interval=WAIT_POKE.total_seconds(),
        timeout=WAIT_DEADLINE.total_seconds(),
        mode="reschedule",
        retries=0,  # the deadline is final; a retry would restart the clock
    )
    def wait_for_usage() -> bool:
        """Wait for the day's usage partition, until the deadline."""
        return partition_present(utc_day())

    @task
    def flexbatch_run() -> None:
        """Process the UTC day that just ended, then every later processed day."""
        flexbatch("run", "--date", utc_day().isoformat())

    since_changed() >> wait_for_usage() >> flexbatch_run()
