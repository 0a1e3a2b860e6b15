#!/usr/bin/env bash
# Fetches the Kafka 4.1.1 broker jars from Maven Central once per machine (cached).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${DRIFTLINE_CACHE_DIR:-$HOME/.cache/driftline}"
OUT="$CACHE/kafka-4.1.1"
if [[ -f "$OUT/.complete" ]]; then echo "$OUT"; exit 0; fi
command -v java >/dev/null || { echo "[fetch-kafka] java not found (Java 17 needed)" >&2; exit 1; }
command -v mvn >/dev/null || { echo "[fetch-kafka] mvn not found" >&2; exit 1; }
echo "[fetch-kafka] downloading Kafka broker jars from Maven Central" >&2
rm -rf "$OUT/libs"; mkdir -p "$OUT/libs"
mvn -q -B -f "$HERE/kafka/pom.xml" org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$OUT/libs" >&2
touch "$OUT/.complete"
echo "$OUT"
