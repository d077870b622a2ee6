"""The bounded share walk, over an in-memory share (the transport is a
Protocol; the real one is exercised in the lab)."""

from __future__ import annotations

import threading
import time

from exposcan.catalogue import default_catalogue
from exposcan.healthdata import health_signatures_from
from exposcan.imaging import signatures_from
from exposcan.protocols.smb.walk import (
    Entry,
    ShareAccessDenied,
    ShareSessionLost,
    WalkLimits,
    walk_share,
)
from exposcan.walk import folder_scores_from

#: The shipped catalogue's signatures, as a scan gives them to the walk.
SIGS = default_catalogue().derived(signatures_from)
HEALTH = default_catalogue().derived(health_signatures_from)
SCORES = default_catalogue().derived(folder_scores_from)

DICOM = b"\x00" * 128 + b"DICM"
TEXT = b"not an image" * 20


class MemoryShare:
    """A share as a dict path -> bytes (files) or None (folders)."""

    def __init__(
        self,
        tree: dict[str, bytes | None],
        denied: set[str] = frozenset(),
        lost_after: int | None = None,
    ) -> None:
        self.tree = tree
        self.denied = denied
        self.lost_after = lost_after
        self.calls = 0
        self.reads: list[tuple[str, int]] = []

    def _tick(self) -> None:
        self.calls += 1
        if self.lost_after is not None and self.calls > self.lost_after:
            raise ShareSessionLost("gone")

    def list_folder(self, path: str, max_entries: int) -> tuple[list[Entry], bool]:
        self._tick()
        if path in self.denied:
            raise ShareAccessDenied("no")
        prefix = path + "\\" if path else ""
        children = sorted(
            key for key in self.tree if key.startswith(prefix) and "\\" not in key[len(prefix) :]
        )
        entries = [Entry(c[len(prefix) :], self.tree[c] is None) for c in children]
        return entries[:max_entries], len(entries) > max_entries

    def read_head(self, path: str, size: int) -> bytes:
        self._tick()
        if path in self.denied:
            raise ShareAccessDenied("no")
        self.reads.append((path, size))
        data = self.tree[path]
        assert data is not None
        return data[:size]


def lab_like_share() -> dict[str, bytes | None]:
    return {
        "Examens": None,
        "Examens\\2019": None,
        "Examens\\2019\\P1": None,
        "Examens\\2019\\P1\\CT0001.dcm": DICOM,
        "Examens\\2019\\P1\\CT0002.DCM": DICOM,
        "Examens\\2020": None,
        "Examens\\2020\\IM000001": DICOM,
        "Examens\\2020\\IM000002": TEXT,  # no extension, not DICOM
        "Examens\\planning.csv": TEXT,
        "Export_CD": None,
        "Export_CD\\DICOMDIR": DICOM,
        "Export_CD\\00000001": DICOM,
        "LISEZMOI.txt": TEXT,
    }


def test_counts_imaging_by_name_magic_and_dicomdir():
    # Given a share with .dcm files, extension-less DICOM, a DICOMDIR and text
    share = MemoryShare(lab_like_share())
    # When it is walked
    result = walk_share(share, SIGS, WalkLimits(), HEALTH)
    # Then the counts are exact and nothing was cut
    assert result.imaging_files == 5
    assert result.imaging_folders == 3
    assert (result.by_name, result.by_magic, result.dicomdir) == (3, 2, 1)
    assert result.files_seen == 8 and result.folders_seen == 5
    assert result.truncated is False


def test_reads_only_the_head_and_only_files_without_extension_or_health_candidates():
    share = MemoryShare(lab_like_share())
    walk_share(share, SIGS, WalkLimits(), HEALTH)
    # Then the .dcm and .csv files were never opened; extension-less files
    # (DICM magic, HPRIM/HL7) and the .txt (a health-data candidate) were,
    # each read asking the health read size (1 KiB), no more
    assert sorted(p.rsplit("\\", 1)[-1] for p, _ in share.reads) == [
        "00000001",
        "IM000001",
        "IM000002",
        "LISEZMOI.txt",
    ]
    assert {size for _, size in share.reads} == {HEALTH.read_size} == {1024}


