"""``python -m bench.timeline LOG scan ARGS...``: exposcan's CLI, its engine's
log written to LOG with the milliseconds since start on each line.

The benchmark reads from it when a host's port scan ended and when its own
probes did (scenario 6), apart from the box's follow-up that runs alongside.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

_LINE = re.compile(r"^(\d+) (\S+):(\d+) (open|probe) ")


def phases(log: Path, host: str) -> tuple[float, float] | None:
    """(end of ``host``'s port scan, end of its last probe), in seconds since
    start, from a LOG this module wrote; None if either is missing."""
    opened: list[float] = []
    probed: list[float] = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        m = _LINE.match(line)
        if m and m.group(2) == host:
            (opened if m.group(4) == "open" else probed).append(int(m.group(1)) / 1000)
    if not opened or not probed:
        return None
    return max(opened), max(probed)


def main(argv: list[str]) -> int:
    handler = logging.FileHandler(argv[0], mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(relativeCreated).0f %(message)s"))
    engine = logging.getLogger("exposcan")
    # Its own level and handler: -q quiets the root logger, not this one.
    engine.setLevel(logging.INFO)
    engine.addHandler(handler)
    engine.propagate = False
    from exposcan.cli import main as cli

    return cli(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
