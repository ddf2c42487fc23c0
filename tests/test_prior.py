"""The latent priors: the standard normal and the fitted Gaussian AR(1)."""

from __future__ import annotations

import numpy as np

from genmedia.levels.prior import LatentPrior, fit_ar1


def _ar1_sequences(transition, count=40, steps=200, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        z = np.zeros((steps, len(transition)))
        for t in range(1, steps):
            z[t] = z[t - 1] @ transition + 0.5 * rng.standard_normal(len(transition))
        out.append(z.T + 3.0)  # mean 3
    return out


def test_fit_recovers_a_known_process():
    transition = np.array([[0.9, 0.0], [0.3, 0.5]])
    prior = fit_ar1(_ar1_sequences(transition))
    assert np.allclose(prior.mean, 3.0, atol=0.1)
    assert np.allclose(prior.transition, transition, atol=0.05)
    assert np.allclose(np.diag(prior.noise_chol @ prior.noise_chol.T), 0.25, atol=0.03)


def test_samples_follow_the_fitted_process_and_round_trip_json():
    prior = fit_ar1(_ar1_sequences(np.array([[0.95, 0.0], [0.0, 0.95]])))
    again = LatentPrior.from_json(prior.to_json(), 2)
    a = prior.sample(np.random.default_rng(1), 5000)
    b = again.sample(np.random.default_rng(1), 5000)
    assert a.shape == (2, 5000) and a.dtype == np.float32 and np.array_equal(a, b)
    lag1 = np.corrcoef(a[0, :-1], a[0, 1:])[0, 1]
    assert 0.9 < lag1 < 0.99  # neighbouring latents agree: one level keeps one style
    cold = prior.sample(np.random.default_rng(1), 5000, temperature=0.0)
    assert np.allclose(cold, prior.mean[:, None])


def test_standard_prior_is_iid_normal():
    z = LatentPrior.standard(3).sample(np.random.default_rng(0), 20000)
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1) < 0.02
    assert abs(np.corrcoef(z[0, :-1], z[0, 1:])[0, 1]) < 0.03
    assert LatentPrior.from_json(None, 3).transition.sum() == 0
