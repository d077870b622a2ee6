"""Property tests: catalogue files (probes/, or $EXPOSCAN_CATALOGUE).

A practitioner or a packager edits these YAML files by hand: any document,
and any text in a file, gives a valid Catalogue or a CatalogueError whose
message is one line (the CLI prints it and exits 2), never another
exception.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from exposcan.catalogue import Catalogue, CatalogueError, catalogue_dir
from tests.unit.properties import examples, ran

REAL_DOCS = [yaml.safe_load(p.read_text()) for p in sorted(catalogue_dir().rglob("*.yaml"))]
RULES = [d for d in REAL_DOCS if d.get("kind") == "rule"]
PORTS = [d for d in REAL_DOCS if d.get("kind") == "ports"]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-5, 70000)
    | st.floats(allow_nan=True)
    | st.text(max_size=12)
    | st.sampled_from(
        ["rule", "ports", "high", "safe", "equals", "x.y", "dicom.association", "regex", "("]
    )
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "kind",
                    "id",
                    "info",
                    "match",
                    "fact",
                    "all",
                    "field",
                    "op",
                    "value",
                    "ports",
                    "port",
                    "protocol",
                    "severity",
                    "name",
                    "vantage",
                    "i18n",
                ]
            )
            | st.text(max_size=6),
            inner,
            max_size=5,
        )
    ),
    max_leaves=12,
)
documents = st.dictionaries(
    st.sampled_from(["kind", "id", "info", "match", "ports", "safety", "evidence"])
    | st.text(max_size=6),
    values,
    max_size=6,
)


def _mutate(doc: dict[str, Any], path: list[str], value: Any, delete: bool) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    node: Any = doc
    for key in path[:-1]:
        if isinstance(node, dict) and key in node:
            node = node[key]
    if isinstance(node, dict) and path:
        if delete:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = value
    return doc


mutated = st.builds(
    _mutate,
    st.sampled_from(RULES + PORTS),
    st.lists(
        st.sampled_from(
            [
                "kind",
                "id",
                "info",
                "severity",
                "match",
                "fact",
                "all",
                "ports",
                "safety",
                "name",
                "i18n",
            ]
        ),
        min_size=1,
        max_size=3,
    ),
    values,
    st.booleans(),
)


@examples(300)
@given(st.lists(documents | mutated, min_size=1, max_size=3))
def test_any_documents_give_a_catalogue_or_one_line_error(docs: list[dict[str, Any]]) -> None:
    ran("catalogue: documents")
    # Given any documents (random, or real rules and port lists mutated)
    try:
        cat = Catalogue([(Path(f"probes/x{i}.yaml"), d) for i, d in enumerate(docs)])
    except CatalogueError as exc:
        # Then a one-line CatalogueError naming the file ...
        assert "\n" not in str(exc) and "probes/x" in str(exc)
        return
    # ... or a catalogue whose ports and rules are usable
    assert all(1 <= p <= 65535 for p in cat.default_ports())
    for rule in cat.rules.values():
        rule.matches(rule.match.fact, {}, rule.match.vantage or "lan")  # type: ignore[arg-type]


@examples(150)
@given(
    st.text(max_size=200)
    | st.sampled_from(
        [
            "kind: rule\nid: [x\n",
            "a: &a [*a]\n",
            "kind: ports\nports: 5\n",
            "\ufeffkind: x\n",
            "- 1\n- 2\n",
            "kind: rule\n" + "  " * 50 + "x",
        ]
    )
    | st.binary(max_size=100).map(lambda b: b.decode("latin-1"))
)
def test_any_file_text_gives_a_catalogue_or_one_line_error(text: str) -> None:
    ran("catalogue: file text")
    # Given a catalogue folder holding one file of any text
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "x.yaml").write_bytes(text.encode("utf-8", "surrogatepass"))
        try:
            Catalogue.load(Path(tmp))
        except CatalogueError as exc:
            # Then a one-line CatalogueError, or a catalogue
            assert "\n" not in str(exc)
