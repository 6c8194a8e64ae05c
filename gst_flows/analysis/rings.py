"""Shortest-path ring statistics with memory linear in the number of atoms.

A ring is a shortest-path (SP) ring in Franzblau's sense (Phys. Rev. B 44,
4925, 1991) if no two of its atoms are joined by a path through the bond
network that is shorter than the shorter way round the ring. The search works
on the infinite periodic bond graph (nodes are atoms together with their cell
image), so rings that wrap around a small periodic cell are not counted and
graph distances are never shortened through periodic images.

Algorithm
---------
An SP ring of n atoms is, seen from any of its atoms r, the union of two
shortest paths leaving r in different directions (to the same antipodal atom
for even n, to two bonded atoms for odd n). A ring has a shortcut between two of
its atoms if and only if it has one between some atom and its antipode, so the
ring is SP exactly when every antipodal pair is at graph distance ⌊n/2⌋. The
search therefore grows pairs of shortest paths from every root atom, level by
level, keeping for each pair the ring sizes n still compatible with the graph
distances between its atoms (atoms a and b steps along the two paths must be
min(a + b, n − a − b) apart) and dropping it when none is left; what closes
is an SP ring. Graph distances up to ⌊n_max/2⌋ come from a table of all such
atom pairs, built by breadth-first search from every atom. Every array involved
grows with the number of atoms times the size of a local neighbourhood; roots
are processed in chunks, so memory is linear in N.

Each SP ring is found once from each of its n atoms; the count of rings of
size n is the number of finds divided by n, and the finds from root i are the
rings through atom i.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from ase import Atoms

from gst_flows.analysis.common import progress_bar
from gst_flows.analysis.neighbours import CutoffSpec, neighbour_pairs, spatial_order

# Path pairs handled at once; bounds the memory of the search.
_PAIR_BUDGET = 400_000
_OFF = 16  # largest |cell shift| a node may carry along one axis
_BASE = 2 * _OFF + 1
_NS = _BASE**3
_ZERO = (_OFF * _BASE + _OFF) * _BASE + _OFF


class RingStatistics(NamedTuple):
    """Shortest-path ring statistics.

    Attributes
    ----------
    sizes
        Ring sizes 3 … n_max.
    counts
        Number of SP rings of each size (summed over frames).
    per_atom
        Rings of each size per atom (counts divided by the number of atoms).
    membership
        Number of rings of each size through every atom, shape
        ``(n_atoms, len(sizes))`` (single frame only, else ``None``).
    """

    sizes: np.ndarray
    counts: np.ndarray
    per_atom: np.ndarray
    membership: np.ndarray | None


class _Graph(NamedTuple):
    n: int
    indptr: np.ndarray
    neighbour: np.ndarray
    dcode: np.ndarray  # shift code difference of each bond


def _bond_graph(atoms: Atoms, cutoffs: CutoffSpec) -> tuple[_Graph, int]:
    n = len(atoms)
    if atoms.cell.rank == 3 and atoms.pbc.any():
        i, j, shift = neighbour_pairs(atoms, cutoffs, "ijS")
    else:
        i, j = neighbour_pairs(atoms, cutoffs, "ij")
        shift = np.zeros((len(i), 3), dtype=int)
    shift = np.asarray(shift, dtype=np.int64)
    dcode = (shift[:, 0] * _BASE + shift[:, 1]) * _BASE + shift[:, 2]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(i, minlength=n), out=indptr[1:])
    return _Graph(n, indptr, j.astype(np.int64), dcode), int(np.abs(shift).max(initial=0))


def _member(sorted_keys: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Membership of ``query`` in ``sorted_keys`` and the matching positions."""
    if len(sorted_keys) == 0 or len(query) == 0:
        return np.zeros(len(query), dtype=bool), np.zeros(len(query), dtype=np.int64)
    # Sorted needles make the binary searches walk memory in order: far faster.
    order = np.argsort(query)
    pos = np.empty(len(query), dtype=np.int64)
    pos[order] = np.searchsorted(sorted_keys, query[order])
    np.minimum(pos, len(sorted_keys) - 1, out=pos)
    return sorted_keys[pos] == query, pos


