"""flexbatch nightly: process the UTC day that just ended, at 02:00 UTC.

The DAG holds no logic of its own: one BashOperator runs ``flexbatch run --date D``, the
same command as the crontab (SPEC §2), which recomputes D and every later processed day,
so a retry or a rerun of any run leaves OUT equal to a clean backfill.

Which day. Airflow 3 turns a plain cron string into a ``CronTriggerTimetable`` without an
interval, whose logical date, ``{{ ds }}``, is the trigger's own date: the 02:00 run of
2026-09-03 would get 2026-09-03, a day that has barely begun. Here the timetable has
``interval=timedelta(days=1)``, so a run's data interval is [trigger - 1 day, trigger),
and the date passed on is ``data_interval_start | ds``: 2026-09-02, the UTC day that just
ended, for scheduled, backfill and manual runs alike (a manual run's logical date is the
moment it was triggered). ``airflow dags trigger`` without ``--logical-date`` makes a
run with no logical date and no data interval: it falls back to the same one-day
interval counted back from the moment the run was triggered (``dag_run.run_after``).

How the date gets there. Through the environment (``FLEXBATCH_DATE``), never by
interpolating ``dag_run.conf`` or any other template into the shell command: the command
is a constant string, and every value it uses is a quoted environment variable.

Configuration (Airflow Variables, else the scheduler's environment, else the default):

- ``flexbatch_input``  / ``FLEXBATCH_INPUT``  (default ``/srv/flexbatch/in``)
- ``flexbatch_output`` / ``FLEXBATCH_OUTPUT`` (default ``/srv/flexbatch/out``)
- ``flexbatch_bin``    / ``FLEXBATCH_BIN``    (default ``flexbatch`` on the worker's PATH)
- ``flexbatch_engine`` / ``FLEXBATCH_ENGINE`` (default ``duckdb``; ``spark`` with
  ``flexbatch_bin`` = ``jobs/spark/spark-submit.sh`` runs the day through spark-submit on
  the cluster that script's ``FLEXBATCH_SPARK_SUBMIT_ARGS`` name)

Catch-up and backfill. ``catchup=False``: a paused or new DAG does not queue one run per
missed night (it would recompute all later days once per run). Fill gaps instead with

- ``flexbatch backfill --from D1 --to D2`` (one process, each raw day read once, linear
  in days: the way to (re)build a range), or
- ``airflow backfill create --dag-id flexbatch_nightly --from-date D1+1 --to-date D2+2``:
  the range is of trigger times (02:00 UTC), each run processing the day before its own,
  and ``--to-date`` is an instant (a date means its midnight): to process 2026-09-01 ..
  2026-09-30 pass ``--from-date 2026-09-02 --to-date 2026-10-02``. ``--dry-run`` lists
  the runs; their ``logical_date`` (the data interval's start) is the day each processes.
  Runs go in date order, one at a time (``max_active_runs=1``); each also recomputes the
  days already processed after it, so prefer ``flexbatch backfill`` for long ranges.

A run that finds the output locked by another flexbatch process exits 4 and is retried;
a day whose usage partition has not arrived yet exits 3 and is retried too.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, CronTriggerTimetable

DAG_ID = "flexbatch_nightly"

# Defaults when no Airflow Variable is set: the scheduler's environment, else these.
DEFAULTS = {
    "flexbatch_default_input": os.environ.get("FLEXBATCH_INPUT", "/srv/flexbatch/in"),
    "flexbatch_default_output": os.environ.get("FLEXBATCH_OUTPUT", "/srv/flexbatch/out"),
    "flexbatch_default_bin": os.environ.get("FLEXBATCH_BIN", "flexbatch"),
    "flexbatch_default_engine": os.environ.get("FLEXBATCH_ENGINE", "duckdb"),
}

# The UTC day that just ended: the data interval's start, else (a manual run triggered
# without a logical date has no data interval) one interval before the trigger time.
DAY = (
    "{{ (data_interval_start | default(dag_run.run_after - macros.timedelta(days=1), true)) | ds }}"
)

# A constant command: the values come from the environment only, each one quoted.
COMMAND = '"$FLEXBATCH_BIN" --log-level info run --date "$FLEXBATCH_DATE"'

with DAG(
    dag_id=DAG_ID,
    description="flexbatch run for the UTC day that just ended",
    schedule=CronTriggerTimetable("0 2 * * *", timezone="UTC", interval=timedelta(days=1)),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    user_defined_macros=DEFAULTS,
    default_args={
        "retries": 3,
        "retry_delay": timedelta(minutes=15),
        "retry_exponential_backoff": True,
        "execution_timeout": timedelta(hours=6),
    },
    tags=["flexbatch", "billing"],
    doc_md=__doc__,
) as dag:
    BashOperator(
        task_id="flexbatch_run",
        bash_command=COMMAND,
        env={
            "FLEXBATCH_DATE": DAY,
            "FLEXBATCH_INPUT": "{{ var.value.get('flexbatch_input', flexbatch_default_input) }}",
            "FLEXBATCH_OUTPUT": (
                "{{ var.value.get('flexbatch_output', flexbatch_default_output) }}"
            ),
            "FLEXBATCH_BIN": "{{ var.value.get('flexbatch_bin', flexbatch_default_bin) }}",
            "FLEXBATCH_ENGINE": (
                "{{ var.value.get('flexbatch_engine', flexbatch_default_engine) }}"
            ),
        },
        append_env=True,
    )
