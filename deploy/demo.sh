#!/usr/bin/env bash
# make demo: stack, worker, reference profiles, a simulated inference service; windows and alerts
# appear in this terminal. Ctrl-C stops everything this script started.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN="$ROOT/.venv/bin"
DEMO_DIR="${DRIFTLINE_DEMO_DIR:-$HOME/.cache/driftline/demo}"
export DRIFTLINE_WINDOW_SECONDS="${DRIFTLINE_WINDOW_SECONDS:-20}"
SHIFT_AFTER="${DRIFTLINE_DEMO_SHIFT_AFTER:-60}"
SHIFT_FOR="${DRIFTLINE_DEMO_SHIFT_FOR:-$(( ${DRIFTLINE_WINDOW_SECONDS%.*} * 4 ))}"  # four windows of drift, then it is over
REPORT="$DEMO_DIR/report.html"
pids=()
simulating=0
stack_was_up=0
deploy/stack.sh status >/dev/null 2>&1 && stack_was_up=1

stop_all() {
  trap - INT TERM EXIT
  echo; echo "stopping the demo..."
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  # The report reads InfluxDB and the alerts topic, so it is written before the stack goes down.
  if [[ $simulating == 1 ]]; then
    echo "writing the report of model 'fraud' (last hour) to $REPORT"
    "$BIN/driftline" report --model fraud --since 1h -o "$REPORT" || echo "(no report written)"
  fi
  if [[ $stack_was_up == 0 ]]; then deploy/stack.sh down; fi
  echo "stopped."
}
trap stop_all INT TERM EXIT

env_lines=$(deploy/stack.sh up) || exit 1
eval "$env_lines"
mkdir -p "$DEMO_DIR"
echo "== reference data and profiles"
"$BIN/driftline" simulate --reference-dir "$DEMO_DIR" || exit 1
for model in fraud churn; do
  "$BIN/driftline" profile build "$DEMO_DIR/$model.csv" --model "$model" --publish -o "$DEMO_DIR/$model.profile.json" || exit 1
done

echo "== starting the worker (windows of ${DRIFTLINE_WINDOW_SECONDS} s; log: $DEMO_DIR/worker.log)"
setsid "$BIN/driftline" worker >"$DEMO_DIR/worker.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do grep -q "Ready" "$DEMO_DIR/worker.log" 2>/dev/null && break; sleep 0.5; done
grep -q "Ready" "$DEMO_DIR/worker.log" || { echo "the worker did not start:"; tail -20 "$DEMO_DIR/worker.log"; exit 1; }

setsid bash -c "tail -n0 -F '$DEMO_DIR/worker.log' | grep --line-buffered -E 'window closed|incident|ERROR|CRITICAL' | sed -u -E 's/^\[[0-9-]+ ([0-9:]+),[0-9]+\] \[[0-9]+\] \[[A-Z]+\] /\1  /'" &
pids+=($!)
setsid "$BIN/driftline" alerts --pretty &
pids+=($!)

cat <<INFO
== simulating two models; 'fraud' shifts its 'amount' after ${SHIFT_AFTER} s for ${SHIFT_FOR} s, so
   expect one alert for the first window after that and one 'resolved' two windows after it ends.
   Look at it from another terminal in ${ROOT} (its .driftline.env has the stack's settings):
     status: ${BIN}/driftline status --watch
     report: ${BIN}/driftline report --model fraud --since 1h -o ${REPORT}   (one HTML file, opens offline)
   Results go to InfluxDB at ${DRIFTLINE_INFLUX_URL}:
     query:  curl -s ${DRIFTLINE_INFLUX_URL}/api/v2/query?org=${DRIFTLINE_INFLUX_ORG} \\
               -H "Authorization: Token \$DRIFTLINE_INFLUX_TOKEN" -H 'Content-Type: application/vnd.flux' \\
               -d 'from(bucket:"${DRIFTLINE_INFLUX_BUCKET}") |> range(start:-15m) |> filter(fn:(r)=> r._measurement=="feature_drift" and r._field=="psi")'
     alerts: ${BIN}/driftline alerts --from-beginning   (topic driftline.alerts)
   Press Ctrl-C to stop everything; a report of the run is then written to ${REPORT}.
INFO
simulating=1
"$BIN/driftline" simulate --shift-after "$SHIFT_AFTER" --shift-for "$SHIFT_FOR" &
pids+=($!)
wait "${pids[-1]}"
