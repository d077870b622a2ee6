"""The one best-first walk (exposcan/walk), over in-memory trees: its order,
its bounds, and no name in what it returns. The transports are exercised by
the SMB, FTP and HTTP tests and in the lab."""

from __future__ import annotations

import asyncio
import tracemalloc
from pathlib import Path

import pytest

from exposcan.catalogue import Catalogue, CatalogueError, default_catalogue
from exposcan.healthdata import health_signatures_from
from exposcan.imaging import signatures_from
from exposcan.walk import (
    AccessDenied,
    Entry,
    FolderScores,
    Listing,
    Walker,
    WalkLimits,
    folder_scores_from,
    unfinished,
    unfinished_detail,
    walk_async,
    walk_blocking,
)

SIGS = default_catalogue().derived(signatures_from)
HEALTH = default_catalogue().derived(health_signatures_from)
SCORES = default_catalogue().derived(folder_scores_from)
DICOM = b"\x00" * 128 + b"DICM" + b"\x00" * 64
PDF = b"%PDF-1.4"


class Tree:
    """A tree as a dict path -> bytes (files) or None (folders), "/" separated."""

    def __init__(self, files: dict[str, bytes | None]) -> None:
        self.files = files
        self.children: dict[str, list[str]] = {"": []}
        for path in files:
            parent = path.rsplit("/", 1)[0] if "/" in path else ""
            self.children.setdefault(parent, []).append(path)
            if files[path] is None:
                self.children.setdefault(path, [])
        self.listed: list[str] = []
        self.reads: list[str] = []

    def join(self, folder: str, name: str) -> str:
        return f"{folder}/{name}" if folder else name

    def list_folder(self, path: str, max_entries: int) -> Listing:
        if path not in self.children:
            raise AccessDenied("no")
        self.listed.append(path)
        kids = self.children[path]
        entries = [Entry(k.rsplit("/", 1)[-1], self.files[k] is None) for k in kids]
        return Listing(entries[:max_entries], len(entries) > max_entries, 80 * len(entries))

    def read_head(self, path: str, size: int) -> bytes:
        self.reads.append(path)
        data = self.files[path]
        assert data is not None
        return data[:size]


def walk(tree: Tree, limits: WalkLimits, scores: FolderScores = SCORES) -> Walker:
    walker = Walker("", tree.join, SIGS, HEALTH, scores, limits)
    walk_blocking(tree, walker)
    return walker


def reports(tree: dict[str, bytes | None], parent: str, folders: int, files: int) -> None:
    for i in range(folders):
        folder = f"{parent}/Dossier {i:04d}" if parent else f"Dossier {i:04d}"
        tree[folder] = None
        for j in range(files):
            tree[f"{folder}/CR-{j:03d}.pdf"] = PDF


def share_of_2000_folders(imaging_folder: str) -> dict[str, bytes | None]:
    """1,998 folders of 50 reports, then the images in one folder listed last
    (100,000 files in 2,000 folders, as the lab's share)."""
    tree: dict[str, bytes | None] = {"Comptes-rendus": None}
    reports(tree, "Comptes-rendus", 1998, 50)
    tree[imaging_folder] = None
    tree.update({f"{imaging_folder}/IM{n:06d}": DICOM for n in range(100)})
    return tree


def test_images_in_a_late_plainly_named_folder_are_found_within_the_bounds() -> None:
    # Given 2,000 folders of which the images' folder, "Imagerie", is listed last
    tree = Tree(share_of_2000_folders("Comptes-rendus/Imagerie"))
    assert len(tree.files) == 100_000 + 2_000
    # When the tree is walked with a budget of 50 requests
    tracemalloc.start()
    walker = walk(tree, WalkLimits(requests=50))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    result = walker.result
    # Then the folder is the third one listed (the root, its parent, it) and
    # its images are counted, though the walk stopped at its bound
    assert tree.listed[2] == "Comptes-rendus/Imagerie"
    assert result.imaging_files >= 3 and result.imaging_folders == 1
    assert result.cut_by == ["requests"] and result.requests == 50
    assert result.folders_left == 2_001 - result.folders_listed  # the root too
    assert peak < 16 * 1024 * 1024
    # And a breadth-first order (no scores) over the same budget misses them
    blind = walk(Tree(tree.files), WalkLimits(requests=50), FolderScores())
    assert blind.result.imaging_files == 0


def test_images_under_an_unscored_name_are_reached_once_the_reports_prove_barren() -> None:
    # Given 1,990 folders of reports, and the images three levels down
    # another folder whose names the catalogue does not know
    tree_files: dict[str, bytes | None] = {"Rapports": None}
    reports(tree_files, "Rapports", 1990, 5)
    for folder in ("Sauvegarde", "Sauvegarde/2024", "Sauvegarde/2024/Cabinet"):
        tree_files[folder] = None
    tree_files.update({f"Sauvegarde/2024/Cabinet/{n:08d}": DICOM for n in range(10)})
    tree = Tree(tree_files)
    # When walked with 60 requests
    result = walk(tree, WalkLimits(requests=60)).result
    # Then after a few barren report folders the other branch gets its turn
    assert result.imaging_files >= 3
    assert tree.listed.index("Sauvegarde/2024/Cabinet") < 20


