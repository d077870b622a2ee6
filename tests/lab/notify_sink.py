"""Notification receivers for a lab test, run *inside* a lab namespace.

``python -m tests.lab.notify_sink OUT_DIR SMTP_PORT HTTP_PORT`` under
``ip netns exec``: an aiosmtpd server and an aiohttp webhook on 127.0.0.1 of
that namespace (where the scanner runs). Each mail is written to
OUT_DIR/mail-N.eml, each webhook body to OUT_DIR/hook-N.json; OUT_DIR/ready
appears once both listen. Runs until SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from tests.notify_servers import smtp_server, webhook_server


async def main(out: Path, smtp_port: int, http_port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    with smtp_server(port=smtp_port) as (_, box):
        async with webhook_server(port=http_port) as (_, hook):
            (out / "ready").write_text("ready\n")
            while not stop.is_set():
                # Flush what arrived to files the test reads.
                for name, items in (("mail-{}.eml", box.raw), ("hook-{}.json", hook.raw)):
                    for i, data in enumerate(list(items)):
                        path = out / name.format(i)
                        if not path.exists():
                            path.write_bytes(data)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.1)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
