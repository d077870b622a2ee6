"""What ``exposcan reflector check`` prints: the outside view in a few lines.

Every value in it came from the reflector: the lines are ``rich.text.Text``
(never markup, so ``[link=...]`` stays text), from an answer whose strings
the models cleaned of control characters (``exposcan.sanitise``)."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from exposcan.reflector.client import OutsideView


def _door(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def check_lines(view: OutsideView) -> list[Text]:
    opened = sorted(_door(h.address, s.port) for h in view.report.hosts for s in h.services)
    state = "complete" if view.report.scan.complete else "cut by the reflector's deadline"
    lines = [
        Text(
            f"seen from the internet as {view.source}: {view.ports_tried} ports tried on "
            f"{len(view.scanned)} address(es), {len(opened)} open"
            + (f" ({', '.join(opened)})" if opened else "")
            + f", {len(view.report.findings)} finding(s); scan {state}"
        )
    ]
    lines += [Text(f"not scanned: {skipped}") for skipped in view.skipped]
    if view.dropped:
        lines.append(
            Text(
                f"left out: {view.dropped} host(s), finding(s) or error(s) of the answer "
                "at addresses it was not asked about"
            )
        )
    return lines


def print_check(view: OutsideView, console: Console | None = None) -> None:
    # soft_wrap: one line each, as a script reading the output expects.
    console = console or Console(highlight=False, soft_wrap=True)
    for line in check_lines(view):
        console.print(line)