def _unique(values: np.ndarray) -> np.ndarray:
    """Sorted unique values (sort based; numpy's hash-based unique is slow on large int64)."""
    if len(values) == 0:
        return values
    s = np.sort(values)
    keep = np.empty(len(s), dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def _expand(graph: _Graph, keys: np.ndarray, m_stride: int) -> tuple[np.ndarray, np.ndarray]:
    """All bonds leaving the nodes in ``keys`` (source-qualified node keys)."""
    n = graph.n
    k, node = np.divmod(keys, m_stride)
    scode, atom = np.divmod(node, n)
    starts = graph.indptr[atom]
    counts = graph.indptr[atom + 1] - starts
    rep = np.repeat(np.arange(len(keys)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    edge = np.repeat(starts, counts) + offsets
    child = k[rep] * m_stride + (scode[rep] + graph.dcode[edge]) * n + graph.neighbour[edge]
    return rep, child


def _bfs(
    graph: _Graph, sources: np.ndarray, depth: int, *, dag: bool = False
) -> tuple[list[np.ndarray], list[tuple[np.ndarray, np.ndarray]]]:
    """Breadth-first search from each source up to ``depth`` bonds.

    Node keys are ``k * (NS * n) + scode * n + atom`` with k the index of the
    source in ``sources``. Returns the sorted keys of each level and, with
    ``dag``, the bonds from level t to level t + 1 sorted by parent key.
    """
    m_stride = _NS * graph.n
    level = np.arange(len(sources), dtype=np.int64) * m_stride + _ZERO * graph.n + sources
    levels = [np.sort(level)]
    edges: list[tuple[np.ndarray, np.ndarray]] = []
    previous = np.zeros(0, dtype=np.int64)
    for _ in range(depth):
        current = levels[-1]
        rep, child = _expand(graph, current, m_stride)
        back, _ = _member(previous, child)
        same, _ = _member(current, child)
        new = ~(back | same)
        nxt = _unique(child[new])
        if dag:
            parent = current[rep[new]]
            order = np.lexsort((child[new], parent))
            edges.append((parent[order], child[new][order]))
        previous = current
        levels.append(nxt)
    return levels, edges


def _distance_table(graph: _Graph, depth: int, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted keys ``(a * n + b) * NS + relative shift`` and distances of all pairs ≤ depth."""
    n = graph.n
    m_stride = _NS * n
    keys_all, dist_all = [], []
    for start in range(0, n, chunk):
        sources = np.arange(start, min(n, start + chunk), dtype=np.int64)
        levels, _ = _bfs(graph, sources, depth)
        for d in range(1, depth + 1):
            k, node = np.divmod(levels[d], m_stride)
            scode, atom = np.divmod(node, n)
            keys_all.append((sources[k] * n + atom) * _NS + scode)
            dist_all.append(np.full(len(atom), d, dtype=np.int8))
    if not keys_all:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int8)
    keys = np.concatenate(keys_all)
    dist = np.concatenate(dist_all)
    order = np.argsort(keys, kind="stable")
    return keys[order], dist[order]


def _lookup(
    table: tuple[np.ndarray, np.ndarray], x: np.ndarray, y: np.ndarray, n: int, missing: int
) -> np.ndarray:
    """Graph distance between node keys ``x`` and ``y`` (``missing`` if beyond the table)."""
    sx, ax = np.divmod(x, n)
    sy, ay = np.divmod(y, n)
    key = (ax * n + ay) * _NS + (sy - sx + _ZERO)
    found, pos = _member(table[0], key)
    out = np.where(found, table[1][pos], missing).astype(np.int64)
    out[x == y] = 0
    return out


def _consistent_sizes(a: int, b: int, max_size: int, table_depth: int) -> np.ndarray:
    """Bit masks of the ring sizes compatible with each distance of p[a] and q[b].

    In an SP ring of n atoms, the atoms a steps along one path and b steps
    along the other are min(a + b, n - a - b) apart in the graph. Entry d of the
    result has bit n set if that holds for distance d; the last entry stands for
    "farther than the table knows" (> ``table_depth``).
    """
    out = np.zeros(table_depth + 2, dtype=np.int64)
    for size in range(3, max_size + 1):
        ring = min(a + b, size - a - b)
        if ring < 0:
            continue
        if ring > table_depth:
            out[table_depth + 1] |= 1 << size
        else:
            out[ring] |= 1 << size
    return out


def _extend(
    p: np.ndarray,
    q: np.ndarray,
    pair_root: np.ndarray,
    allowed: np.ndarray,
    par: np.ndarray,
    chi: np.ndarray,
    m_stride: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Extend path ``p`` of every pair by each shortest-path step from its end."""
    key = pair_root * m_stride + p[:, -1]
    lo = np.searchsorted(par, key, "left")
    count = np.searchsorted(par, key, "right") - lo
    rep = np.repeat(np.arange(len(p)), count)
    j = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    step = chi[lo[rep] + j] % m_stride
    return np.concatenate([p[rep], step[:, None]], axis=1), q[rep], pair_root[rep], allowed[rep]


def _check(
    allowed: np.ndarray,
    table: tuple[np.ndarray, np.ndarray],
    p: np.ndarray,
    q: np.ndarray,
    a: int,
    b: int,
    n: int,
    masks: np.ndarray,
) -> None:
    """Narrow the allowed ring sizes (bit masks, in place) by the distance of p[a] and q[b]."""
    live = np.flatnonzero(allowed)
    if len(live):
        d = _lookup(table, p[live, a], q[live, b], n, len(masks) - 1)
        allowed[live] &= masks[d]


def _ring_finds(
    graph: _Graph,
    roots: np.ndarray,
    max_size: int,
    table: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:
    """Number of SP rings of each size found from each root, shape (len(roots), max_size + 1)."""
    n = graph.n
    m_stride = _NS * n
    depth = max_size // 2
    finds = np.zeros((len(roots), max_size + 1), dtype=np.int64)
    table_depth = int(table[1].max(initial=1))
    _, edges = _bfs(graph, roots, depth, dag=True)
    if not edges or len(edges[0][0]) == 0:
        return finds
    # Pairs of first steps, each unordered pair once.
    parent, child = edges[0]
    k = parent // m_stride
    starts = np.searchsorted(k, np.arange(len(roots) + 1))
    counts = np.diff(starts)
    rep_root = np.repeat(np.arange(len(roots)), counts)
    local = np.arange(len(child)) - starts[rep_root]
    partners = counts[rep_root] - 1 - local
    first = np.repeat(np.arange(len(child)), partners)
    offs = np.arange(partners.sum()) - np.repeat(np.cumsum(partners) - partners, partners)
    second = first + 1 + offs
    pair_root = rep_root[first]
    root_node = (_ZERO * n + roots)[pair_root]
    p = np.stack([root_node, child[first] % m_stride], axis=1)
    q = np.stack([root_node, child[second] % m_stride], axis=1)
    everything = sum(1 << size for size in range(3, max_size + 1))
    allowed = np.full(len(p), everything, dtype=np.int64)
    search = _PairSearch(
        table=table,
        edges=edges,
        n=n,
        max_size=max_size,
        masks={
            (a, b): _consistent_sizes(a, b, max_size, table_depth)
            for a in range(1, depth + 1)
            for b in range(1, depth + 1)
        },
        finds=finds,
    )
    search.advance(p, q, pair_root, allowed, 1)
    return finds


class _PairSearch(NamedTuple):
    table: tuple[np.ndarray, np.ndarray]
    edges: list[tuple[np.ndarray, np.ndarray]]
    n: int
    max_size: int
    masks: dict[tuple[int, int], np.ndarray]
    finds: np.ndarray

    def advance(self, p: np.ndarray, q: np.ndarray, root: np.ndarray, allowed: np.ndarray, t0: int) -> None:
        """Grow the path pairs from step ``t0`` on, in batches of bounded size."""
        n, m_stride = self.n, _NS * self.n
        for t in range(t0, self.max_size // 2 + 1):
            if len(p) > _PAIR_BUDGET:
                # Pairs are independent: finish them batch by batch to bound memory.
                for part in np.array_split(np.arange(len(p)), -(-len(p) // _PAIR_BUDGET)):
                    self.advance(p[part], q[part], root[part], allowed[part], t)
                return
            if t > 1:
                par, chi = self.edges[t - 1]
                # Extend one path, check it against the other, then extend the
                # other: most pairs fail the first check, so the second product
                # stays small.
                p, q, root, allowed = _extend(p, q, root, allowed, par, chi, m_stride)
                allowed &= ~((1 << (2 * t)) - 1)
                for b in range(t - 1, 0, -1):
                    _check(allowed, self.table, p, q, t, b, n, self.masks[t, b])
                keep = allowed != 0
                p, q, root, allowed = p[keep], q[keep], root[keep], allowed[keep]
                q, p, root, allowed = _extend(q, p, root, allowed, par, chi, m_stride)
            allowed &= ~((1 << (2 * t)) - 1)
            for a in range(t, 0, -1):
                _check(allowed, self.table, p, q, a, t, n, self.masks[a, t])
            for size in (2 * t, 2 * t + 1):
                if 3 <= size <= self.max_size:
                    closed = (allowed >> size) & 1 == 1
                    np.add.at(self.finds[:, size], root[closed], 1)
            keep = (allowed >> (2 * t + 2)) != 0
            p, q, root, allowed = p[keep], q[keep], root[keep], allowed[keep]
            if len(p) == 0:
                return


def ring_statistics(
    atoms: Atoms | Sequence[Atoms],
    cutoffs: CutoffSpec = None,
    max_size: int = 12,
    *,
    chunk_size: int = 2000,
    progress: bool = False,
) -> RingStatistics:
    """Count shortest-path rings up to ``max_size`` atoms.

    Parameters
    ----------
    atoms
        One structure or a sequence of frames (counts are summed).
    cutoffs
        Bond cutoffs in Å: one radius, a table keyed by ``"A-B"``, or ``None``
        for the GST table (3.2 Å).
    max_size
        Largest ring size searched (at least 3).
    chunk_size
        Root atoms searched at once; bounds the memory in use.
    progress
        Show a progress bar over chunks.

    Returns
    -------
    RingStatistics
        Counts per size, per atom, and (for one frame) per-atom membership.

    Raises
    ------
    ValueError
        If a species pair has no cutoff, ``max_size < 3``, or the cell is so
        small that paths cross more cell images than the search can label.
    """
    if max_size < 3:
        raise ValueError("max_size must be at least 3")
    frames = [atoms] if isinstance(atoms, Atoms) else list(atoms)
    sizes = np.arange(3, max_size + 1)
    counts = np.zeros(len(sizes), dtype=np.int64)
    n_total = 0
    membership = None
    depth = max_size // 2
    for frame in frames:
        # Number atoms in spatial order so that each chunk of roots, and the
        # table entries it looks up, stay local in memory.
        order = spatial_order(frame, 8.0)
        graph, max_shift = _bond_graph(frame[order], cutoffs)
        if max_shift * depth >= _OFF:
            raise ValueError("bonds cross too many periodic images for the ring search: repeat the cell")
        n = graph.n
        table = _distance_table(graph, depth, chunk_size)
        finds = np.zeros((n, max_size + 1), dtype=np.int64)
        for start in progress_bar(range(0, n, chunk_size), progress, "rings", "chunk"):
            roots = np.arange(start, min(n, start + chunk_size), dtype=np.int64)
            finds[roots] = _ring_finds(graph, roots, max_size, table)
        total = finds.sum(axis=0)[3:]
        if np.any(total % sizes):
            raise RuntimeError("inconsistent ring search: finds are not a multiple of ring size")
        counts += total // sizes
        n_total += n
        if len(frames) == 1:
            membership = np.empty((n, len(sizes)), dtype=np.int64)
            membership[order] = finds[:, 3:]
    per_atom = counts / max(n_total, 1)
    return RingStatistics(sizes, counts, per_atom, membership)
