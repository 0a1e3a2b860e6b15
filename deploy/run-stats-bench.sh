#!/usr/bin/env bash
# Statistics benchmark: cost per drift statistic and one window against Evidently's DataDriftPreset
# (bench/statistics.py). Needs no Kafka/InfluxDB, only the venv with the test extra (Evidently):
#   .venv/bin/pip install -e '.[test]'
# Arguments go to the benchmark, e.g. `deploy/run-stats-bench.sh --repeats 9 --no-evidently`;
# STATS_BENCH_ARGS works too.
set -euo pipefail
cd "$(dirname "$0")/.."
began=$SECONDS
# shellcheck disable=SC2086  # STATS_BENCH_ARGS is split on purpose
.venv/bin/python -m bench.statistics ${STATS_BENCH_ARGS:-} "$@"
echo "statistics bench took $(( SECONDS - began )) s" >&2
