#!/usr/bin/env bash
# Builds influxd 2.7.12 from its Go module once per machine and caches the binary.
# The Flux engine is Rust (libflux); influxdata's pkg-config wrapper builds it with cargo on demand.
set -euo pipefail
VERSION="${DRIFTLINE_INFLUXDB_VERSION:-2.7.12}"
CACHE="${DRIFTLINE_CACHE_DIR:-$HOME/.cache/driftline}"
OUT="$CACHE/influxdb-$VERSION"
BIN="$OUT/influxd"
if [[ -x "$BIN" ]]; then echo "$BIN"; exit 0; fi
mkdir -p "$OUT"
log() { echo "[build-influxdb] $*" >&2; }
command -v go >/dev/null || { log "Go toolchain not found"; exit 1; }
command -v cargo >/dev/null || { log "cargo (Rust) not found"; exit 1; }
command -v pkgconf >/dev/null || command -v pkg-config >/dev/null || {
  log "installing pkgconf"; (apt-get update -qq && apt-get install -y -qq pkgconf) >&2; }
export GOTOOLCHAIN=local CGO_ENABLED=1
log "installing influxdata pkg-config wrapper"
go install github.com/influxdata/pkg-config@v0.2.14 >&2
export PKG_CONFIG="$(go env GOPATH)/bin/pkg-config"
# flux pins an old Rust toolchain that cannot be installed here; newer rustc turns some lints into
# errors that RUSTFLAGS does not reach in build scripts, so cap lints through a wrapper.
export RUSTUP_TOOLCHAIN=stable
WRAP="$OUT/rustc-wrapper.sh"
printf '#!/bin/sh\nexec "$@" --cap-lints warn\n' > "$WRAP"; chmod +x "$WRAP"
export RUSTC_WRAPPER="$WRAP"
log "downloading github.com/influxdata/influxdb/v2@v$VERSION"
MODDIR=$(go mod download -json "github.com/influxdata/influxdb/v2@v$VERSION" | python3 -c 'import json,sys;print(json.load(sys.stdin)["Dir"])')
SRC="$OUT/src"
rm -rf "$SRC"; cp -r "$MODDIR" "$SRC"; chmod -R u+w "$SRC"
log "building influxd (several minutes the first time)"
(cd "$SRC" && go build -tags sqlite_foreign_keys,sqlite_json -o "$BIN.tmp" ./cmd/influxd) >&2
mv "$BIN.tmp" "$BIN"
rm -rf "$SRC"
log "built $BIN"
echo "$BIN"
