import itertools

import networkx as nx
import numpy as np
import pytest
from analysis_structures import random_packing, rocksalt_gete
from ase import Atoms
from ase.build import bulk

from gst_flows.analysis import neighbour_pairs, ring_statistics


def as_dict(stats):
    return {int(s): float(v) for s, v in zip(stats.sizes, stats.per_atom, strict=True) if v}


def test_rocksalt_rings():
    # Squares (3 per atom) and the skew hexagons around each cube (4 per atom);
    # every larger ring has a shortcut.
    prim = bulk("NaCl", "rocksalt", a=6.0)
    prim.set_chemical_symbols(["Ge", "Te"])
    assert as_dict(ring_statistics(prim, max_size=12)) == {4: 3.0, 6: 4.0}
    conventional = rocksalt_gete(1)
    stats = ring_statistics(conventional, max_size=8)
    assert as_dict(stats) == {4: 3.0, 6: 4.0}
    assert np.all(stats.membership[:, 1] == 12)  # squares through every atom
    assert np.all(stats.membership[:, 3] == 24)


def test_diamond_rings(diamond):
    assert as_dict(ring_statistics(bulk("Ge", "diamond", a=5.658), 3.0)) == {6: 2.0}
    stats = ring_statistics(diamond, 3.0, max_size=12)
    assert as_dict(stats) == {6: 2.0}
    assert stats.counts[stats.sizes == 6][0] == len(diamond) * 2


def test_max_size_cuts_off():
    prim = bulk("NaCl", "rocksalt", a=6.0)
    prim.set_chemical_symbols(["Ge", "Te"])
    assert as_dict(ring_statistics(prim, max_size=5)) == {4: 3.0}


def sp_rings_brute_force(graph, max_size):
    """Franzblau SP rings by definition: simple cycles without shortcuts."""
    dist = dict(nx.all_pairs_shortest_path_length(graph, cutoff=max_size))
    counts = {}
    for cycle in nx.simple_cycles(graph, length_bound=max_size):
        n = len(cycle)
        if n < 3:
            continue
        ok = True
        for i, j in itertools.combinations(range(n), 2):
            along = min(j - i, n - (j - i))
            if dist[cycle[i]].get(cycle[j], along + 1) < along:
                ok = False
                break
        if ok:
            counts[n] = counts.get(n, 0) + 1
    return counts


def test_amorphous_cluster_against_brute_force():
    # Isolated cluster cut from a random packing: no periodic images involved.
    packed = random_packing(400, 0.031, 2.5, seed=11)
    centre = packed.cell.diagonal() / 2
    keep = np.linalg.norm(packed.positions - centre, axis=1) < 10.0
    cluster = Atoms(packed.symbols[keep], positions=packed.positions[keep])
    i, j = neighbour_pairs(cluster, 3.3)
    graph = nx.Graph()
    graph.add_nodes_from(range(len(cluster)))
    graph.add_edges_from(zip(i.tolist(), j.tolist(), strict=True))
    expected = sp_rings_brute_force(graph, 8)
    stats = ring_statistics(cluster, 3.3, max_size=8)
    found = {int(s): int(c) for s, c in zip(stats.sizes, stats.counts, strict=True) if c}
    assert sum(expected.values()) > 20
    assert found == expected


def test_periodic_amorphous_against_matscipy():
    from matscipy.rings import ring_statistics as matscipy_rings

    packed = random_packing(400, 0.031, 2.5, seed=12)
    ours = ring_statistics(packed, 3.3, max_size=10)
    reference = matscipy_rings(packed, 3.3, maxlength=10)
    n = min(len(reference), 11)
    assert ours.counts.sum() > 100
    assert np.array_equal(ours.counts[: n - 3], reference[3:n])


def test_membership_and_frames():
    packed = random_packing(200, 0.031, 2.5, seed=13)
    stats = ring_statistics(packed, 3.3, max_size=8)
    assert np.array_equal(stats.membership.sum(axis=0), stats.counts * stats.sizes)
    twice = ring_statistics([packed, packed], 3.3, max_size=8)
    assert np.array_equal(twice.counts, 2 * stats.counts)
    assert np.allclose(twice.per_atom, stats.per_atom)
    assert twice.membership is None


def test_ring_errors(gete):
    with pytest.raises(ValueError, match="at least 3"):
        ring_statistics(gete, max_size=2)
    atoms = gete.copy()
    atoms.symbols[0] = "Si"
    with pytest.raises(ValueError, match="no bond cutoff"):
        ring_statistics(atoms)
