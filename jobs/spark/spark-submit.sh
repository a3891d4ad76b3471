#!/usr/bin/env bash
# flexbatch on a Spark cluster: the same arguments as the flexbatch command, run through
# spark-submit (client mode: the driver publishes into OUT and holds its lock).
# SPARK_SUBMIT (default: spark-submit on PATH) and FLEXBATCH_SPARK_SUBMIT_ARGS (default:
# --master yarn --deploy-mode client) choose the cluster, e.g.
#   FLEXBATCH_SPARK_SUBMIT_ARGS="--master yarn --num-executors 8 --executor-cores 4
#     --executor-memory 8g --conf spark.sql.shuffle.partitions=64"
# A usable FLEXBATCH_BIN for jobs/nightly.sh and the Airflow DAG.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck disable=SC2086  # the submit arguments are a list of words on purpose
exec "${SPARK_SUBMIT:-spark-submit}" ${FLEXBATCH_SPARK_SUBMIT_ARGS:---master yarn --deploy-mode client} \
    "$here/flexbatch_driver.py" "$@"
