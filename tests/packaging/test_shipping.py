"""What ships for cron audits is valid: the cron line, the systemd units and
the scanner's Dockerfile (no Docker engine here: it is parsed, and its
install steps are replayed in a throw-away venv)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from exposcan.audit.notify.deliver import parse_targets
from exposcan.cli import build_parser
from tests.support.requirements import missing

REPO = Path(__file__).resolve().parents[2]
CONTRIB = REPO / "contrib"
CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def _cron_field_ok(text: str, low: int, high: int) -> bool:
    for part in text.split(","):
        body, _, step = part.partition("/")
        if step and not step.isdigit():
            return False
        if body == "*":
            continue
        bounds = body.split("-")
        if len(bounds) > 2 or not all(b.isdigit() and low <= int(b) <= high for b in bounds):
            return False
    return True


def _scan_args(argv: list[str]) -> object:
    """Parse with exposcan's own parser (argparse exits on an error)."""
    return build_parser().parse_args(argv)


def test_cron_line_is_valid_and_a_real_command() -> None:
    # Given the /etc/cron.d file
    lines = [
        ln
        for ln in (CONTRIB / "cron" / "exposcan-audit").read_text().splitlines()
        if ln.strip() and not ln.lstrip().startswith("#")
    ]
    env = [ln for ln in lines if re.match(r"^[A-Z_]+=", ln)]
    jobs = [ln for ln in lines if ln not in env]
    # Then it has one job: 5 valid time fields, a user, a command
    (job,) = jobs
    fields = job.split(None, 6)
    assert len(fields) == 7
    for text, (low, high) in zip(fields[:5], CRON_RANGES, strict=True):
        assert _cron_field_ok(text, low, high), text
    assert fields[5] == "root"
    assert "%" not in fields[6]  # cron turns % into a newline
    # And the command is an exposcan audit its own parser accepts
    argv = shlex.split(fields[6])
    assert argv[0] == "exposcan"
    args = _scan_args(argv[1:])
    assert vars(args)["baseline"] == "last" and vars(args)["quiet"]
    assert parse_targets(vars(args)["notify"])  # the example URL is usable
    # And the SMTP password comes from a file, never the line
    assert "EXPOSCAN_SMTP_PASSWORD_FILE=/etc/exposcan/smtp-password" in env