def test_health_data_is_counted_by_content_and_never_named():
    # Given a share with laboratory results (HPRIM, HL7 v2), a CDA, a FHIR
    # bundle and text that only looks like them
    tree: dict[str, bytes | None] = {
        "Resultats": None,
        "Resultats\\CNRY-0001.hpr": b"H|^~\\&|LABO||\r\nP|1||CNRY-0001||CANARY^ALICE\r\n",
        "Resultats\\00042": b"\x0bMSH|^~\\&|LAB|X|||20240101||ORU^R01|1|P|2.5\r",
        "Resultats\\cr.xml": b'<?xml version="1.0"?><ClinicalDocument xmlns="urn:hl7-org:v3">',
        "Resultats\\b.json": b'{"resourceType": "Bundle", "entry": []}',
        "Resultats\\notes.txt": b"H| is not HPRIM without a patient record",
        "Resultats\\plain.json": b'{"kind": "settings"}',
    }
    share = MemoryShare(tree)
    # When the share is walked
    result = walk_share(share, SIGS, WalkLimits(), HEALTH)
    # Then four health-data files are counted, by kind, and no name or byte leaves
    assert result.health_files == 4
    assert result.health_kinds == {"hprim": 1, "hl7v2": 1, "cda": 1, "fhir": 1}
    assert result.imaging_files == 0
    assert "CNRY" not in repr(result) and "CANARY" not in repr(result)


def test_result_holds_no_name():
    # Given names that must never leave the walk
    share = MemoryShare(lab_like_share())
    result = walk_share(share, SIGS, WalkLimits(), HEALTH)
    text = repr(result)
    for name in ("Examens", "Export_CD", "CT0001", "IM000001", "LISEZMOI", "planning"):
        assert name not in text


def test_depth_limit_cuts_and_says_so():
    share = MemoryShare(lab_like_share())
    result = walk_share(share, SIGS, WalkLimits(depth=1), HEALTH)
    # Examens\\2019\\P1 (depth 3) is not entered: its two .dcm are not counted
    assert result.imaging_files == 2
    assert "depth" in result.cut_by and result.truncated


def test_request_budget_cuts():
    # Given 50 folders of one DICOM file each, and a budget of 10 requests
    tree: dict[str, bytes | None] = {f"f{i:02d}": None for i in range(50)}
    tree.update({f"f{i:02d}\\x.dcm": DICOM for i in range(50)})
    share = MemoryShare(tree)
    result = walk_share(share, SIGS, WalkLimits(requests=10), HEALTH)
    # Then exactly 10 requests were made (the root and 9 folders), the cut is
    # said, and the unlisted folders are counted
    assert share.calls == result.requests == 10
    assert result.folders_listed == 10 and result.imaging_files == 9
    assert result.cut_by == ["requests"] and result.folders_left == 41


def test_byte_budget_cuts():
    tree: dict[str, bytes | None] = {f"f{i:02d}": None for i in range(50)}
    result = walk_share(MemoryShare(tree), SIGS, WalkLimits(bytes=1000), HEALTH)
    # The root's listing (50 entries of 104 bytes and more) is past 1000 bytes
    assert result.folders_listed == 1 and result.cut_by == ["bytes"]
    assert result.bytes_read > 1000


def test_a_few_files_per_folder_are_read_then_the_rest_if_the_budget_allows():
    tree: dict[str, bytes | None] = {f"IM{i:06d}": DICOM for i in range(20)}
    # With 6 requests: the listing and 5 reads, the rest left unread
    share = MemoryShare(tree)
    result = walk_share(share, SIGS, WalkLimits(requests=6, samples_per_folder=5), HEALTH)
    assert len(share.reads) == 5 and result.imaging_files == 5
    assert result.cut_by == ["requests"]
    # With the default budget: 3 at once, the other 17 in the last pass
    share = MemoryShare(tree)
    result = walk_share(share, SIGS, WalkLimits(), HEALTH)
    assert len(share.reads) == 20 and result.imaging_files == 20 and not result.truncated


