"""The latent priors: the fitted exemplar Markov prior and the standard normal."""

from __future__ import annotations

import numpy as np
import pytest

from genmedia.levels.prior import ExemplarPrior, NormalPrior, load_prior


def _exemplars():
    # two "training maps" whose latents are easy to recognise: channel 0 counts up, channel 1 names the map
    return [np.stack([np.arange(10.0), np.full(10, 100.0)]), np.stack([np.arange(50.0, 56.0), np.full(6, 200.0)])]


def test_walks_along_training_latents_and_jumps():
    prior = ExemplarPrior.fit(_exemplars(), bandwidth=0.0, jump_probability=0.0)
    z = prior.sample(np.random.default_rng(3), 400)
    assert z.shape == (2, 400) and z.dtype == np.float32
    assert set(np.unique(z[1])) == {100.0, 200.0}
    breaks = np.nonzero(np.diff(z[0]) != 1)[0]
    assert len(breaks) > 10
    assert set(z[0, breaks]) <= {9.0, 55.0}  # without jump probability, it leaves a map only at its end


def test_jump_probability_shortens_runs():
    def mean_run(p):
        z = ExemplarPrior.fit(_exemplars(), bandwidth=0.0, jump_probability=p).sample(np.random.default_rng(0), 4000)
        breaks = np.count_nonzero(np.diff(z[0]) != 1)
        return 4000 / (breaks + 1)
    assert mean_run(0.5) < mean_run(0.0) / 2


def test_bandwidth_and_temperature_scale_the_noise():
    prior = ExemplarPrior.fit(_exemplars(), bandwidth=0.5, jump_probability=0.1)
    z = prior.sample(np.random.default_rng(0), 5000)
    residual = z[1] - np.where(z[1] > 150, 200.0, 100.0)
    assert abs(residual.std() - 0.5) < 0.03
    cold = prior.sample(np.random.default_rng(0), 100, temperature=0.0)
    assert set(np.unique(cold[1])) <= {100.0, 200.0}


def test_json_round_trip_and_loading():
    prior = ExemplarPrior.fit(_exemplars(), bandwidth=0.6, jump_probability=0.125)
    meta = {"prior": prior.to_json()}
    again = load_prior(meta, 2)
    assert isinstance(again, ExemplarPrior)
    assert np.array_equal(again.sample(np.random.default_rng(1), 50), prior.sample(np.random.default_rng(1), 50))
    assert isinstance(load_prior(meta, 2, "normal"), NormalPrior)
    assert isinstance(load_prior({}, 2), NormalPrior)
    with pytest.raises(ValueError, match="unknown prior"):
        load_prior(meta, 2, "gmm")


def test_normal_prior_is_iid():
    z = NormalPrior(3).sample(np.random.default_rng(0), 20000, temperature=2.0)
    assert abs(z.mean()) < 0.05 and abs(z.std() - 2) < 0.05
    assert abs(np.corrcoef(z[0, :-1], z[0, 1:])[0, 1]) < 0.03


def test_local_repair_redraws_only_around_the_stuck_column():
    from genmedia.levels.model import _redraw_around

    z = np.zeros((3, 20), dtype=np.float32)
    _redraw_around(z, 10, NormalPrior(3), np.random.default_rng(0), 1.0)
    changed = np.flatnonzero((z != 0).any(axis=0))
    assert changed.tolist() == list(range(8, 14))  # two steps before, four from the stuck one
    edge = np.zeros((3, 20), dtype=np.float32)
    _redraw_around(edge, 0, NormalPrior(3), np.random.default_rng(0), 1.0)
    assert np.flatnonzero((edge != 0).any(axis=0)).tolist() == [0, 1, 2, 3]


def test_same_map_keeps_a_walk_in_its_map():
    def maps_visited(same_map):
        prior = ExemplarPrior.fit(_exemplars(), bandwidth=0.0, jump_probability=0.3, same_map=same_map)
        return [len(set(prior.sample(np.random.default_rng(seed), 60)[1])) for seed in range(20)]
    assert max(maps_visited(1.0)) == 1  # every jump lands in the map the walk started in
    assert np.mean(maps_visited(0.0)) > 1.5


def test_same_map_zero_replays_priors_written_without_it():
    old = {"type": "exemplar-markov", "bandwidth": 0.3, "jump_probability": 0.2,
           "sequences": [s.tolist() for s in _exemplars()]}
    prior = ExemplarPrior.from_json(old)
    assert prior.same_map == 0.0
    again = ExemplarPrior.from_json(prior.to_json())
    assert np.array_equal(prior.sample(np.random.default_rng(4), 80), again.sample(np.random.default_rng(4), 80))
    assert ExemplarPrior.from_json({**old, "same_map": 0.8}).same_map == 0.8


# --- the design both kinds share (genmedia.latent) ------------------------------------------------------

def test_one_normal_prior_for_both_kinds_draws_as_each_always_did():
    from genmedia import latent
    from genmedia.melody import prior as melody_prior

    assert NormalPrior is latent.NormalPrior is melody_prior.NormalPrior
    sequence = NormalPrior(3).sample(np.random.default_rng(5), 7, temperature=0.5)
    assert sequence.shape == (3, 7) and sequence.dtype == np.float32  # a level's: one vector per step
    np.testing.assert_array_equal(sequence, (np.random.default_rng(5).standard_normal((3, 7)) * 0.5)
                                  .astype(np.float32))
    batch = NormalPrior(3, "batch").sample(np.random.default_rng(5), 7)
    assert batch.shape == (7, 3)  # melodies': one latent per row, drawn row by row
    np.testing.assert_array_equal(batch, np.random.default_rng(5).standard_normal((7, 3)).astype(np.float32))


def test_choose_prior_reads_only_a_fitted_prior_of_a_known_type():
    from genmedia.latent import choose_prior

    normal = NormalPrior(2)
    fitted = ExemplarPrior.fit(_exemplars(), bandwidth=0.0, jump_probability=0.0)
    readers = {"mine": lambda entry: fitted}
    assert choose_prior("fitted", {"type": "mine"}, readers, normal) is fitted
    assert choose_prior("fitted", {"type": "theirs"}, readers, normal) is normal
    assert choose_prior("fitted", None, readers, normal) is normal

    def unread(entry):
        raise AssertionError("read a fitted prior for kind 'normal'")
    assert choose_prior("normal", {"type": "mine"}, {"mine": unread}, normal) is normal
    with pytest.raises(ValueError, match=r"unknown prior 'gmm'; choose from \('fitted', 'normal'\)"):
        choose_prior("gmm", {"type": "mine"}, readers, normal)


def test_melody_priors_draw_batches_and_the_kernel_noise_scales_with_temperature():
    from genmedia.melody.prior import KernelPrior, load_prior
    from genmedia.registry import get_model

    info = get_model(None, task="melody")
    normal = load_prior(info, 8, "normal")
    assert isinstance(normal, NormalPrior) and normal.sample(np.random.default_rng(0), 4).shape == (4, 8)
    means = np.arange(12, dtype=np.float32).reshape(4, 3)
    kernel = KernelPrior(means, bandwidth=0.5)
    cold = kernel.sample(np.random.default_rng(1), 50, temperature=0.0)
    assert {tuple(row) for row in cold} <= {tuple(row) for row in means}
    warm = kernel.sample(np.random.default_rng(1), 50)
    assert not np.array_equal(cold, warm)
    np.testing.assert_array_equal(warm, kernel.sample(np.random.default_rng(1), 50, temperature=1.0))
