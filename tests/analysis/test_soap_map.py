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


def test_database_soap_map_figure_separates_phases_not_compositions(tmp_path):
    """The demo's map: crystals of two compositions sit together, apart from melted cells."""
    from analysis_structures import rocksalt_gete, rocksalt_gst

    from gst_flows.analysis.soap_map import soap_map
    from gst_flows.plotting.active_learning import soap_map_figure

    frames = []
    for k in range(3):
        for build, name in ((rocksalt_gete, "GeTe"), (rocksalt_gst, "GST")):
            crystal = build(2)
            crystal.positions += np.random.default_rng(k).normal(0, 0.03, crystal.positions.shape)
            crystal.info.update(iteration=0, config_type=f"crystal {name}")
            melted = build(2)
            melted.positions += np.random.default_rng(10 + k).normal(0, 0.7, melted.positions.shape)
            melted.info.update(iteration=1, config_type=f"liquid {name}")
            frames += [crystal, melted]
    path = soap_map_figure(frames, tmp_path / "map.png")
    assert path.exists() and path.with_suffix(".pdf").exists()
    xy = soap_map(frames).coordinates
    crystal = np.array(["crystal" in f.info["config_type"] for f in frames])
    # distance between phase centroids exceeds the spread within the crystals of both compositions
    gap = np.linalg.norm(xy[crystal].mean(axis=0) - xy[~crystal].mean(axis=0))
    assert gap > 2 * xy[crystal].std(axis=0).max()
