#!/usr/bin/env bash
# Nightly entry point for cron: late data, then the UTC day that just ended.
#
#   1. flexbatch run --since-changed   late or replaced files of processed days
#   2. wait for IN/usage/date=D/       every FLEXBATCH_WAIT_POKE seconds (300), until
#                                      FLEXBATCH_WAIT_DEADLINE seconds (36000) have passed
#   3. flexbatch run --date D          D = yesterday in UTC (or FLEXBATCH_DATE)
#
# Exits 1 and 4 (unexpected error; another run holds the lock) are retried
# FLEXBATCH_RETRIES times (3), FLEXBATCH_RETRY_DELAY seconds apart (600); exits 2 (bad
# configuration) and 3 (partition missing) are not: a retry cannot fix them. On a failure
# the executable FLEXBATCH_ON_FAILURE, if set, is called with the step, the exit code and
# the day as arguments (never through a shell), then the script exits with that code.
#
# cron starts jobs in $HOME: nothing here depends on the working folder. FLEXBATCH_INPUT
# and FLEXBATCH_OUTPUT must be absolute paths or URIs (or FLEXBATCH_CONFIG an absolute
# flexbatch.toml, with FLEXBATCH_INPUT still set for the wait). FLEXBATCH_BIN is the
# flexbatch executable (default: flexbatch on PATH); FLEXBATCH_METRICS_FILE, when set, is
# the Prometheus textfile flexbatch rewrites after each command; FLEXBATCH_CLOSE_AFTER_DAYS,
# when set, makes each run close the months whose last day is that many days behind.
set -uo pipefail

bin="${FLEXBATCH_BIN:-flexbatch}"
day="${FLEXBATCH_DATE:-$(date -u -d 'yesterday' +%F)}"
poke="${FLEXBATCH_WAIT_POKE:-300}"
deadline="${FLEXBATCH_WAIT_DEADLINE:-36000}"
retries="${FLEXBATCH_RETRIES:-3}"
delay="${FLEXBATCH_RETRY_DELAY:-600}"

log() { echo "$(date -u +%FT%TZ) nightly: $*" >&2; }

fail() {  # step, exit code
    log "$1 failed with exit $2 for $day"
    if [ -n "${FLEXBATCH_ON_FAILURE:-}" ]; then
        "$FLEXBATCH_ON_FAILURE" "$1" "$2" "$day" || log "FLEXBATCH_ON_FAILURE failed"
    fi
    exit "$2"
}

absolute() {  # name, value: an absolute path or a URI
    case "$2" in
        /* | *://*) ;;
        *) log "$1=$2 is not an absolute path or a URI (cron runs in \$HOME)"; fail config 2 ;;
    esac
}

: "${FLEXBATCH_INPUT:?set FLEXBATCH_INPUT to the absolute input folder}"
absolute FLEXBATCH_INPUT "$FLEXBATCH_INPUT"
[ -n "${FLEXBATCH_OUTPUT:-}" ] && absolute FLEXBATCH_OUTPUT "$FLEXBATCH_OUTPUT"
[ -n "${FLEXBATCH_CONFIG:-}" ] && absolute FLEXBATCH_CONFIG "$FLEXBATCH_CONFIG"

flexbatch() {  # step, arguments...: retried on exits 1 and 4
    local step="$1" attempt=0 code
    shift
    while :; do
        "$bin" --log-level info run "$@"
        code=$?
        case "$code" in
            0) return 0 ;;
            1 | 4) ;;
            *) fail "$step" "$code" ;;
        esac
        attempt=$((attempt + 1))
        [ "$attempt" -gt "$retries" ] && fail "$step" "$code"
        log "$step: exit $code, retry $attempt of $retries in ${delay}s"
        sleep "$delay"
    done
}

partition_present() {
    local folder="${FLEXBATCH_INPUT%/}/usage/date=$day"
    case "$folder" in
        *://*) "${FLEXBATCH_HADOOP_BIN:-hadoop}" fs -test -d "$folder" ;;
        *) [ -d "$folder" ] ;;
    esac
}

flexbatch since_changed --since-changed

waited=0
until partition_present; do
    if [ "$waited" -ge "$deadline" ]; then
        log "usage partition for $day still missing after ${waited}s"
        fail wait 3
    fi
    sleep "$poke"
    waited=$((waited + poke))
done

flexbatch run --date "$day"