def test_deadline_and_stop_flag_end_the_walk():
    share = MemoryShare(lab_like_share())
    past = walk_share(share, SIGS, WalkLimits(deadline=time.monotonic() - 1), HEALTH)
    assert past.cut_by == ["time"] and share.calls == 0
    stop = threading.Event()
    stop.set()
    stopped = walk_share(share, SIGS, WalkLimits(), HEALTH, stop)
    assert stopped.cut_by == ["cancelled"]


def test_denied_folder_is_skipped_and_lost_session_stops():
    denied = walk_share(
        MemoryShare(lab_like_share(), denied={"Examens"}), SIGS, WalkLimits(), HEALTH
    )
    assert denied.unreadable == 1 and denied.imaging_files == 2
    assert denied.truncated is False
    lost = walk_share(MemoryShare(lab_like_share(), lost_after=2), SIGS, WalkLimits(), HEALTH)
    assert "session" in lost.cut_by


def test_text_files_never_starve_the_dicm_test():
    # Given a share whose text files (health-data candidates) come first, in
    # number far past the per-folder reads, and one extension-less DICOM file
    tree: dict[str, bytes | None] = {f"a{i:03d}.txt": TEXT for i in range(40)}
    tree = {**tree, "zz": None, "zz\\IM000001": DICOM}
    share = MemoryShare(tree)
    # When walked with a budget of 8 requests (two listings, six reads)
    result = walk_share(share, SIGS, WalkLimits(requests=8, samples_per_folder=5), HEALTH)
    # Then the DICOM file is still read and counted; the cut is said
    assert result.imaging_files == 1 and result.by_magic == 1
    assert "requests" in result.cut_by


def deep_share() -> dict[str, bytes | None]:
    """Eight office folders of 700 documents each, and DICOM files five
    levels down."""
    tree: dict[str, bytes | None] = {}
    for i in range(8):
        tree[f"A{i:02d}"] = None
        tree.update({f"A{i:02d}\\doc{j:04d}.odt": TEXT for j in range(700)})
    for path in (
        "Zarchives",
        "Zarchives\\2019",
        "Zarchives\\2019\\Export",
        "Zarchives\\2019\\Export\\P1",
    ):
        tree[path] = None
    tree.update({f"Zarchives\\2019\\Export\\P1\\IM{i:06d}": DICOM for i in range(6)})
    return tree


def test_a_deep_share_shows_its_images_within_the_bounds() -> None:
    # Given a share of 5,600 office files, images five levels down
    share = MemoryShare(deep_share())
    # When it is walked with the default bounds
    result = walk_share(share, SIGS, WalkLimits(), HEALTH, scores=SCORES)
    # Then the images are found and counted, all of them (three read with
    # their folder's listing, three in the last pass), within the bounds
    assert result.imaging_files == 6 and result.imaging_folders == 1
    assert result.by_magic == 6 and result.depth_reached == 4
    assert not result.truncated and result.folders_left == 0


def test_imaging_export_folders_are_walked_first() -> None:
    # Given a budget for one folder listing past the root, and two folders
    tree: dict[str, bytes | None] = {
        "Admin": None,
        "Admin\\IM000001": DICOM,
        "Export_CD": None,
        "Export_CD\\IM000001": DICOM,
    }
    share = MemoryShare(tree)
    result = walk_share(share, SIGS, WalkLimits(requests=3), HEALTH, scores=SCORES)
    # Then the export folder (catalogue folder scores) was the one listed
    assert result.imaging_files == 1
    listed = [p for p, _ in share.reads]
    assert listed == ["Export_CD\\IM000001"]
    assert result.folders_left == 1 and result.imaging_named_folders_left == 0