def _unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit: section -> key -> values (keys may repeat)."""
    out: dict[str, dict[str, list[str]]] = {}
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            out[section] = {}
            continue
        key, _, value = line.partition("=")
        out[section].setdefault(key, []).append(value)
    return out


def test_systemd_units_say_what_an_audit_needs() -> None:
    service = _unit(CONTRIB / "systemd" / "exposcan-audit.service")
    timer = _unit(CONTRIB / "systemd" / "exposcan-audit.timer")
    svc = service["Service"]
    # Then the service is a bounded one-shot with a private state folder
    assert svc["Type"] == ["oneshot"]
    assert svc["StateDirectory"] == ["exposcan"] and svc["StateDirectoryMode"] == ["0700"]
    assert svc["UMask"] == ["0077"] and svc["TimeoutStartSec"] == ["1h"]
    # And its command is an audit exposcan accepts, the history in the state folder
    (exec_start,) = svc["ExecStart"]
    argv = shlex.split(exec_start)
    assert argv[0] == "/usr/local/bin/exposcan" and argv[-1] == "$EXPOSCAN_ARGS"
    args = vars(_scan_args(argv[1:-1]))
    assert args["baseline"] == "last" and args["db"].startswith("/var/lib/exposcan/")
    assert svc["EnvironmentFile"] == ["-/etc/exposcan/audit.env"]
    # And the timer starts it daily, catching up a missed day
    assert timer["Timer"]["Unit"] == ["exposcan-audit.service"]
    assert timer["Timer"]["Persistent"] == ["true"]
    assert timer["Timer"]["OnCalendar"] == ["*-*-* 06:17:00"]
    assert timer["Install"]["WantedBy"] == ["timers.target"]


def _verify(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", "verify", *(str(p) for p in sorted(folder.iterdir()))],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:  # scripts/install-deps.sh installs it
        missing("systemd-analyze")
    # Given the units, the binary path pointed at one that exists here
    # (verify checks ExecStart's file; exposcan may live in a venv here)
    for unit in (CONTRIB / "systemd").iterdir():
        text = unit.read_text().replace("/usr/local/bin/exposcan", shutil.which("true") or "")
        (tmp_path / unit.name).write_text(text)
    # When systemd itself verifies them
    proc = _verify(tmp_path)
    # Then it finds nothing to say
    assert proc.returncode == 0 and proc.stdout + proc.stderr == "", proc.stderr
    # And it would have: an unknown key is reported (the check can fail)
    service = tmp_path / "exposcan-audit.service"
    service.write_text(service.read_text() + "Bogus=1\n")
    assert "Unknown key" in _verify(tmp_path).stderr


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = (CONTRIB / "docker" / "Dockerfile").read_text()
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
    return out


def test_dockerfile_installs_the_package_and_sets_the_entrypoint() -> None:
    steps = _dockerfile()
    kinds = [k for k, _ in steps]
    # Then it starts from Debian 12's Python 3.11 and copies what exists
    assert steps[0] == ("FROM", "python:3.11-slim-bookworm")
    copies = [a.split() for k, a in steps if k == "COPY"]
    for *sources, _dest in copies:
        for src in sources:
            assert (REPO / src).exists(), src
    copied = {src for *sources, _ in copies for src in sources}
    assert {"pyproject.toml", "exposcan", "probes"} <= copied
    # And it installs the package with pip, after the sources are copied
    (run_index,) = [i for i, (k, a) in enumerate(steps) if k == "RUN" and "pip install" in a]
    assert run_index > max(i for i, k in enumerate(kinds) if k == "COPY")
    # And the catalogue is built into the package (no variable needed), the
    # data home is the volume, and the entrypoint is the exposcan command
    env = " ".join(a for k, a in steps if k == "ENV")
    assert "EXPOSCAN_CATALOGUE" not in env
    assert "XDG_DATA_HOME=/data" in env
    assert json.loads(dict(steps)["VOLUME"]) == ["/data"]
    assert json.loads(dict(steps)["ENTRYPOINT"]) == ["exposcan"]


def test_dockerfile_install_steps_work(tmp_path: Path) -> None:
    # Given exactly what the Dockerfile copies, and nothing else
    steps = _dockerfile()
    src = tmp_path / "src"
    src.mkdir()
    for kind, arg in steps:
        if kind != "COPY":
            continue
        *sources, dest = arg.split()
        for s in sources:
            target = src / (Path(s).name if dest in ("./", ".") else Path(dest).name)
            if (REPO / s).is_dir():
                shutil.copytree(
                    REPO / s, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
                )
            else:
                shutil.copy(REPO / s, target)
    # When it is pip-installed as the RUN step does (into a folder of its
    # own; dependencies from this environment: no engine, no registry here)
    site = tmp_path / "site"
    pip = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert pip.returncode == 0, pip.stderr
    # Then the entrypoint command runs, outside the source tree, from the
    # installed copy, and finds the catalogue it carries
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(site),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "HOME": str(tmp_path),
    }
    version = subprocess.run(
        [str(site / "bin" / "exposcan"), "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert version.returncode == 0 and version.stdout.startswith("exposcan "), version.stderr
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "import exposcan; from exposcan.catalogue import "
            "default_catalogue; print(exposcan.__file__); print(len(default_catalogue().rules))",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert check.returncode == 0, check.stderr
    where, rules = check.stdout.split()
    assert where.startswith(str(site)) and int(rules) > 10


def test_readme_shows_the_shipped_cron_line() -> None:
    readme = (REPO / "README.md").read_text()
    job = next(
        ln
        for ln in (CONTRIB / "cron" / "exposcan-audit").read_text().splitlines()
        if ln[:1].isdigit()
    )
    assert job in readme
    for path in ("contrib/systemd/exposcan-audit.service", "contrib/docker/Dockerfile"):
        assert path in readme and (REPO / path).is_file()