def test_an_osirix_database_after_hundreds_of_report_folders() -> None:
    # Given an OsiriX Data folder: 400 folders of reports, then the database
    tree_files: dict[str, bytes | None] = {"OsiriX Data": None, "OsiriX Data/REPORTS": None}
    reports(tree_files, "OsiriX Data/REPORTS", 400, 3)
    tree_files["OsiriX Data/Database.sql"] = b"SQLite format 3\x00"
    tree_files["OsiriX Data/DATABASE.noindex"] = None
    for folder in (10000, 20000):
        tree_files[f"OsiriX Data/DATABASE.noindex/{folder}"] = None
        tree_files.update(
            {f"OsiriX Data/DATABASE.noindex/{folder}/{n}.dcm": DICOM for n in range(1, 40)}
        )
    tree = Tree(tree_files)
    # When walked with 20 requests
    result = walk(tree, WalkLimits(requests=20)).result
    # Then the database's files are counted by name, its folders listed
    # before the reports
    assert result.imaging_files == 78 and result.imaging_folders == 2
    assert result.by_name == 78 and result.cut_by == ["requests"]
    assert tree.listed[2:5] == [
        "OsiriX Data/DATABASE.noindex",
        "OsiriX Data/DATABASE.noindex/10000",
        "OsiriX Data/DATABASE.noindex/20000",
    ]


def test_a_tree_without_imaging_stops_at_its_bound_and_says_which() -> None:
    tree_files: dict[str, bytes | None] = {}
    reports(tree_files, "", 600, 4)
    # By requests
    result = walk(Tree(tree_files), WalkLimits(requests=100)).result
    assert result.imaging_files == 0 and result.cut_by == ["requests"]
    assert result.requests == 100 and result.folders_left == 601 - 100
    # By bytes (each listing here is 80 bytes an entry)
    result = walk(Tree(tree_files), WalkLimits(bytes=60_000)).result
    assert result.cut_by == ["bytes"] and result.bytes_read >= 60_000
    # By seconds (none left)
    result = walk(Tree(tree_files), WalkLimits(seconds=0)).result
    assert result.cut_by == ["time"] and result.requests == 0
    # And with room enough it ends on its own, nothing cut
    result = walk(Tree(tree_files), WalkLimits(requests=10_000)).result
    assert not result.truncated and result.folders_listed == 601


def test_no_name_leaves_the_walk() -> None:
    # Given a tree of canary-like names
    tree = Tree(share_of_2000_folders("Comptes-rendus/CNRY-0001 CANARY^ALICE"))
    walker = walk(tree, WalkLimits(requests=3000))
    # Then its evidence holds counts and the bounds' names only
    evidence = walker.result.evidence()
    text = repr(evidence) + repr(walker.result)
    for name in ("CNRY", "CANARY", "Dossier", "Comptes", "IM0000", "CR-0"):
        assert name not in text
    assert all(isinstance(v, int | bool | list) for v in evidence.values())
    assert walker.result.imaging_files == 100


def test_the_same_walk_runs_from_the_event_loop() -> None:
    class AsyncTree:
        def __init__(self, tree: Tree) -> None:
            self.tree = tree

        def join(self, folder: str, name: str) -> str:
            return self.tree.join(folder, name)

        async def list_folder(self, path: str, max_entries: int) -> Listing:
            return self.tree.list_folder(path, max_entries)

        async def read_head(self, path: str, size: int) -> bytes:
            return self.tree.read_head(path, size)

    tree = Tree(share_of_2000_folders("Comptes-rendus/DICOM"))
    walker = Walker("", tree.join, SIGS, HEALTH, SCORES, WalkLimits(requests=40))
    result = asyncio.run(walk_async(AsyncTree(tree), walker))
    assert result.imaging_files >= 3 and result.cut_by == ["requests"]


@pytest.mark.parametrize(
    "doc",
    [
        "kind: folder-scores\nnames: [{match: 'a/b', score: 1}]\n",
        "kind: folder-scores\nnames: [{match: '*', score: 1}]\n",
        "kind: folder-scores\nnames: [{match: DICOM, score: 500}]\n",
        "kind: folder-scores\nnames: [{match: DICOM, scor: 5}]\n",
        "kind: folder-scores\nheld: {dicomdir: -1}\n",
        "kind: folder-scores\ninherit_percent: 150\n",
    ],
)
def test_a_malformed_folder_scores_file_is_refused_at_load(tmp_path: Path, doc: str) -> None:
    (tmp_path / "scores.yaml").write_text(doc)
    with pytest.raises(CatalogueError, match=r"scores\.yaml"):
        Catalogue.load(tmp_path)


def test_the_shipped_scores_rank_viewer_databases_first() -> None:
    assert SCORES.of_name("database.NOINDEX") == 100
    assert SCORES.of_name("OsiriX Data") == SCORES.of_name("Horos Data") == 80
    assert SCORES.of_name("DICOM") > SCORES.of_name("Examens") > 0
    assert SCORES.of_name("Rapports") == 0 and SCORES.of_name("REPORTS") < 0


@pytest.mark.parametrize(
    ("cut_by", "reason"),
    [
        ([], None),
        (["requests"], None),
        (["bytes", "depth", "folder-size"], None),
        (["time"], "timeout"),
        (["requests", "time"], "timeout"),
        (["error"], "protocol"),
    ],
)
def test_only_a_walk_out_of_time_or_failed_is_unfinished(
    cut_by: list[str], reason: str | None
) -> None:
    # Given how a walk was cut, Then only time (which a busy machine runs
    # short of) and a failed read leave its "no image" unproven; its own
    # bounds (requests, bytes, sizes) are the same on any machine
    found = unfinished(cut_by)
    assert (found.value if found is not None else None) == reason
    detail = unfinished_detail("share walk", cut_by, 12, 340)
    assert "12 folders and 340 files seen" in detail
