"""The port list as a port scan reads it (exposcan.portlist) and as the
catalogue validates it (PortList): the same answers, the same refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from exposcan.catalogue import Catalogue, CatalogueError, catalogue_dir
from exposcan.portlist import default_ports, read_port_list


def test_the_shipped_port_list_reads_the_same_both_ways() -> None:
    # Given the shipped catalogue, read by the catalogue and by the port scan
    catalogue = Catalogue.load()
    guesses = read_port_list()
    # Then every port has the same protocol, TLS flag and default flag
    assert {p: (e.protocol, e.tls, e.default) for p, e in catalogue.ports.items()} == {
        p: (g.protocol, g.tls, g.default) for p, g in guesses.items()
    }
    assert default_ports(guesses) == catalogue.default_ports()
    assert guesses and catalogue_dir().is_dir()


def _catalogue_of(tmp_path: Path, ports: Any) -> Path:
    root = tmp_path / "probes"
    root.mkdir()
    (root / "ports.yaml").write_text(yaml.safe_dump({"kind": "ports", "ports": ports}))
    return root


@pytest.mark.parametrize(
    "ports",
    [
        [{"port": 0, "protocol": "http"}],
        [{"port": 70000, "protocol": "http"}],
        [{"port": "80", "protocol": "http"}],
        [{"port": True, "protocol": "http"}],
        [{"port": 80}],
        [{"port": 80, "protocol": 8}],
        [{"port": 80, "protocol": "http", "tls": "yes"}],
        [{"port": 80, "protocol": "http", "default": 1}],
        [{"port": 80, "protocol": "http", "label": 3}],
        [{"port": 80, "protocol": "http", "sevice": "web"}],
        ["80"],
        {"port": 80},
    ],
)
def test_a_broken_port_list_is_refused_both_ways(tmp_path: Path, ports: Any) -> None:
    # Given a catalogue whose port list has one mistake
    root = _catalogue_of(tmp_path, ports)
    # Then the catalogue refuses it, and so does the port scan's reader,
    # with one line naming the file
    with pytest.raises(CatalogueError):
        Catalogue.load(root)
    with pytest.raises(CatalogueError) as refused:
        read_port_list(root)
    assert str(root / "ports.yaml") in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_later_entry_for_a_port_wins_both_ways(tmp_path: Path) -> None:
    # Given two port list files naming port 80 differently
    root = _catalogue_of(tmp_path, [{"port": 80, "protocol": "http"}])
    (root / "zz-more.yaml").write_text(
        yaml.safe_dump({"kind": "ports", "ports": [{"port": 80, "protocol": "dicom"}]})
    )
    # Then both readers keep the one read last
    assert Catalogue.load(root).ports[80].protocol == "dicom"
    assert read_port_list(root)[80].protocol == "dicom"
