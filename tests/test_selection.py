import numpy as np
import pytest

from gst_flows.selection import (
    cur_selection,
    farthest_point_sampling,
    near_duplicates,
    select_diverse,
)


@pytest.fixture
def clusters():
    """Three tight clusters of 20 points each in a 12-dimensional positive feature space."""
    rng = np.random.default_rng(0)
    centres = np.eye(12)[[0, 4, 8]] + 0.05
    points = np.concatenate([c + 0.01 * rng.random((20, 12)) for c in centres])
    return points, np.repeat([0, 1, 2], 20)


@pytest.mark.parametrize("method", ["fps", "cur"])
def test_picks_one_of_each_cluster_first(clusters, method):
    points, label = clusters
    picked = select_diverse(points, 3, method=method)
    assert sorted(label[picked]) == [0, 1, 2]


def test_random_picks_would_often_miss_a_cluster(clusters):
    _, label = clusters
    rng = np.random.default_rng(1)
    misses = sum(len(set(label[rng.choice(60, 3, replace=False)])) < 3 for _ in range(200))
    assert misses > 50  # so the test above is not passing by luck


def test_existing_database_steers_fps_away(clusters):
    points, label = clusters
    existing = points[label == 0][:2]
    picked = farthest_point_sampling(points, 2, existing=existing)
    assert 0 not in set(label[picked])


def test_weights_prefer_uncertain_candidates(clusters):
    points, label = clusters
    weights = np.where(label == 2, 10.0, 1.0)
    picked = farthest_point_sampling(points, 1, weights=weights)
    assert label[picked[0]] == 2
    with pytest.raises(ValueError, match="weights"):
        farthest_point_sampling(points, 1, weights=-weights)


def test_duplicates_are_dropped():
    base = np.abs(np.random.default_rng(3).random((4, 6)))
    cands = np.vstack([base, base[1] * 1.0000001, base[2] * 3.0])  # copies (scale-invariant)
    dup = near_duplicates(cands, existing=base[:1])
    assert dup.tolist() == [True, False, False, False, True, True]
    assert set(select_diverse(cands, 10, existing=base[:1])) == {1, 2, 3}


def test_cur_order_and_errors(clusters):
    points, _ = clusters
    assert len(cur_selection(points, 100)) == 60
    with pytest.raises(ValueError, match="method"):
        select_diverse(points, 2, method="random")
    with pytest.raises(ValueError, match="2D"):
        select_diverse(points[0], 2)
