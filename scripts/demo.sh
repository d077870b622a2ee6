#!/usr/bin/env bash
# make demo: bring the practice lab up, start a reflector on the lab's
# internet host, scan the practice from inside (the workstation, no target,
# --outside: what a practitioner's one-shot check does, the reflector scanning
# the practice back from the internet meanwhile) and from the internet side
# (the box's public address), write the reports, tear the lab down.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN="$ROOT/.venv/bin"
LAB=${EXPOSCAN_LAB_NAME:-demo}
OUT=${DEMO_OUT:-$ROOT}

down() { "$BIN/python" -m exposcan_lab down --name "$LAB" >/dev/null 2>&1 || true; }
trap down EXIT INT TERM

echo "== Bringing the practice lab up (network namespaces, real servers)"
"$BIN/python" -m exposcan_lab up --name "$LAB"

scan() {  # host, then exposcan arguments; exit 1 (findings) is the expected result
  local host=$1; shift
  set +e
  "$BIN/python" -m exposcan_lab exec --name "$LAB" "$host" -- "$BIN/exposcan" scan "$@"
  local rc=$?
  set -e
  # The lab practice is exposed on purpose: anything but exit 1 (a crash is
  # exit 1 too, hence the check that the report was written) is a failure.
  local report=""
  while [ $# -gt 0 ]; do
    if [ "$1" = "-o" ] && [[ "$2" == *.json ]]; then report=$2; fi
    shift
  done
  if [ "$rc" -ne 1 ] || [ -z "$report" ] || [ ! -s "$report" ]; then
    echo "demo: the scan from $host failed (exit $rc, report ${report:-none})" >&2
    exit 2
  fi
}
rm -f "$OUT"/report.json "$OUT"/report.html "$OUT"/report-internet.json "$OUT"/report-internet.html

echo
echo "== A reflector on the lab internet (exposcan reflector serve, its own CA and token)"
# Prints EXPOSCAN_OUTSIDE=..., EXPOSCAN_OUTSIDE_CA=..., EXPOSCAN_OUTSIDE_TOKEN_FILE=...
while IFS= read -r line; do export "${line?}"; done \
  < <("$BIN/python" -m exposcan_lab reflector --name "$LAB")
echo "reflector: $EXPOSCAN_OUTSIDE (token in $EXPOSCAN_OUTSIDE_TOKEN_FILE)"

echo
echo "== The contractor's hub on the lab internet (exposcan hub serve, its own CA, a site token)"
# Prints EXPOSCAN_HUB=..., EXPOSCAN_HUB_CA=..., EXPOSCAN_HUB_TOKEN_FILE=...
while IFS= read -r line; do export "${line?}"; done \
  < <("$BIN/python" -m exposcan_lab hub --name "$LAB")
echo "hub: $EXPOSCAN_HUB (the site's token in $EXPOSCAN_HUB_TOKEN_FILE)"

echo
echo "== 1. From the practice workstation, no target, with --outside: the LAN it is on,"
echo "==    its box, and what the internet reaches (the reflector scans the practice back);"
echo "==    the report goes to the hub (--hub, from \$EXPOSCAN_HUB)"
# --outside-public: the NAT loopback check goes only to an address two
# witnesses agree on, and the lab box's miniupnpd does not disclose its
# documentation-range WAN address: the practice's own setting is the second.
scan ws --outside "$EXPOSCAN_OUTSIDE" --outside-ca "$EXPOSCAN_OUTSIDE_CA" \
  --outside-public 203.0.113.1 -o "$OUT/report.json" -o "$OUT/report.html"
echo
echo "== 2. From the internet host, the box's public address (every TCP port)"
# --no-hub: the hub keeps the practice's own (LAN) scans; this one is the check by hand.
scan inet --vantage internet --no-hub 203.0.113.1 -o "$OUT/report-internet.json" \
  -o "$OUT/report-internet.html"

"$BIN/python" - "$OUT/report.json" "$OUT/report-internet.json" <<'PY'
import json, sys
import jsonschema
from pathlib import Path
import exposcan
schema = json.loads((Path(exposcan.__file__).parent / "schema" / "report.schema.json").read_text())
for path in sys.argv[1:]:
    data = json.loads(Path(path).read_text())
    jsonschema.validate(data, schema)
    print(f"{path}: valid {data['schema']}, {len(data['findings'])} findings, "
          f"{len(data['hosts'])} hosts, {len(data['errors'])} errors")
PY
echo "Reports: $OUT/report.html and $OUT/report-internet.html (open them in a browser)"
echo
echo "== 3. What the contractor's hub shows (GET /api/v1/sites, as its staff)"
"$BIN/python" -m exposcan_lab hub-sites --name "$LAB"
echo "== Tearing the lab down"
