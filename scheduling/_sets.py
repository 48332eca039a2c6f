"""Disjoint sets (union-find) over work ids, shared by bundling and the optimiser."""

from __future__ import annotations


class DisjointSets:
    """Union-find with path halving; the smallest id of a set is its root (deterministic).

    Examples
    --------
    >>> sets = DisjointSets()
    >>> sets.union("b", "a")
    >>> sets.find("b")
    'a'
    """

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        """Return the root of ``x``'s set (adding ``x`` alone when new)."""
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        """Join the sets of ``a`` and ``b``."""
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)
