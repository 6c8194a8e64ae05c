import numpy as np
import pytest
from analysis_structures import random_packing, rocksalt_gete

from gst_flows.analysis import average_kernel, embed_kernel, frame_labels, soap_kernel, soap_map


def configurations():
    crystals, amorphous = [], []
    for k in range(4):
        c = rocksalt_gete(2)
        c.positions += np.random.default_rng(k).normal(0, 0.05, c.positions.shape)
        c.info.update(iteration=0, config_type="crystal")
        crystals.append(c)
        a = random_packing(64, 0.031, 2.6, seed=k)
        a.info.update(iteration=1, config_type="amorphous")
        amorphous.append(a)
    return crystals, amorphous


def test_map_separates_crystal_from_amorphous():
    crystals, amorphous = configurations()
    frames = crystals + amorphous
    kernel = soap_kernel(frames)
    assert np.allclose(np.diag(kernel), 1.0)
    assert np.allclose(kernel, kernel.T)
    result = soap_map(frames, "kpca")
    xy = result.coordinates
    a, b = xy[:4], xy[4:]
    gap = np.linalg.norm(a.mean(axis=0) - b.mean(axis=0))
    spread = max(
        np.linalg.norm(a - a.mean(axis=0), axis=1).max(), np.linalg.norm(b - b.mean(axis=0), axis=1).max()
    )
    assert gap > 2 * spread
    assert result.explained[0] > 0.5
    assert frame_labels(frames, "config_type")[:1] == ["crystal"]
    assert frame_labels(frames, "missing") == ["unknown"] * 8


def test_kernel_embeddings_from_a_known_kernel():
    # Two tight clusters of unit vectors.
    v = np.array([[1, 0, 0], [0.99, 0.1, 0], [0, 1, 0], [0.1, 0.99, 0]], dtype=float)
    kernel = average_kernel(v, zeta=1.0)
    for method in ("kpca", "mds"):
        xy = embed_kernel(kernel, method).coordinates
        d = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
        assert d[0, 1] < 0.3 * d[0, 2]
        assert d[2, 3] < 0.3 * d[1, 3]
    with pytest.raises(ValueError, match="unknown embedding"):
        embed_kernel(kernel, "tsne")
