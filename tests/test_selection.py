import numpy as np
import pytest

from gst_flows.selection import (
    cur_selection,
    farthest_point_sampling,
    near_duplicates,
    select_across_fractions,
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


def test_committee_spread_and_weights():
    from gst_flows.selection import committee_spread, uncertainty_weights

    rng = np.random.default_rng(0)
    base = [rng.normal(size=(4, 3)) for _ in range(3)]
    # members agree on configuration 0, disagree by 0.1 and 0.4 eV/Å on 1 and 2
    members = [[b.copy() for b in base] for _ in range(2)]
    members[1][1] += 0.2
    members[1][2] += 0.8
    spread = committee_spread(members)
    assert spread == pytest.approx([0.0, 0.1, 0.4])
    assert uncertainty_weights(spread) == pytest.approx([0.0, 0.6, 2.4])
    assert uncertainty_weights(spread, power=0) == pytest.approx([1, 1, 1])
    assert uncertainty_weights(np.zeros(3)) == pytest.approx([1, 1, 1])
    with pytest.raises(ValueError, match="at least two members"):
        committee_spread(members[:1])
    with pytest.raises(ValueError, match="every configuration"):
        committee_spread([base, base[:2]])
    with pytest.raises(ValueError, match="non-negative"):
        uncertainty_weights(np.array([0.1, -1.0]))


def test_training_selection_subsample_keeps_isolated_atoms():
    from ase import Atoms

    from gst_flows.makers.fit import TrainingSelection

    frames = [
        Atoms("GeTe", positions=[[0, 0, 0], [0, 0, 2.8 + 0.01 * k]], cell=[6, 6, 6], pbc=True)
        for k in range(10)
    ]
    for f in frames:
        f.info["config_type"] = "crystal"
    isolated = Atoms("Ge", cell=[10, 10, 10], pbc=True)
    isolated.info["config_type"] = "isolated_atom"
    frames.append(isolated)
    a = TrainingSelection(tag="x", subsample=0.5, subsample_seed=1).subsampled(frames)
    b = TrainingSelection(tag="x", subsample=0.5, subsample_seed=2).subsampled(frames)
    assert len(a) == len(b) == 6 and isolated in a and isolated in b
    assert [id(f) for f in a] != [id(f) for f in b]
    assert TrainingSelection(tag="x").subsampled(frames) == frames
    with pytest.raises(ValueError, match="fraction"):
        TrainingSelection(subsample=1.5)
    full = "ab" * 20
    query = TrainingSelection(tag="x", settings_hash=full).criteria()
    either = {"$or": [{"output.settings_hash": full}, {"output.reference_settings_hash": full}]}
    assert either in query["$and"]


@pytest.fixture
def transition_run():
    """Candidates of a crystallisation run: 40 crystal-like frames (fractions above 0.9) that are
    the most diverse in descriptor space, and 20 coexistence frames (fractions 0.2-0.8) that are
    close to each other, as an anneal near the crystal gives them."""
    rng = np.random.default_rng(3)
    crystal = np.eye(12)[rng.integers(0, 12, 40)] + 0.2 * rng.random((40, 12))
    coexist = np.full((20, 12), 0.5) + 0.02 * rng.random((20, 12))
    fractions = [*rng.uniform(0.9, 1.0, 40), *np.linspace(0.2, 0.8, 20)]
    return np.vstack([crystal, coexist]), fractions


def test_plain_fps_misses_the_coexistence_window(transition_run):
    x, fractions = transition_run
    picked = select_diverse(x, 6)
    assert all(fractions[i] > 0.9 for i in picked)  # the failure the binned slots repair


def test_budget_spreads_over_the_coexistence_window(transition_run):
    x, fractions = transition_run
    picked = select_across_fractions(x, fractions, 6, window=(0.2, 0.8), share=1.0)
    chosen = sorted(fractions[i] for i in picked)
    assert len(set(picked)) == 6
    # one pick in each tenth of the window
    assert np.histogram(chosen, bins=6, range=(0.2, 0.8))[0].tolist() == [1] * 6


def test_share_splits_the_budget(transition_run):
    x, fractions = transition_run
    picked = select_across_fractions(x, fractions, 6, share=0.5)
    inside = [fractions[i] for i in picked if 0.2 <= fractions[i] <= 0.8]
    assert len(inside) == 3 and len(picked) == 6
    assert select_across_fractions(x, fractions, 6, share=0.0) == select_diverse(x, 6)


def test_empty_bins_and_unmeasured_frames_pass_their_slots_on(transition_run):
    x, fractions = transition_run
    fractions = [None if 0.5 <= (f or 0) <= 0.8 else f for f in fractions]
    picked = select_across_fractions(x, fractions, 6)
    inside = [fractions[i] for i in picked if fractions[i] is not None and fractions[i] <= 0.8]
    assert len(picked) == 6 and len(inside) == 3  # bins 0.5-0.8 hold nothing measured


def test_binned_picks_skip_labelled_configurations(transition_run):
    x, fractions = transition_run
    existing = x[[45]]  # a coexistence frame already labelled
    picked = select_across_fractions(x, fractions, 6, existing=existing)
    assert 45 not in picked and len(picked) == 6


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"window": (0.8, 0.2)}, "window"), ({"share": 1.5}, "share"), ({"fractions": [0.5]}, "fractions")],
)
def test_binned_selection_refuses_bad_settings(transition_run, kwargs, message):
    x, fractions = transition_run
    args = {"fractions": fractions, **kwargs}
    with pytest.raises(ValueError, match=message):
        select_across_fractions(x, args.pop("fractions"), 6, **args)
