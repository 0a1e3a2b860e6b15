#!/usr/bin/env bash
# Builds Prometheus Alertmanager from its Go module once per machine and caches the binary beside
# influxd. The module ships without its built web UI, which go:embed needs: an empty page stands in.
set -euo pipefail
VERSION="${DRIFTLINE_ALERTMANAGER_VERSION:-0.35.0}"
CACHE="${DRIFTLINE_CACHE_DIR:-$HOME/.cache/driftline}"
OUT="$CACHE/alertmanager-$VERSION"
BIN="$OUT/alertmanager"
if [[ -x "$BIN" ]]; then echo "$BIN"; exit 0; fi
mkdir -p "$OUT"
log() { echo "[build-alertmanager] $*" >&2; }
command -v go >/dev/null || { log "Go toolchain not found"; exit 1; }
export GOTOOLCHAIN=local
log "downloading github.com/prometheus/alertmanager@v$VERSION"
MODDIR=$(go mod download -json "github.com/prometheus/alertmanager@v$VERSION" | python3 -c 'import json,sys;print(json.load(sys.stdin)["Dir"])')
SRC="$OUT/src"
rm -rf "$SRC"; cp -r "$MODDIR" "$SRC"; chmod -R u+w "$SRC"
mkdir -p "$SRC/ui/app/dist"
echo '<!doctype html><title>Alertmanager</title><p>Web UI not built; use the API.</p>' > "$SRC/ui/app/dist/index.html"
log "building alertmanager (about a minute the first time)"
(cd "$SRC" && go build -o "$BIN.tmp" ./cmd/alertmanager) >&2
mv "$BIN.tmp" "$BIN"
rm -rf "$SRC"
log "built $BIN"
echo "$BIN"
