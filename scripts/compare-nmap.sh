#!/usr/bin/env bash
# README's side-by-side: what `nmap --script dicom-ping,http-title` and
# exposcan report on the same lab hosts and ports, run from the same
# workstation namespace in one go. Writes docs/nmap-vs-exposcan.md.
# nmap is pointed only at hosts of the lab this script creates.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN="$ROOT/.venv/bin"
LAB=${EXPOSCAN_LAB_NAME:-cmp}
WORK=$(mktemp -d)
TARGETS="198.18.0.10 198.18.0.11 198.18.0.30 198.18.0.40 198.18.0.50"
PORTS="80,104,4242,5678,8042,8080,11112"

down() { "$BIN/python" -m exposcan_lab down --name "$LAB" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap down EXIT INT TERM
"$BIN/python" -m exposcan_lab up --name "$LAB" >/dev/null

start=$(date +%s.%N)
# -n: no DNS in a namespace (reverse look-ups stall); -Pn: hosts are known up.
"$BIN/python" -m exposcan_lab exec --name "$LAB" ws -- nmap -n -Pn -sT -p "$PORTS" \
  --script dicom-ping,http-title --host-timeout 60s -oX "$WORK/nmap.xml" $TARGETS >/dev/null
mid=$(date +%s.%N)
set +e
# A history of its own: a comparison run is not an audit of anything.
"$BIN/python" -m exposcan_lab exec --name "$LAB" ws -- "$BIN/exposcan" scan -q --no-discovery --db "$WORK/h.db" \
  -p "$PORTS" -o "$WORK/exposcan.json" $TARGETS
rc=$?
set -e
end=$(date +%s.%N)
[ "$rc" -le 1 ] || { echo "exposcan failed: $rc" >&2; exit "$rc"; }

mkdir -p docs
PYTHONPATH="$ROOT" "$BIN/python" scripts/compare_nmap.py "$WORK/nmap.xml" "$WORK/exposcan.json" \
  "$start" "$mid" "$end" README.md > docs/nmap-vs-exposcan.md
cat docs/nmap-vs-exposcan.md
