"""How promising a folder is, for the best-first walk: the catalogue's
``folder-scores`` kind (``probes/folder-scores.yaml``).

A folder's score comes from its name (viewers and exports name their folders:
OsiriX's ``DATABASE.noindex``, ``Horos Data``, ``DICOM``, ``Imagerie``...)
and from what its parent was seen to hold (a DICOMDIR, imaging files,
extension-less files as modalities write them).  Scores only order the walk;
a folder never becomes imaging by its name.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, Field

from exposcan.catalogue import Catalogue, CatalogueModel, catalogue_kind


def _glob(pattern: str) -> str:
    if "/" in pattern or "\\" in pattern:
        raise ValueError(f"a folder name, not a path: {pattern!r}")
    if not pattern.strip("*? "):
        raise ValueError(f"a pattern that matches any folder: {pattern!r}")
    return pattern


class NameScore(CatalogueModel):
    #: A folder name, any case; ``*`` and ``?`` as in a shell (fnmatch).
    match: Annotated[str, AfterValidator(_glob)] = Field(min_length=1, max_length=64)
    score: int = Field(ge=-100, le=100)


class HeldScore(CatalogueModel):
    """Added to the subfolders of a folder seen to hold these."""

    dicomdir: int = Field(default=80, ge=0, le=100)
    imaging: int = Field(default=60, ge=0, le=100)
    no_extension: int = Field(default=15, ge=0, le=100)


@catalogue_kind("folder-scores")
class FolderScoresFile(CatalogueModel):
    """``probes/folder-scores.yaml``: the best-first walk's order."""

    names: list[NameScore] = Field(default_factory=list)
    held: HeldScore = Field(default_factory=HeldScore)
    #: Share of its parent's score (name and held) a subfolder inherits.
    inherit_percent: int = Field(default=50, ge=0, le=100)
    #: Taken off per level of depth: shallow first among equals.
    depth_cost: int = Field(default=2, ge=0, le=100)
    #: Taken off a folder per sibling already listed that held nothing the
    #: walk looks for: a parent of 2,000 report folders yields its turn to
    #: the rest of the tree after a few of them.
    barren_sibling_cost: int = Field(default=1, ge=0, le=100)


@dataclass(frozen=True)
class FolderScores:
    names: tuple[tuple[re.Pattern[str], int], ...] = ()
    held_dicomdir: int = HeldScore().dicomdir
    held_imaging: int = HeldScore().imaging
    held_no_extension: int = HeldScore().no_extension
    inherit_percent: int = 50
    depth_cost: int = 2
    barren_sibling_cost: int = 1

    def of_name(self, name: str) -> int:
        """The highest score of the patterns ``name`` matches, else 0."""
        found = [score for pattern, score in self.names if pattern.fullmatch(name)]
        return max(found) if found else 0

    def held(self, dicomdir: bool, imaging: bool, no_extension: bool) -> int:
        return (
            (self.held_dicomdir if dicomdir else 0)
            + (self.held_imaging if imaging else 0)
            + (self.held_no_extension if no_extension else 0)
        )


def folder_scores_from(catalogue: Catalogue) -> FolderScores:
    """The catalogue's folder scores (the last file's tuning wins)."""
    names: list[tuple[re.Pattern[str], int]] = []
    tuning = FolderScoresFile()
    for entry in catalogue.documents(FolderScoresFile):
        names += [
            (re.compile(fnmatch.translate(n.match), re.IGNORECASE), n.score) for n in entry.names
        ]
        tuning = entry
    return FolderScores(
        tuple(names),
        tuning.held.dicomdir,
        tuning.held.imaging,
        tuning.held.no_extension,
        tuning.inherit_percent,
        tuning.depth_cost,
        tuning.barren_sibling_cost,
    )
