"""``exposcan catalogue import-advisories``: NVD CVE JSON 2.0 and CISA KEV
CSV files into advisory YAML, through the real CLI (a subprocess) on small
sample files of our own (tests/unit/data/advisories/, fictional CVE-2099-*
ids: nothing here is a real advisory)."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from exposcan.catalogue import Catalogue, catalogue_dir
from exposcan.software.advisories import Advisory, affecting
from tests.support.cli import run_cli

DATA = Path(__file__).resolve().parent / "data" / "advisories"
NVD = DATA / "nvd-cve-2.0-sample.json"
KEV = DATA / "kev-sample.csv"


def _catalogue_copy(tmp_path: Path) -> Path:
    root = tmp_path / "probes"
    shutil.copytree(catalogue_dir(), root)
    return root


def test_nvd_and_kev_become_advisories_the_catalogue_loads(tmp_path: Path) -> None:
    # Given a copy of the catalogue, an NVD CVE JSON 2.0 file and a KEV CSV
    root = _catalogue_copy(tmp_path)
    out = root / "advisories" / "imported"
    # When they are imported into it
    run = run_cli(
        "catalogue", "import-advisories", str(NVD), str(KEV), env={"EXPOSCAN_CATALOGUE": str(root)}
    )
    # Then exit 0, two advisories (dcmtk's range, Orthanc's one version);
    # the unknown product and the unbounded match are counted, not written
    assert (run.returncode, run.stderr) == (0, "")
    assert "2 advisories written" in run.stdout
    assert "1 for products the catalogue does not name" in run.stdout
    assert "1 ranges without an upper bound" in run.stdout
    dcmtk = yaml.safe_load((out / "offis" / "dcmtk" / "CVE-2099-0001.yaml").read_text())
    assert dcmtk["cpe"] == "cpe:2.3:a:offis:dcmtk"
    assert dcmtk["affected"] == [{"start_including": "3.6.0", "end_excluding": "3.7.1"}]
    assert dcmtk["fixed"] == "3.7.1"
    # NVD's primary score, the first sentence, https sources only, KEV's flag
    assert dcmtk["cvss"] == {
        "version": "3.1",
        "score": 7.5,
        "vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
    }
    assert dcmtk["title"].endswith("crash storescp.")
    assert dcmtk["sources"] == [
        "https://nvd.nist.gov/vuln/detail/CVE-2099-0001",
        "https://support.dcmtk.org/redmine/issues/99999",
    ]
    assert dcmtk["known_exploited"] is True
    orthanc = yaml.safe_load(
        (out / "orthanc-server" / "orthanc" / "CVE-2099-0002.yaml").read_text()
    )
    assert orthanc["affected"] == [{"start_including": "1.10.1", "end_including": "1.10.1"}]
    assert orthanc["known_exploited"] is True  # cisaExploitAdd in the NVD record
    # and the catalogue loads them, and matches versions with them
    catalogue = Catalogue.load(root)
    ids = {a.id for a in catalogue.documents(Advisory)}
    assert {"CVE-2099-0001", "CVE-2099-0002", "ICSMA-26-181-01"} <= ids
    dcmtk_ids = {a.id for a in affecting(catalogue, "cpe:2.3:a:offis:dcmtk", "3.6.7")}
    assert "CVE-2099-0001" in dcmtk_ids
    assert "CVE-2099-0001" not in {
        a.id for a in affecting(catalogue, "cpe:2.3:a:offis:dcmtk", "3.5.4")
    }


def test_a_later_kev_marks_earlier_imports(tmp_path: Path) -> None:
    # Given an NVD import without KEV into an output folder
    out = tmp_path / "imported"
    run = run_cli("catalogue", "import-advisories", str(NVD), "--out", str(out))
    assert (run.returncode, run.stderr) == (0, "")
    path = out / "offis" / "dcmtk" / "CVE-2099-0001.yaml"
    assert yaml.safe_load(path.read_text())["known_exploited"] is False
    # When the KEV CSV alone is imported into the same folder
    run = run_cli("catalogue", "import-advisories", str(KEV), "--out", str(out))
    # Then the earlier advisory is marked, and keeps its header comment
    assert (run.returncode, run.stderr) == (0, "")
    assert "1 earlier imports marked known exploited" in run.stdout
    text = path.read_text()
    assert text.startswith("# Imported by")
    assert yaml.safe_load(text)["known_exploited"] is True


def test_a_file_of_neither_format_is_an_error(tmp_path: Path) -> None:
    # Given a file that is neither NVD JSON nor a KEV CSV, and a JSON without the list
    junk = tmp_path / "notes.txt"
    junk.write_text("hello\n")
    other = tmp_path / "other.json"
    other.write_text('{"CVE_Items": []}')
    for path in (junk, other):
        # When it is imported
        run = run_cli("catalogue", "import-advisories", str(path), "--out", str(tmp_path / "o"))
        # Then exit 2, one line naming the file, nothing written
        assert run.returncode == 2 and run.stdout == ""
        assert run.stderr.startswith("exposcan: error: ") and path.name in run.stderr
        assert not (tmp_path / "o").exists()
