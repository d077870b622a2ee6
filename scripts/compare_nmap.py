"""Render nmap's XML and exposcan's JSON for the same hosts side by side."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import defusedxml.ElementTree as ET

from exposcan_lab.topology import CANARY_STRINGS, HOSTS


def nmap_view(path: str) -> dict[tuple[str, int], str]:
    view: dict[tuple[str, int], str] = {}
    root = ET.parse(path).getroot()
    for host in root.iter("host"):
        address = host.find("address").get("addr")
        for port in host.iter("port"):
            state = port.find("state").get("state")
            if state != "open":
                continue
            service = port.find("service")
            name = service.get("name", "?") if service is not None else "?"
            scripts = [
                f"{s.get('id')}: {' '.join(s.get('output', '').split())}"
                for s in port.iter("script")
            ]
            view[(address, int(port.get("portid")))] = "; ".join([name, *scripts])
    return view


def exposcan_view(path: str) -> dict[tuple[str, int], str]:
    report = json.loads(Path(path).read_text())
    view: dict[tuple[str, int], list[str]] = {}
    for host in report["hosts"]:
        for svc in host["services"]:
            product = " ".join(x for x in (svc.get("product"), svc.get("version")) if x)
            view[(host["address"], svc["port"])] = [f"{svc['protocol']} {product}".strip()]
    for f in report["findings"]:
        evidence = ", ".join(
            f"{k}={len(v)} items" if isinstance(v, list) and len(v) > 3 else f"{k}={v}"
            for k, v in list(f["evidence"].items())[:3]
        )
        view.setdefault((f["host"], f["port"]), []).append(
            f"**{f['rule']}** ({f['severity']}) {evidence}"
        )
    for e in report["errors"]:
        view.setdefault((e["host"], e["port"]), []).append(f"error: {e['reason']}")
    return {k: "; ".join(v) for k, v in view.items()}


def main() -> None:
    nmap_xml, exposcan_json, start, mid, end = sys.argv[1:6]
    nmap_s, exposcan_s = float(mid) - float(start), float(end) - float(mid)
    nmap, ours = nmap_view(nmap_xml), exposcan_view(exposcan_json)
    roles = {str(h.ip): h.name for h in HOSTS}
    lines = [
        "# nmap `--script dicom-ping,http-title` and exposcan on the same lab",
        "",
        "Produced by `scripts/compare-nmap.sh` (nmap 7.93 from Debian, `-sT -n -Pn`, and",
        "`exposcan scan --no-discovery`, same hosts and ports, from the lab's workstation).",
        f"Wall time in this run: nmap {nmap_s:.1f} s, exposcan {exposcan_s:.1f} s.",
        "",
        "| host | port | nmap says | exposcan says |",
        "|---|---|---|---|",
    ]

    def order(k: tuple[str, int]) -> tuple[tuple[int, ...], int]:
        return tuple(map(int, k[0].split("."))), k[1]

    for key in sorted(set(nmap) | set(ours), key=order):
        host, port = key
        cell = lambda s: s.replace("|", "\\|") or "-"  # noqa: E731
        lines.append(
            f"| {roles.get(host, host)} {host} | {port} | {cell(nmap.get(key, ''))} "
            f"| {cell(ours.get(key, ''))} |"
        )
    text = "\n".join(lines) + "\n"
    leaked = [s for s in CANARY_STRINGS if s in text]
    if leaked:
        raise SystemExit(f"refusing to write a comparison holding canary strings: {leaked}")
    sys.stdout.write(text)
    if len(sys.argv) > 6:
        splice_readme(Path(sys.argv[6]), text)


START, END = "<!-- nmap-comparison:start -->", "<!-- nmap-comparison:end -->"


def splice_readme(readme: Path, text: str) -> None:
    """Replace the block between the markers with this run's table."""
    body = readme.read_text()
    head, _, rest = body.partition(START)
    _, _, tail = rest.partition(END)
    table = text.split("\n", 2)[2]  # without the document's own title
    readme.write_text(f"{head}{START}\n{table}{END}{tail}")


if __name__ == "__main__":
    main()
