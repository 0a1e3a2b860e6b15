#!/usr/bin/env bash
# Builds Prometheus from its Go module once per machine and caches the binary beside influxd
# (about 3 min the first time). Without GOWORK=off the module's go.work names folders it lacks.
set -euo pipefail
VERSION="${DRIFTLINE_PROMETHEUS_VERSION:-0.316.0}"
CACHE="${DRIFTLINE_CACHE_DIR:-$HOME/.cache/driftline}"
OUT="$CACHE/prometheus-$VERSION"
BIN="$OUT/prometheus"
if [[ -x "$BIN" ]]; then echo "$BIN"; exit 0; fi
mkdir -p "$OUT"
log() { echo "[build-prometheus] $*" >&2; }
command -v go >/dev/null || { log "Go toolchain not found"; exit 1; }
export GOTOOLCHAIN=local GOWORK=off
log "downloading github.com/prometheus/prometheus@v$VERSION"
MODDIR=$(go mod download -json "github.com/prometheus/prometheus@v$VERSION" | python3 -c 'import json,sys;print(json.load(sys.stdin)["Dir"])')
SRC="$OUT/src"
rm -rf "$SRC"; cp -r "$MODDIR" "$SRC"; chmod -R u+w "$SRC"
log "building prometheus (about 3 minutes the first time)"
(cd "$SRC" && go build -o "$BIN.tmp" ./cmd/prometheus) >&2
mv "$BIN.tmp" "$BIN"
rm -rf "$SRC"
log "built $BIN"
echo "$BIN"
