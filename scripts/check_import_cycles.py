"""Fails when the modules of ``exposcan`` import each other in a cycle.

Every ``import`` and ``from ... import`` statement counts, wherever it sits:
at the top of a module or inside a function (a lazy import is still an
edge: it runs the first time the function does).  Importing a module also
runs its parent packages' ``__init__``, so every module has an edge to its
parent package.  Left out: imports under ``if TYPE_CHECKING:`` (they never
run), and a package's ``__init__`` importing its own submodules (a facade:
what it loads is the package itself, so it pulls nothing else in).

Also checked: wire and codec modules (the byte-level code of a protocol)
import nothing of the engine, so that they can be read, fuzzed and reused
alone.

Usage: ``python scripts/check_import_cycles.py [REPO]``; exit 0 when the graph
is acyclic, 1 with one line per cycle (its modules) or forbidden edge.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "exposcan"

#: Modules that encode and decode bytes only (pynetdicom's pdu.py is the
#: model), by their last name part.
WIRE_NAMES = frozenset({"wire", "pdu", "xml", "natpmp", "mmsg", "negotiate"})
#: What a wire module must not import: the engine, the catalogue and the
#: probes, the scan's state and words, and the layers above (reports, audit,
#: outside view).  The bounded I/O of ``exposcan.net``, the bounds it reads
#: (``exposcan.limits``) and the data models stay allowed.
_ENGINE_MODULES = (
    "engine",
    "catalogue",
    "config",
    "state",
    "notes",
    "cli",
    "verdict",
    "findings",
    "facts",
    "probe",
    "imaging",
    "healthdata",
    "walk",
    "report",
    "audit",
    "outside",
)
ENGINE = frozenset(f"exposcan.{name}" for name in _ENGINE_MODULES)


def modules(repo: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted((repo / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(repo).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _type_checking_only(node):
            for child in node.orelse:
                yield from _imports(child)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _imports(node)


def edges(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    def owner(dotted: str) -> str | None:
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    out: set[str] = set()
    parent = name.rpartition(".")[0]
    if parent:
        out.add(parent)
    is_package = path.name == "__init__.py"
    for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            targets = [f"{module}.{alias.name}" for alias in node.names]
            targets.append(module)
        for target in targets:
            if target.split(".")[0] != PACKAGE:
                continue
            hit = target if target in known else owner(target)
            if hit and hit != name:
                out.add(hit)
                # Importing a.b.c runs a and a.b first.
                up = hit.rpartition(".")[0]
                while up:
                    out.add(up)
                    up = up.rpartition(".")[0]
    out.discard(name)
    if is_package:
        out = {t for t in out if not t.startswith(name + ".")}
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan),
    iterative so that a deep graph cannot overflow the stack."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def wire_violations(graph: dict[str, set[str]]) -> list[str]:
    bad: list[str] = []
    for name, targets in sorted(graph.items()):
        if name.rsplit(".", 1)[-1] not in WIRE_NAMES:
            continue
        for target in sorted(targets):
            engine = target in ENGINE or any(target.startswith(e + ".") for e in ENGINE)
            if engine or target.endswith((".probe", ".facts", ".catalogue")):
                bad.append(f"wire module {name} imports {target} (engine code)")
    return bad


def main(argv: list[str]) -> int:
    repo = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parents[1]
    known = modules(repo)
    graph = {name: edges(name, path, known) for name, path in known.items()}
    problems = [f"import cycle of {len(c)} modules: {' '.join(c)}" for c in cycles(graph)]
    problems += wire_violations(graph)
    for line in problems:
        print(line)
    if not problems:
        print(f"no import cycle among {len(known)} modules of {PACKAGE}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
