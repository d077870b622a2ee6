"""The import-cycle check (scripts/check_import_cycles.py) on the real tree
and on small trees made to fail it: a check that cannot fail proves nothing."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "check_import_cycles", REPO / "scripts" / "check_import_cycles.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "exposcan" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_shipped_package_has_no_import_cycle(capsys) -> None:
    # Given the repository's own exposcan package
    # When the check runs over it
    code = _checker().main(["check", str(REPO)])
    # Then it finds no cycle and no wire module importing the engine
    assert code == 0, capsys.readouterr().out


def test_a_lazy_import_inside_a_function_closes_a_cycle(tmp_path: Path, capsys) -> None:
    # Given a depends on b at the top, and b on a only inside a function
    root = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from exposcan import b\n",
            "b.py": "def f():\n    from exposcan.a import x\n",
        },
    )
    # When the check runs
    code = _checker().main(["check", str(root)])
    # Then the lazy import counts: a cycle of the two modules
    assert code == 1
    assert "import cycle of 2 modules: exposcan.a exposcan.b" in capsys.readouterr().out


def test_a_package_facade_is_no_cycle(tmp_path: Path, capsys) -> None:
    # Given a package whose __init__ re-exports its own submodule
    root = _tree(
        tmp_path,
        {"__init__.py": "", "p/__init__.py": "from exposcan.p.leaf import x\n", "p/leaf.py": ""},
    )
    # When the check runs
    # Then it is no cycle: the facade loads nothing beyond its package
    assert _checker().main(["check", str(root)]) == 0


def test_a_package_init_that_imports_the_engine_closes_a_cycle(tmp_path: Path, capsys) -> None:
    # Given a package whose __init__ imports an engine module that uses one
    # of the package's leaves (the protocol registry once did this)
    root = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "engine.py": "from exposcan.p.leaf import x\n",
            "p/__init__.py": "from exposcan.engine import y\n",
            "p/leaf.py": "",
        },
    )
    # When the check runs
    code = _checker().main(["check", str(root)])
    # Then importing the leaf runs the package, which runs the engine: a cycle
    assert code == 1
    assert "exposcan.engine exposcan.p exposcan.p.leaf" in capsys.readouterr().out


def test_type_checking_imports_do_not_count(tmp_path: Path, capsys) -> None:
    # Given b imports a only for the type checker
    root = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from exposcan import b\n",
            "b.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from exposcan import a\n"
            ),
        },
    )
    # When the check runs
    # Then there is no cycle: that import never runs
    assert _checker().main(["check", str(root)]) == 0


def test_a_wire_module_importing_the_engine_fails(tmp_path: Path, capsys) -> None:
    # Given a protocol's wire codec that imports the probe layer
    root = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "probe.py": "",
            "protocols/__init__.py": "",
            "protocols/x/__init__.py": "",
            "protocols/x/wire.py": "from exposcan.probe import ProbeContext\n",
        },
    )
    # When the check runs
    code = _checker().main(["check", str(root)])
    # Then the edge is named
    assert code == 1
    assert "wire module exposcan.protocols.x.wire imports exposcan.probe" in capsys.readouterr().out
