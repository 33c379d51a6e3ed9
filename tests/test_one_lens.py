"""theory.one_lens: the numerical rank used by notebook 06, and the shrinkage-free change."""

import numpy as np
import pytest
from scipy.stats import ortho_group

from theory import linalg
from theory import one_lens as ol


def low_rank(rng, m, n, k, scales=None):
    U = ortho_group.rvs(m, random_state=rng)[:, :k]
    V = ortho_group.rvs(n, random_state=rng)[:, :k]
    s = np.arange(k, 0, -1.0) if scales is None else np.asarray(scales)
    return (U * s) @ V.T


@pytest.mark.parametrize("k", [0, 1, 3, 5])
def test_rank_of_a_sum_of_k_outer_products_is_k(k):
    rng = np.random.default_rng(k)
    M = low_rank(rng, 9, 7, k) if k else np.zeros((9, 7))
    assert ol.relative_rank(M, 1e-8) == k


def test_rank_is_scale_invariant_and_batched():
    rng = np.random.default_rng(1)
    stack = np.stack([low_rank(rng, 6, 6, k) for k in (1, 2, 4)])
    for c in (1e-6, -3.0, 1e6):
        assert ol.relative_rank(c * stack, 1e-9).tolist() == [1, 2, 4]


def test_threshold_is_relative_to_the_largest_singular_value():
    rng = np.random.default_rng(2)
    M = low_rank(rng, 5, 5, 3, scales=[1.0, 0.5, 0.01])
    assert ol.relative_rank(M, 0.1) == 2
    assert ol.relative_rank(M, 0.005) == 3
    assert ol.relative_rank(M, 0.6) == 1


def test_relative_spectrum_closed_form_and_zero():
    rng = np.random.default_rng(3)
    M = low_rank(rng, 4, 6, 3, scales=[4.0, 2.0, 1.0])
    np.testing.assert_allclose(ol.relative_spectrum(M), [1.0, 0.5, 0.25, 0.0], atol=1e-12)
    assert np.all(ol.relative_spectrum(np.zeros((3, 2))) == 0)


def test_normalised_gram_epsilon_rank_equals_relative_rank():
    rng = np.random.default_rng(4)
    stack = np.stack([low_rank(rng, 8, 5, 4, scales=[3.0, 1.0, 0.2, 0.01]) for _ in range(3)])
    for tau in (0.5, 0.1, 0.05, 1e-3):
        G = ol.normalised_gram(stack)
        assert np.allclose(np.linalg.eigvalsh(G)[..., -1], 1.0)
        assert np.array_equal(linalg.epsilon_rank(G, tau**2), ol.relative_rank(stack, tau))


def test_change_beyond_shrinkage_recovers_the_block():
    rng = np.random.default_rng(5)
    d, k, eps, rho = 10, 3, 0.3, 0.25
    O = ortho_group.rvs(d, random_state=rng)
    V = ortho_group.rvs(d, random_state=rng)
    U = O @ V
    B = rng.standard_normal((k, k)) + 2 * np.eye(k)
    core = np.zeros((d, d))
    core[:k, :k] = B
    core[k:, k:] = rho * np.eye(d - k)
    W = U @ core @ V.T
    expected = U[:, :k] @ (B - rho * np.eye(k)) @ V[:, :k].T
    np.testing.assert_allclose(ol.change_beyond_shrinkage(W, eps * O), expected, atol=1e-12)
    assert ol.relative_rank(ol.change_beyond_shrinkage(W, eps * O), 1e-8) == k
    # a plain rescaling of W0 is no change at all
    assert np.abs(ol.change_beyond_shrinkage(0.7 * O, eps * O)).max() < 1e-12


@pytest.mark.parametrize("tau", [0.0, 1.0, -0.1, 2.0, np.nan])
def test_relative_rank_rejects_bad_tau(tau):
    with pytest.raises(ValueError, match="tau"):
        ol.relative_rank(np.eye(3), tau)


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="M"):
        ol.relative_rank(np.ones(3), 0.1)
    with pytest.raises(ValueError, match="M"):
        ol.relative_spectrum(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="M"):
        ol.normalised_gram(np.array([[np.inf]]))
    with pytest.raises(TypeError, match="tau"):
        ol.relative_rank(np.eye(2), "0.1")
    with pytest.raises(ValueError, match="W0"):
        ol.change_beyond_shrinkage(np.eye(3), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="W0"):
        ol.change_beyond_shrinkage(np.eye(3), np.eye(2))
    with pytest.raises(ValueError, match="W"):
        ol.change_beyond_shrinkage(np.ones((2, 3, 3)), np.ones((4, 3, 3)))
