"""The folders a best-first walk has seen and not listed yet, best first.

Folders wait in their parent's group, each group a heap by the folder's own
score (its name, what its parent held, depth); the groups wait in one heap
by their best folder's score minus the group's barren siblings (folders of
the group listed that held nothing).  A barren listing re-ranks its group
only: one push, whatever the number of siblings (a folder of 2,000 report
folders costs no more than one of two).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field


@dataclass(order=True)
class Folder:
    key: int  # the negated score: heapq pops the smallest
    order: int
    path: str = field(compare=False)
    depth: int = field(compare=False)
    base: int = field(compare=False)
    #: Under or at a folder the catalogue scores up (counted when left).
    named: bool = field(compare=False)
    group: Group = field(compare=False)


@dataclass(eq=False)
class Group:
    """The subfolders of one listed folder."""

    base: int  # what the subfolders inherit (a share of the parent's score, held)
    barren: int = 0
    version: int = 0
    waiting: list[Folder] = field(default_factory=list)


class Frontier:
    def __init__(self, depth_cost: int, barren_cost: int) -> None:
        self.depth_cost = depth_cost
        self.barren_cost = barren_cost
        self._groups: list[tuple[int, int, int, Group]] = []  # key, order, version, group
        self._every: list[Group] = []
        self._order = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def group(self, base: int) -> Group:
        made = Group(base)
        self._every.append(made)
        return made

    def push(self, group: Group, path: str, depth: int, base: int, named: bool) -> None:
        self._order += 1
        folder = Folder(
            -(base - self.depth_cost * depth), self._order, path, depth, base, named, group
        )
        was_best = group.waiting[0] if group.waiting else None
        heapq.heappush(group.waiting, folder)
        self.size += 1
        if was_best is None or folder < was_best:
            self._rank(group)

    def pop(self) -> Folder:
        while True:
            _, _, version, group = heapq.heappop(self._groups)
            if version == group.version and group.waiting:
                break
        folder = heapq.heappop(group.waiting)
        self.size -= 1
        self._rank(group)
        return folder

    def barren(self, group: Group) -> None:
        """One more folder of ``group`` held nothing: its others wait longer."""
        group.barren += 1
        self._rank(group)

    def _rank(self, group: Group) -> None:
        # A new version: the group's older places in the heap are skipped.
        group.version += 1
        if group.waiting:
            best = group.waiting[0]
            key = best.key + self.barren_cost * group.barren
            heapq.heappush(self._groups, (key, best.order, group.version, group))

    def named_left(self) -> int:
        return sum(1 for g in self._every for f in g.waiting if f.named)

    def clear(self) -> None:
        self._groups.clear()
        self._every.clear()
        self.size = 0
