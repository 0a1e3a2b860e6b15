#!/usr/bin/env bash
# Starts the local stack, runs the test suite against it, stops the stack (always).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
started=1  # the spec: nothing is left running after `make test`
cleanup() { if [[ $started == 1 ]]; then deploy/stack.sh down >&2 || true; fi; }
trap cleanup EXIT INT TERM
env_lines=$(deploy/stack.sh up) || { echo "stack failed to start" >&2; exit 1; }
eval "$env_lines"
# Alertmanager for tests/streams/test_notify.py: built once from its Go module, cached.
DRIFTLINE_ALERTMANAGER_BIN=$(deploy/build-alertmanager.sh) || { echo "alertmanager build failed" >&2; exit 1; }
export DRIFTLINE_ALERTMANAGER_BIN
# Prometheus for tests/streams/test_prometheus.py: likewise (about 3 minutes the first time).
DRIFTLINE_PROMETHEUS_BIN=$(deploy/build-prometheus.sh) || { echo "prometheus build failed" >&2; exit 1; }
export DRIFTLINE_PROMETHEUS_BIN
# Headless Chromium for tests/streams/commands/test_report_stack.py (Debian's package; it renders
# the report and screenshots it). Installed once; root in CI containers, sudo elsewhere.
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium for the report test (apt-get)" >&2
  as_root=(); [[ $(id -u) == 0 ]] || as_root=(sudo)
  { "${as_root[@]}" apt-get update -qq &&
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >&2 \
    || { echo "chromium install failed (apt-get install chromium)" >&2; exit 1; }
fi
# In CI every run keeps its temp dirs (worker logs of failed fault runs) where later pytest
# sessions do not rotate them away.
if [[ -n "${CI:-}" ]]; then
  basetemp="/tmp/driftline-ci-$(date +%Y%m%d-%H%M%S)"
  set -- --basetemp="$basetemp" "$@"
fi
"$PY" -m pytest "$@"
rc=$?
if [[ $rc != 0 && -n "${basetemp:-}" ]]; then echo "test temp dirs (worker logs) kept in $basetemp" >&2; fi
if [[ $rc == 5 ]]; then echo "no tests were collected" >&2; fi
exit $rc
