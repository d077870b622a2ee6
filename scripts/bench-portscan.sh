#!/usr/bin/env bash
# Port scan speed against the reference tool, in one run, on the same lab host:
# nmap 7.93 -sT -p- (a connect scan, the same technique as exposcan's) and
# exposcan -p - --no-probes, each RUNS times from the lab workstation.
# Prints every figure and the medians. Targets only the lab this script makes.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${EXPOSCAN_BIN:-$(pwd)/.venv/bin}
LAB=${EXPOSCAN_LAB_NAME:-bench}
RUNS=${RUNS:-3}
TARGET=198.18.0.10

down() { "$BIN/exposcan" lab down --name "$LAB" >/dev/null 2>&1 || true; }
trap down EXIT INT TERM
"$BIN/exposcan" lab up --name "$LAB" >/dev/null
inside() { "$BIN/exposcan" lab exec --name "$LAB" ws -- "$@"; }

timed() {  # prints seconds of wall time of the command
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null 2>&1 || [ $? -le 1 ]
  end=$(date +%s.%N)
  "$BIN/python" -c "print(f'{$end - $start:.2f}')"
}

nmap_t=(); ours_t=()
for i in $(seq "$RUNS"); do
  nmap_t+=("$(timed inside nmap -n -Pn -sT -p- "$TARGET")")
  ours_t+=("$(timed inside "$BIN/exposcan" scan -q --no-discovery --no-probes -p - "$TARGET")")
done
"$BIN/python" - "${nmap_t[*]}" "${ours_t[*]}" "$(nproc)" <<'PY'
import statistics, sys
nmap, ours = ([float(x) for x in a.split()] for a in sys.argv[1:3])
print(f"full TCP range (65,535 ports) of one lab host, {len(nmap)} runs, {sys.argv[3]} cores")
print(f"  nmap 7.93 -sT -p-          : {nmap}  median {statistics.median(nmap):.2f} s")
print(f"  exposcan -p - --no-probes  : {ours}  median {statistics.median(ours):.2f} s")
PY
