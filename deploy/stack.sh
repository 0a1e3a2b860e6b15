#!/usr/bin/env bash
# Single-node local stack for driftline, without Docker: Apache Kafka 4.1.1 (KRaft,
# broker+controller in one JVM) and InfluxDB 2.7.12, both bound to 127.0.0.1.
#
# Usage: deploy/stack.sh up|down|clean|status|env
#   up      fetch/build (cached), start what is not running, wait until healthy, set up Influx
#           once, then print `export NAME=VALUE` lines on stdout and write them to
#           $DRIFTLINE_ENV_FILE.  Idempotent.  `eval "$(deploy/stack.sh up)"` works: all
#           progress messages go to stderr.
#   down    stop both (SIGTERM, up to 15 s, then SIGKILL).  Idempotent.
#   clean   down, then delete $DRIFTLINE_STACK_DIR (all topics, offsets, Influx data).
#   status  say what runs; exit 0 when both run and are healthy, 3 otherwise.
#   env     print the export lines only.
#
# Settings (environment, with defaults):
#   DRIFTLINE_STACK_DIR              ~/.cache/driftline/stack  (data, logs, pid files)
#   DRIFTLINE_KAFKA_PORT             9092
#   DRIFTLINE_KAFKA_CONTROLLER_PORT  9093
#   DRIFTLINE_KAFKA_HEAP             512m
#   DRIFTLINE_INFLUX_PORT            8086
#   DRIFTLINE_INFLUX_ORG             driftline
#   DRIFTLINE_INFLUX_BUCKET          driftline
#   DRIFTLINE_INFLUX_TOKEN           driftline-dev-token
#   DRIFTLINE_INFLUX_USERNAME        driftline
#   DRIFTLINE_INFLUX_PASSWORD        driftline-password  (Influx wants >= 8 characters)
#   DRIFTLINE_ENV_FILE               <repo>/.driftline.env
#   DRIFTLINE_STACK_TIMEOUT          60  (seconds to wait for each service to become healthy)
#   DRIFTLINE_KAFKA_SASL_SSL_PORT    (unset)  also open a SASL_SSL listener (PLAIN) on this port, with a
#                                    test CA and broker key made by keytool in $DRIFTLINE_STACK_DIR/tls
#                                    (clients trust tls/ca.pem)
#   DRIFTLINE_STACK_SASL_USERNAME    driftline      the SASL user that listener accepts
#   DRIFTLINE_STACK_SASL_PASSWORD    driftline-sasl-password
#   DRIFTLINE_PYTHON                 <repo>/.venv/bin/python  (used for the Kafka metadata check)
#   DRIFTLINE_PROMETHEUS_PORT        (unset)  also start Prometheus (built once by deploy/build-prometheus.sh)
#                                    on this port, scraping the workers' /metrics every 2 s
#   DRIFTLINE_PROMETHEUS_TARGETS     127.0.0.1:9477  comma-separated host:port of the workers to scrape
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"

STACK_DIR="${DRIFTLINE_STACK_DIR:-$HOME/.cache/driftline/stack}"
KAFKA_PORT="${DRIFTLINE_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${DRIFTLINE_KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HEAP="${DRIFTLINE_KAFKA_HEAP:-512m}"
INFLUX_PORT="${DRIFTLINE_INFLUX_PORT:-8086}"
INFLUX_ORG="${DRIFTLINE_INFLUX_ORG:-driftline}"
INFLUX_BUCKET="${DRIFTLINE_INFLUX_BUCKET:-driftline}"
INFLUX_TOKEN="${DRIFTLINE_INFLUX_TOKEN:-driftline-dev-token}"
INFLUX_USERNAME="${DRIFTLINE_INFLUX_USERNAME:-driftline}"
INFLUX_PASSWORD="${DRIFTLINE_INFLUX_PASSWORD:-driftline-password}"
ENV_FILE="${DRIFTLINE_ENV_FILE:-$REPO/.driftline.env}"
TIMEOUT="${DRIFTLINE_STACK_TIMEOUT:-60}"
PYTHON="${DRIFTLINE_PYTHON:-$REPO/.venv/bin/python}"
SASL_SSL_PORT="${DRIFTLINE_KAFKA_SASL_SSL_PORT:-}"
SASL_USERNAME="${DRIFTLINE_STACK_SASL_USERNAME:-driftline}"
SASL_PASSWORD="${DRIFTLINE_STACK_SASL_PASSWORD:-driftline-sasl-password}"
PROMETHEUS_PORT="${DRIFTLINE_PROMETHEUS_PORT:-}"
PROMETHEUS_TARGETS="${DRIFTLINE_PROMETHEUS_TARGETS:-127.0.0.1:9477}"

BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
INFLUX_URL="http://127.0.0.1:$INFLUX_PORT"

KAFKA_DIR="$STACK_DIR/kafka"           # rendered config + data
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_CONF="$KAFKA_DIR/server.properties"
KAFKA_LOG4J="$KAFKA_DIR/log4j2.properties"
INFLUX_DIR="$STACK_DIR/influxdb"
PROMETHEUS_DIR="$STACK_DIR/prometheus"
PROMETHEUS_CONF="$PROMETHEUS_DIR/prometheus.yml"
INFLUX_BOLT="$INFLUX_DIR/influxd.bolt"
LOG_DIR="$STACK_DIR/logs"
RUN_DIR="$STACK_DIR/run"

STARTED=()       # components this invocation started (stopped again if `up` fails)

log() { echo "[stack] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

validate_settings() {
  local p
  for p in "$KAFKA_PORT" "$CONTROLLER_PORT" "$INFLUX_PORT"; do
    [[ "$p" =~ ^[0-9]+$ ]] && (( p > 0 && p < 65536 )) || die "invalid port '$p'"
  done
  [[ "$KAFKA_PORT" != "$CONTROLLER_PORT" && "$KAFKA_PORT" != "$INFLUX_PORT" && \
     "$CONTROLLER_PORT" != "$INFLUX_PORT" ]] || die "Kafka, controller and Influx ports must differ"
  [[ -n "$STACK_DIR" && "$STACK_DIR" != "/" ]] || die "DRIFTLINE_STACK_DIR must not be empty or /"
  (( ${#INFLUX_PASSWORD} >= 8 )) || die "DRIFTLINE_INFLUX_PASSWORD must have at least 8 characters"
  [[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die "invalid DRIFTLINE_STACK_TIMEOUT '$TIMEOUT'"
}

# ---------------------------------------------------------------- processes

# Is $1 a live (non-zombie) process?
is_alive() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [[ "${stat%% *}" != Z ]]
}

# Does pid $2 look like component $1 of *this* stack (so a recycled pid is not mistaken for it)?
matches() {
  local name="$1" pid="$2" a java=0 main=0 conf=0
  local -a args=()
  { mapfile -d '' -t args < "/proc/$pid/cmdline"; } 2>/dev/null || return 1
  (( ${#args[@]} )) || return 1
  case "$name" in
    kafka)
      [[ "${args[0]##*/}" == java ]] || return 1
      for a in "${args[@]}"; do
        [[ "$a" == kafka.Kafka ]] && main=1
        [[ "$a" == "$KAFKA_CONF" ]] && conf=1
      done
      (( main && conf )) ;;
    influxd)
      [[ "${args[0]##*/}" == influxd ]] || return 1
      for a in "${args[@]}"; do [[ "$a" == "$INFLUX_BOLT" ]] && conf=1; done
      (( conf )) ;;
    prometheus)
      [[ "${args[0]##*/}" == prometheus ]] || return 1
      for a in "${args[@]}"; do [[ "$a" == "--config.file=$PROMETHEUS_CONF" ]] && conf=1; done
      (( conf )) ;;
  esac
}

pid_file() { echo "$RUN_DIR/$1.pid"; }

# Print the pid of component $1 if it runs.  Removes stale pid files; adopts a running
# process of this stack whose pid file went missing.
component_pid() {
  local name="$1" pf pid f
  pf="$(pid_file "$name")"
  if [[ -f "$pf" ]]; then
    pid="$(tr -dc 0-9 < "$pf" 2>/dev/null || true)"
    if [[ -n "$pid" ]] && is_alive "$pid" && matches "$name" "$pid"; then echo "$pid"; return 0; fi
    log "removing stale pid file $pf"
    rm -f "$pf"
  fi
  for f in /proc/[0-9]*; do
    pid="${f#/proc/}"
    [[ "$pid" == "$$" || "$pid" == "$BASHPID" ]] && continue
    if matches "$name" "$pid" && is_alive "$pid"; then
      mkdir -p "$RUN_DIR"; echo "$pid" > "$pf"
      echo "$pid"; return 0
    fi
  done
  return 1
}

# Start "$@" detached (own session, stdin from /dev/null, output to $2), cwd = stack dir,
# and record its pid in the pid file of component $1.
start_detached() {
  local name="$1" logf="$2" pf i; shift 2
  pf="$(pid_file "$name")"
  rm -f "$pf"
  [[ -f "$logf" ]] && mv -f "$logf" "$logf.1"
  # bash writes its own pid, then execs the program, so the pid file holds the real pid.
  ( cd "$STACK_DIR" && exec nohup setsid bash -c 'echo $$ > "$0"; exec "$@"' "$pf" "$@" ) \
    >>"$logf" 2>&1 </dev/null &
  for (( i = 0; i < 50; i++ )); do [[ -s "$pf" ]] && break; sleep 0.1; done
  [[ -s "$pf" ]] || die "$name did not start (no pid file)"
  STARTED+=("$name")
  # The wrapper wrote the pid file just before exec'ing the program; wait for the exec.
  local pid; pid="$(tr -dc 0-9 < "$pf")"
  for (( i = 0; i < 50; i++ )); do
    matches "$name" "$pid" || ! is_alive "$pid" && break
    sleep 0.1
  done
}

stop_component() {
  local name="$1" pid i
  if ! pid="$(component_pid "$name")"; then
    rm -f "$(pid_file "$name")"
    log "$name is not running"
    return 0
  fi
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for (( i = 0; i < 150; i++ )); do is_alive "$pid" || break; sleep 0.1; done
  if is_alive "$pid"; then
    log "$name did not stop within 15 s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for (( i = 0; i < 50; i++ )); do is_alive "$pid" || break; sleep 0.1; done
    is_alive "$pid" && die "could not kill $name (pid $pid)"
  fi
  rm -f "$(pid_file "$name")"
  log "$name stopped"
}

# ---------------------------------------------------------------- ports & logs

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

port_owner() {
  local owner=""
  command -v ss >/dev/null && owner="$(ss -Hltnp "( sport = :$1 )" 2>/dev/null \
    | sed -n 's/.*users:(("\([^"]*\)",pid=\([0-9]*\).*/\1 (pid \2)/p' | head -n1 || true)"
  echo "${owner:-unknown process}"
}

require_free_port() {  # port what
  if port_open "$1"; then
    die "port $1 ($2) is already in use by $(port_owner "$1"); stop it or choose another port (see settings at the top of $0)"
  fi
}

show_log() {
  local f
  for f in "$@"; do
    [[ -s "$f" ]] || continue
    echo "----- last 30 lines of $f -----" >&2
    tail -n 30 "$f" >&2
  done
}

kafka_logs() { echo "$LOG_DIR/kafka.out" "$LOG_DIR/server.log"; }
influx_logs() { echo "$LOG_DIR/influxd.log"; }

fail() {  # component message
  log "ERROR: $2"
  # shellcheck disable=SC2046
  case "$1" in kafka) show_log $(kafka_logs) ;; influxd) show_log $(influx_logs) ;; esac
  exit 1
}

on_exit() {
  local rc=$? c
  if (( rc != 0 && ${#STARTED[@]} )); then
    log "up failed: stopping what this run started (${STARTED[*]})"
    for c in "${STARTED[@]}"; do stop_component "$c" || true; done
  fi
  exit "$rc"
}

# ---------------------------------------------------------------- env lines

env_lines() {
  printf 'export %s=%q\n' \
    DRIFTLINE_BOOTSTRAP_SERVERS "$BOOTSTRAP" \
    DRIFTLINE_INFLUX_URL "$INFLUX_URL" \
    DRIFTLINE_INFLUX_TOKEN "$INFLUX_TOKEN" \
    DRIFTLINE_INFLUX_ORG "$INFLUX_ORG" \
    DRIFTLINE_INFLUX_BUCKET "$INFLUX_BUCKET"
  [[ -z "$PROMETHEUS_PORT" ]] || printf 'export %s=%q\n' DRIFTLINE_PROMETHEUS_URL "http://127.0.0.1:$PROMETHEUS_PORT"
}

# ---------------------------------------------------------------- Kafka

render_kafka_config() {
  local t
  t="$(< "$HERE/kafka/server.properties.in")"
  t="${t//@KAFKA_PORT@/"$KAFKA_PORT"}"
  t="${t//@CONTROLLER_PORT@/"$CONTROLLER_PORT"}"
  t="${t//@LOG_DIRS@/"$KAFKA_DATA"}"
  if [[ -n "$SASL_SSL_PORT" ]]; then
    make_tls
    t="${t//$'\nlisteners=PLAINTEXT://127.0.0.1:'"$KAFKA_PORT"/$'\nlisteners=PLAINTEXT://127.0.0.1:'"$KAFKA_PORT,SASL_SSL://127.0.0.1:$SASL_SSL_PORT"}"
    t="${t//$'\nadvertised.listeners=PLAINTEXT://127.0.0.1:'"$KAFKA_PORT"/$'\nadvertised.listeners=PLAINTEXT://127.0.0.1:'"$KAFKA_PORT,SASL_SSL://127.0.0.1:$SASL_SSL_PORT"}"
    t="${t//CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT/CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL}"
    t+=$'\n'"sasl.enabled.mechanisms=PLAIN"
    t+=$'\n'"listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"$SASL_USERNAME\" password=\"$SASL_PASSWORD\" user_$SASL_USERNAME=\"$SASL_PASSWORD\";"
    t+=$'\n'"ssl.keystore.type=PKCS12"
    t+=$'\n'"ssl.keystore.location=$STACK_DIR/tls/broker.p12"
    t+=$'\n'"ssl.keystore.password=$TLS_STORE_PASSWORD"
    t+=$'\n'"ssl.key.password=$TLS_STORE_PASSWORD"
  fi
  printf '%s\n' "$t" > "$KAFKA_CONF"
  cp "$HERE/kafka/log4j2.properties" "$KAFKA_LOG4J"
}

TLS_STORE_PASSWORD="driftline-test-store"
# A throwaway CA and a broker key signed by it (keytool, from the JDK), made once per stack dir.
make_tls() {
  local dir="$STACK_DIR/tls" kt=(keytool -storetype PKCS12 -storepass "$TLS_STORE_PASSWORD" -keypass "$TLS_STORE_PASSWORD")
  [[ -f "$dir/broker.p12" && -f "$dir/ca.pem" ]] && return 0
  command -v keytool >/dev/null || die "keytool not found (it comes with the JDK)"
  log "making a test CA and broker key in $dir"
  rm -rf "$dir"; mkdir -p "$dir"
  {
    "${kt[@]}" -genkeypair -alias ca -dname "CN=driftline test CA" -keystore "$dir/ca.p12" -keyalg RSA \
      -keysize 2048 -validity 3650 -ext bc:c
    "${kt[@]}" -exportcert -alias ca -keystore "$dir/ca.p12" -rfc -file "$dir/ca.pem"
    "${kt[@]}" -genkeypair -alias broker -dname "CN=127.0.0.1" -keystore "$dir/broker.p12" -keyalg RSA \
      -keysize 2048 -validity 3650 -ext "SAN=ip:127.0.0.1,dns:localhost"
    "${kt[@]}" -certreq -alias broker -keystore "$dir/broker.p12" -file "$dir/broker.csr"
    "${kt[@]}" -gencert -alias ca -keystore "$dir/ca.p12" -infile "$dir/broker.csr" -outfile "$dir/broker.pem" \
      -rfc -validity 3650 -ext "SAN=ip:127.0.0.1,dns:localhost"
    "${kt[@]}" -importcert -alias ca -file "$dir/ca.pem" -keystore "$dir/broker.p12" -noprompt
    "${kt[@]}" -importcert -alias broker -file "$dir/broker.pem" -keystore "$dir/broker.p12" -noprompt
  } >"$dir/keytool.log" 2>&1 || { show_log "$dir/keytool.log"; die "keytool failed"; }
}

kafka_java() {  # main-class args...  (foreground, for the storage tool)
  java -Dlog4j2.configurationFile="$KAFKA_LOG4J" -Dkafka.logs.dir="$LOG_DIR" \
    -cp "$KAFKA_HOME/libs/*" "$@"
}

start_kafka() {
  mkdir -p "$KAFKA_DATA"
  render_kafka_config
  if [[ -f "$KAFKA_DATA/meta.properties" ]]; then
    log "Kafka storage already formatted"
  else
    local id
    id="$(kafka_java kafka.tools.StorageTool random-uuid 2>>"$LOG_DIR/kafka-format.log" \
          | grep -E '^[A-Za-z0-9_-]{22}$' | tail -n1 || true)"
    [[ -n "$id" ]] || { show_log "$LOG_DIR/kafka-format.log"; die "could not generate a Kafka cluster id"; }
    log "formatting Kafka storage (cluster id $id)"
    kafka_java kafka.tools.StorageTool format --ignore-formatted -t "$id" -c "$KAFKA_CONF" \
      >>"$LOG_DIR/kafka-format.log" 2>&1 \
      || { show_log "$LOG_DIR/kafka-format.log"; die "formatting Kafka storage failed"; }
  fi
  log "starting Kafka on $BOOTSTRAP (controller 127.0.0.1:$CONTROLLER_PORT)"
  start_detached kafka "$LOG_DIR/kafka.out" \
    java "-Xmx$KAFKA_HEAP" -Xms128m -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_LOG4J" -Dkafka.logs.dir="$LOG_DIR" \
    -cp "$KAFKA_HOME/libs/*" kafka.Kafka "$KAFKA_CONF"
}

HAVE_PY_KAFKA=""
kafka_answers() {
  if [[ -z "$HAVE_PY_KAFKA" ]]; then
    if [[ -x "$PYTHON" ]] && "$PYTHON" -c 'import confluent_kafka' 2>/dev/null; then HAVE_PY_KAFKA=1
    elif command -v python3 >/dev/null && python3 -c 'import confluent_kafka' 2>/dev/null; then
      PYTHON=python3; HAVE_PY_KAFKA=1
    else
      HAVE_PY_KAFKA=0
      log "confluent_kafka not importable by $PYTHON; falling back to port + log check for Kafka"
    fi
  fi
  port_open "$KAFKA_PORT" || return 1
  if (( HAVE_PY_KAFKA )); then
    # A metadata round trip: the broker must answer and list itself.
    "$PYTHON" - "$BOOTSTRAP" 2>/dev/null <<'PY'
import sys
from confluent_kafka.admin import AdminClient
md = AdminClient({"bootstrap.servers": sys.argv[1], "socket.timeout.ms": 3000,
                  "log_level": 0}).list_topics(timeout=3)
sys.exit(0 if md.brokers else 1)
PY
  else
    grep -q 'Kafka Server started' "$LOG_DIR/server.log" 2>/dev/null
  fi
}

wait_kafka() {
  local deadline=$(( SECONDS + TIMEOUT ))
  until kafka_answers; do
    component_pid kafka >/dev/null || fail kafka "Kafka exited during startup"
    (( SECONDS < deadline )) || fail kafka "Kafka did not answer on $BOOTSTRAP within ${TIMEOUT}s"
    sleep 1
  done
  log "Kafka is healthy on $BOOTSTRAP"
}

# ---------------------------------------------------------------- InfluxDB

start_influx() {
  mkdir -p "$INFLUX_DIR/engine"
  log "starting InfluxDB on $INFLUX_URL"
  # cwd is the stack dir, so influxd does not pick up a stray config.{toml,yaml,json} from $PWD.
  start_detached influxd "$LOG_DIR/influxd.log" \
    "$INFLUXD" --bolt-path "$INFLUX_BOLT" --engine-path "$INFLUX_DIR/engine" \
    --sqlite-path "$INFLUX_DIR/influxd.sqlite" \
    --http-bind-address "127.0.0.1:$INFLUX_PORT" --reporting-disabled
}

influx_healthy() {
  curl -fsS --max-time 2 "$INFLUX_URL/health" 2>/dev/null | grep -Eq '"status": *"pass"'
}

wait_influx() {
  local deadline=$(( SECONDS + TIMEOUT ))
  until influx_healthy; do
    component_pid influxd >/dev/null || fail influxd "influxd exited during startup"
    (( SECONDS < deadline )) || fail influxd "InfluxDB /health did not pass within ${TIMEOUT}s"
    sleep 0.5
  done
  log "InfluxDB is healthy on $INFLUX_URL"
}

json_str() {  # JSON string literal for $1
  local s="$1"
  s="${s//\\/\\\\}"; s="${s//\"/\\\"}"
  s="${s//$'\n'/\\n}"; s="${s//$'\t'/\\t}"; s="${s//$'\r'/\\r}"
  printf '"%s"' "$s"
}

influx_setup() {
  local allowed body code auth=(-H "Authorization: Token $INFLUX_TOKEN")
  allowed="$(curl -fsS --max-time 5 "$INFLUX_URL/api/v2/setup")" \
    || fail influxd "GET /api/v2/setup failed"
  if [[ "$allowed" =~ \"allowed\":\ *true ]]; then
    log "setting up InfluxDB (org $INFLUX_ORG, bucket $INFLUX_BUCKET, user $INFLUX_USERNAME)"
    body="{\"username\":$(json_str "$INFLUX_USERNAME"),\"password\":$(json_str "$INFLUX_PASSWORD"),"
    body+="\"org\":$(json_str "$INFLUX_ORG"),\"bucket\":$(json_str "$INFLUX_BUCKET"),"
    body+="\"token\":$(json_str "$INFLUX_TOKEN")}"
    code="$(curl -sS --max-time 10 -o "$RUN_DIR/influx-setup.json" -w '%{http_code}' \
            -H 'Content-Type: application/json' -X POST --data-binary @- \
            "$INFLUX_URL/api/v2/setup" <<< "$body")" || fail influxd "POST /api/v2/setup failed"
    [[ "$code" == 201 ]] || { cat "$RUN_DIR/influx-setup.json" >&2; echo >&2; \
                              fail influxd "POST /api/v2/setup returned HTTP $code"; }
    rm -f "$RUN_DIR/influx-setup.json"
  fi
  # Already set up (now or earlier): the token must work and the bucket must exist.
  code="$(curl -sS --max-time 5 -o "$RUN_DIR/influx-buckets.json" -w '%{http_code}' "${auth[@]}" \
          --get --data-urlencode "name=$INFLUX_BUCKET" --data-urlencode "org=$INFLUX_ORG" \
          "$INFLUX_URL/api/v2/buckets")" || fail influxd "GET /api/v2/buckets failed"
  local have_bucket=0
  case "$code" in
    200) grep -q "\"name\": *$(json_str "$INFLUX_BUCKET")" "$RUN_DIR/influx-buckets.json" && have_bucket=1 ;;
    401) fail influxd "InfluxDB rejects DRIFTLINE_INFLUX_TOKEN: $INFLUX_DIR was set up with other settings; run '$0 clean' to start over" ;;
    404) grep -qi 'organization' "$RUN_DIR/influx-buckets.json" \
           && fail influxd "InfluxDB has no org '$INFLUX_ORG' ($INFLUX_DIR was set up with other settings); run '$0 clean' to start over" ;;
    *)   cat "$RUN_DIR/influx-buckets.json" >&2; echo >&2
         fail influxd "GET /api/v2/buckets returned HTTP $code" ;;
  esac
  if (( ! have_bucket )); then
    local org_id
    org_id="$(curl -fsS --max-time 5 "${auth[@]}" --get --data-urlencode "org=$INFLUX_ORG" \
              "$INFLUX_URL/api/v2/orgs" | grep -oE '"id": *"[0-9a-f]{16}"' | head -n1 \
              | grep -oE '[0-9a-f]{16}' || true)"
    [[ -n "$org_id" ]] || fail influxd "could not look up org '$INFLUX_ORG'"
    log "creating InfluxDB bucket $INFLUX_BUCKET"
    curl -fsS --max-time 5 -o /dev/null "${auth[@]}" -H 'Content-Type: application/json' \
      -X POST --data-binary "{\"orgID\":\"$org_id\",\"name\":$(json_str "$INFLUX_BUCKET"),\"retentionRules\":[]}" \
      "$INFLUX_URL/api/v2/buckets" || fail influxd "creating bucket $INFLUX_BUCKET failed"
  fi
  rm -f "$RUN_DIR/influx-buckets.json"
  log "InfluxDB org '$INFLUX_ORG', bucket '$INFLUX_BUCKET' ready"
}

# ---------------------------------------------------------------- Prometheus (when asked)

start_prometheus() {
  local bin targets="" t
  bin="$("$HERE/build-prometheus.sh")" || die "deploy/build-prometheus.sh failed"
  mkdir -p "$PROMETHEUS_DIR/data"
  IFS=',' read -ra t <<< "$PROMETHEUS_TARGETS"
  for t in "${t[@]}"; do targets+="'${t// /}', "; done
  cat > "$PROMETHEUS_CONF" <<CONF
# written by deploy/stack.sh up (DRIFTLINE_PROMETHEUS_TARGETS)
global:
  scrape_interval: 2s
  evaluation_interval: 2s
scrape_configs:
  - job_name: driftline
    static_configs:
      - targets: [${targets%, }]
CONF
  start_detached prometheus "$LOG_DIR/prometheus.log" "$bin" "--config.file=$PROMETHEUS_CONF" \
    "--storage.tsdb.path=$PROMETHEUS_DIR/data" "--web.listen-address=127.0.0.1:$PROMETHEUS_PORT"
  local deadline=$(( SECONDS + TIMEOUT ))
  until curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$PROMETHEUS_PORT/-/ready"; do
    component_pid prometheus >/dev/null || { show_log "$LOG_DIR/prometheus.log"; die "prometheus exited during startup"; }
    (( SECONDS < deadline )) || { show_log "$LOG_DIR/prometheus.log"; die "Prometheus not ready within ${TIMEOUT}s"; }
    sleep 0.5
  done
  log "Prometheus on http://127.0.0.1:$PROMETHEUS_PORT scraping $PROMETHEUS_TARGETS"
}

# ---------------------------------------------------------------- commands

cmd_up() {
  validate_settings
  command -v java >/dev/null || die "java not found (Java 17+ needed for Kafka 4.1)"
  command -v curl >/dev/null || die "curl not found"
  command -v setsid >/dev/null || die "setsid not found (util-linux)"
  mkdir -p "$STACK_DIR" "$LOG_DIR" "$RUN_DIR"
  KAFKA_HOME="$("$HERE/fetch-kafka.sh")" || die "deploy/fetch-kafka.sh failed"
  INFLUXD="$("$HERE/build-influxdb.sh")" || die "deploy/build-influxdb.sh failed"
  [[ -x "$INFLUXD" ]] || die "influxd not found at '$INFLUXD'"
  trap on_exit EXIT
  trap 'log "interrupted"; exit 130' INT TERM

  local pid need_kafka=0 need_influx=0
  if pid="$(component_pid kafka)"; then
    log "Kafka already running (pid $pid)"
    grep -q "^listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT," "$KAFKA_CONF" \
      || die "the running Kafka uses other ports than $KAFKA_PORT/$CONTROLLER_PORT (see $KAFKA_CONF); run '$0 down' first"
  else need_kafka=1; fi
  if pid="$(component_pid influxd)"; then
    log "InfluxDB already running (pid $pid)"
    tr '\0' '\n' < "/proc/$pid/cmdline" | grep -qxF "127.0.0.1:$INFLUX_PORT" \
      || die "the running InfluxDB does not listen on 127.0.0.1:$INFLUX_PORT; run '$0 down' first"
  else need_influx=1; fi
  # Check every port we are about to bind before starting anything.
  if (( need_kafka )); then
    require_free_port "$KAFKA_PORT" "Kafka"
    require_free_port "$CONTROLLER_PORT" "Kafka controller"
  fi
  (( need_influx )) && require_free_port "$INFLUX_PORT" "InfluxDB"
  (( need_kafka )) && start_kafka
  (( need_influx )) && start_influx
  wait_kafka
  wait_influx
  influx_setup
  if [[ -n "$PROMETHEUS_PORT" ]]; then
    if pid="$(component_pid prometheus)"; then log "Prometheus already running (pid $pid)"
    else require_free_port "$PROMETHEUS_PORT" "Prometheus"; start_prometheus; fi
  fi

  local tmp="$ENV_FILE.tmp.$$"
  mkdir -p "$(dirname "$ENV_FILE")"
  { echo "# written by deploy/stack.sh up"; env_lines; } > "$tmp" && mv -f "$tmp" "$ENV_FILE"
  if (( ${#STARTED[@]} )); then log "stack is up (started: ${STARTED[*]}); settings in $ENV_FILE"
  else log "stack was already up; settings in $ENV_FILE"; fi
  STARTED=()
  env_lines
}

cmd_down() {
  stop_component kafka
  stop_component influxd
  if [[ -n "$PROMETHEUS_PORT" ]] || component_pid prometheus >/dev/null; then stop_component prometheus; fi
}

cmd_clean() {
  cmd_down
  [[ -n "$STACK_DIR" && "$STACK_DIR" != "/" && "$STACK_DIR" != "$HOME" ]] \
    || die "refusing to delete DRIFTLINE_STACK_DIR='$STACK_DIR'"
  if [[ -d "$STACK_DIR" ]]; then log "deleting $STACK_DIR"; rm -rf "$STACK_DIR"; fi
}

cmd_status() {
  local pid rc=0
  if pid="$(component_pid kafka)"; then
    if kafka_answers 2>/dev/null; then echo "kafka:    running (pid $pid), healthy on $BOOTSTRAP"
    else echo "kafka:    running (pid $pid), NOT answering on $BOOTSTRAP"; rc=3; fi
  else
    echo "kafka:    stopped"; rc=3
    port_open "$KAFKA_PORT" && echo "          (port $KAFKA_PORT is used by $(port_owner "$KAFKA_PORT"))"
  fi
  if pid="$(component_pid influxd)"; then
    if influx_healthy; then echo "influxdb: running (pid $pid), healthy on $INFLUX_URL"
    else echo "influxdb: running (pid $pid), NOT healthy on $INFLUX_URL"; rc=3; fi
  else
    echo "influxdb: stopped"; rc=3
    port_open "$INFLUX_PORT" && echo "          (port $INFLUX_PORT is used by $(port_owner "$INFLUX_PORT"))"
  fi
  echo "stack dir: $STACK_DIR (logs in $LOG_DIR)"
  return "$rc"
}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; }

case "${1:-}" in
  up)     cmd_up ;;
  down)   cmd_down ;;
  clean)  cmd_clean ;;
  status) cmd_status ;;
  env)    env_lines ;;
  -h|--help|help) usage ;;
  *) usage; exit 2 ;;
esac
