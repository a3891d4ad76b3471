#!/usr/bin/env bash
# Nightly entry point for cron: process the UTC day that just ended.
# FLEXBATCH_INPUT / FLEXBATCH_OUTPUT (or flexbatch.toml in the working directory) say where.
# FLEXBATCH_BIN overrides the flexbatch executable (default: the one on PATH).
set -euo pipefail
day="${FLEXBATCH_DATE:-$(date -u -d 'yesterday' +%F)}"
exec "${FLEXBATCH_BIN:-flexbatch}" --log-level info run --date "$day" "$@"
