"""``python -m exposcan_lab up|down|status|exec``: the lab from the command line.

The lab is not part of the exposcan wheel (its hostile servers are test
fixtures, not a product): it runs from a source checkout.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from . import netns
from . import topology as t
from .lab import Lab, LabError


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m exposcan_lab",
        description="A medical practice's network in network namespaces (root only).",
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    for cmd, help_ in (
        ("up", "build the lab (tears down a stale one of the same name first)"),
        ("down", "stop every server, delete the namespaces and the runtime dir"),
        ("status", "what of the lab exists; exit 0 only if all of it runs"),
    ):
        p = sub.add_parser(cmd, help=help_)
        p.add_argument("--name", default=t.DEFAULT_LAB_NAME)
    p = sub.add_parser(
        "reflector",
        help="start exposcan reflector serve on the lab's internet host; prints the "
        "environment a scan --outside needs (URL, CA file, token file)",
    )
    p.add_argument("--name", default=t.DEFAULT_LAB_NAME)
    p = sub.add_parser(
        "hub",
        help="start exposcan hub serve on the lab's internet host (a site for the lab's "
        "practice); prints the environment a scan --hub needs (URL, CA file, token file)",
    )
    p.add_argument("--name", default=t.DEFAULT_LAB_NAME)
    p = sub.add_parser("hub-sites", help="what the lab's hub shows: GET /api/v1/sites")
    p.add_argument("--name", default=t.DEFAULT_LAB_NAME)
    p = sub.add_parser("exec", help="run a command in a host: exec [--name N] HOST -- CMD...")
    p.add_argument("--name", default=t.DEFAULT_LAB_NAME)
    p.add_argument("host", choices=list(t.NAMESPACE_ROLES))
    p.add_argument("argv", nargs=argparse.REMAINDER)
    return ap


def _print_plan(lab: Lab) -> None:
    for h in t.HOSTS:
        ports = ",".join(str(p) for p in h.tcp_ports) or "-"
        print(f"  {h.name:<12} {h.ip!s:<15} {ports:<20} {lab.netns(h.name)}")


def main(argv: list[str]) -> int:
    a = _parser().parse_args(argv)
    try:
        if a.cmd == "up":
            lab = Lab.up(a.name)
            print(f"lab {a.name!r} up in {lab.timings['up']:.1f} s, runtime {lab.runtime_dir}")
            _print_plan(lab)
            return 0
        if a.cmd == "down":
            lab = Lab(a.name)
            lab.down()
            print(f"lab {a.name!r} down ({lab.timings['down']:.1f} s)")
            return 0
        if a.cmd == "status":
            st = Lab(a.name).status()
            ok = (
                all(st["namespaces"].values())
                and bool(st["processes"])
                and all(p["alive"] for p in st["processes"])
            )
            word = "up" if ok else "NOT (fully) up"
            print(f"lab {a.name!r}: {word}; runtime {st['runtime_dir']}")
            for ns, present in st["namespaces"].items():
                print(f"  netns {ns:<24} {'present' if present else 'absent'}")
            for p in st["processes"]:
                state = "running" if p["alive"] else "DEAD"
                print(f"  {p['host']:<12} {p['service']:<10} pid {p['pid']:<8} {state}")
            return 0 if ok else 1
        if a.cmd == "reflector":
            info = Lab(a.name).start_reflector()
            print(f"EXPOSCAN_OUTSIDE={info.url}")
            print(f"EXPOSCAN_OUTSIDE_CA={info.ca_file}")
            print(f"EXPOSCAN_OUTSIDE_TOKEN_FILE={info.token_file}")
            # Over IPv6 (the LAN's global addresses named): EXPOSCAN_OUTSIDE=$..._IPV6
            # with EXPOSCAN_OUTSIDE_PIN instead of EXPOSCAN_OUTSIDE_CA.
            print(f"EXPOSCAN_LAB_REFLECTOR_IPV6={info.url6}")
            print(f"EXPOSCAN_LAB_REFLECTOR_PIN={info.pin_sha256}")
            return 0
        if a.cmd == "hub":
            for key, value in Lab(a.name).start_hub().items():
                print(f"{key}={value}")
            return 0
        if a.cmd == "hub-sites":
            sites = Lab(a.name).hub_sites()
            print(f"{'site':16} {'internet':9} {'LAN':5} {'last report':26} {'new':>4}  counts")
            for s in sites:
                counts = ", ".join(f"{n} {k}" for k, n in s["counts"].items() if n) or "-"
                last = s["last_report"] or "never"
                name, new = s["name"], s["new"]
                print(f"{name:16} {s['internet']:9} {s['lan']:5} {last:26} {new:>4}  {counts}")
            return 0
        # exec
        cmd = a.argv[1:] if a.argv[:1] == ["--"] else a.argv
        if not cmd:
            print("exposcan_lab exec: no command given (exec HOST -- CMD...)", file=sys.stderr)
            return 2
        lab = Lab(a.name)
        if lab.netns(a.host) not in netns.existing_namespaces():
            print(f"lab {a.name!r} is not up (no {lab.netns(a.host)})", file=sys.stderr)
            return 2
        return subprocess.run(lab.exec_argv(a.host, cmd)).returncode
    except LabError as e:
        print(f"exposcan_lab: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
