#!/usr/bin/env bash
# Throughput benchmark (`make bench`): starts the local stack if needed, runs bench/throughput.py,
# prints its table.  Arguments go to the benchmark, e.g. `deploy/run-bench.sh --events 100000`;
# BENCH_ARGS works too (`BENCH_ARGS="--events 100000" make bench`).  BENCH_MODULE runs another
# benchmark that needs the stack instead (`BENCH_MODULE=bench.sdk deploy/run-bench.sh`).
# The stack is stopped at the end only if this script started it (if it was fully stopped before);
# a stack that was running, even partly, is left running.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
began=$SECONDS

status_out=$(deploy/stack.sh status 2>/dev/null)
stop_after=0
if [[ $(grep -cE '^(kafka|influxdb): +stopped' <<<"$status_out") == 2 ]]; then stop_after=1; fi

cleanup() {
  if [[ $stop_after == 1 ]]; then
    echo "stopping the stack (this bench started it)" >&2
    deploy/stack.sh down >&2 || true
  fi
  echo "whole bench (with stack start/stop) took $(( SECONDS - began )) s" >&2
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

env_lines=$(deploy/stack.sh up) || { echo "stack failed to start" >&2; exit 1; }
eval "$env_lines"

# shellcheck disable=SC2086  # BENCH_ARGS is split on purpose
"$PY" -m "${BENCH_MODULE:-bench.throughput}" ${BENCH_ARGS:-} "$@"
