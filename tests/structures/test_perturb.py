import numpy as np
import pytest

from gst_flows.structures import StructureError, build_rocksalt, minimum_distance, perturbed_copies


def test_copies_are_reproducible_distinct_and_sane():
    ref = build_rocksalt("Ge1Sb2Te4", seed=0)
    a = perturbed_copies(ref, 4, rattle=0.05, strain=0.03, seed=1)
    b = perturbed_copies(ref, 4, rattle=0.05, strain=0.03, seed=1)
    assert len(a) == 4
    for x, y in zip(a, b, strict=True):
        assert np.allclose(x.positions, y.positions)
        assert np.allclose(x.cell, y.cell)
    assert not np.allclose(a[0].positions, a[1].positions)
    for copy in a:
        assert copy.get_chemical_symbols() == ref.get_chemical_symbols()
        eps = np.array(copy.info["strain"])
        assert np.abs(eps).max() <= 0.03
        assert np.allclose(copy.cell.array, ref.cell.array @ (np.eye(3) + eps))
        assert minimum_distance(copy) >= 1.8
    c = perturbed_copies(ref, 1, seed=2)
    assert not np.allclose(c[0].positions, a[0].positions)


def test_impossible_request_is_refused():
    ref = build_rocksalt("GeTe", seed=0)
    with pytest.raises(StructureError, match="lower rattle"):
        perturbed_copies(ref, 1, rattle=2.0, min_distance=2.9, max_tries=3)
    with pytest.raises(StructureError, match="non-negative"):
        perturbed_copies(ref, -1)
