"""The SVD core against numpy/scipy oracles, closed forms and hypothesis properties."""

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ortho_group

from theory import linalg


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def rotation_pair(theta: float):
    """Two 2-D subspaces of R^4 with principal angles exactly (0, theta)."""
    A = np.eye(4)[:, :2]
    B = np.array([[1.0, 0.0], [0.0, np.cos(theta)], [0.0, np.sin(theta)], [0.0, 0.0]])
    return A, B


# -- singular values ------------------------------------------------------------------------
def test_singular_values_match_numpy_on_a_stack(rng):
    W = rng.standard_normal((7, 3, 6, 4))
    got = linalg.singular_values(W)
    assert got.shape == (7, 3, 4)
    for idx in np.ndindex(7, 3):
        np.testing.assert_allclose(got[idx], np.linalg.svd(W[idx], compute_uv=False),
                                   rtol=1e-12, atol=1e-12)
    assert np.all(np.diff(got, axis=-1) <= 0)


def test_singular_values_of_a_known_spectrum():
    U = ortho_group.rvs(5, random_state=np.random.default_rng(0))
    V = ortho_group.rvs(3, random_state=np.random.default_rng(1))
    s = np.array([3.0, 2.0, 0.5])
    W = U[:, :3] @ np.diag(s) @ V.T
    np.testing.assert_allclose(linalg.singular_values(W), s, rtol=1e-13)


# -- principal angles -----------------------------------------------------------------------
def test_principal_angles_match_scipy_on_a_batch(rng):
    A = rng.standard_normal((5, 12, 3))
    B = rng.standard_normal((5, 12, 4))
    got = linalg.principal_angles(A, B)
    assert got.shape == (5, 3)
    for i in range(5):
        np.testing.assert_allclose(got[i], np.sort(scipy.linalg.subspace_angles(A[i], B[i])),
                                   rtol=1e-10, atol=1e-12)


def test_principal_angles_broadcast_batch_axes(rng):
    A = rng.standard_normal((4, 1, 9, 2))
    B = rng.standard_normal((3, 9, 2))
    got = linalg.principal_angles(A, B)
    assert got.shape == (4, 3, 2)
    np.testing.assert_allclose(got[2, 1], linalg.principal_angles(A[2, 0], B[1]), rtol=1e-12)


@pytest.mark.parametrize("theta", [1e-9, 1e-12, 1e-6, 0.3, np.pi / 2 - 1e-9])
def test_tiny_and_large_angles_are_resolved(theta):
    A, B = rotation_pair(theta)
    angles = linalg.principal_angles(A, B)
    np.testing.assert_allclose(angles, [0.0, theta], rtol=1e-3, atol=1e-15)


def test_arccos_cannot_resolve_a_tiny_angle():
    """The reason for the sine-based formula: cosines round to 1 below ~1e-8 rad."""
    A, B = rotation_pair(1e-9)
    cosines = np.linalg.svd(A.T @ B, compute_uv=False)
    assert np.arccos(np.clip(cosines, -1, 1)).max() == 0.0


def test_subspace_distance_is_sine_of_largest_angle():
    A, B = rotation_pair(0.25)
    np.testing.assert_allclose(linalg.subspace_distance(A, B), np.sin(0.25), rtol=1e-12)
    # nested subspaces: distance 0
    C = np.eye(4)[:, :3]
    assert linalg.subspace_distance(np.eye(4)[:, :1], C) == pytest.approx(0.0, abs=1e-15)
    # orthogonal subspaces: distance 1
    assert linalg.subspace_distance(np.eye(4)[:, :2], np.eye(4)[:, 2:]) == pytest.approx(1.0)


matrices = st.integers(min_value=0, max_value=2**31 - 1)


@settings(max_examples=60, deadline=None)
@given(seed=matrices, n=st.integers(3, 9), a=st.integers(1, 3), b=st.integers(1, 3))
def test_angle_properties(seed, n, a, b):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, a))
    B = rng.standard_normal((n, b))
    angles = linalg.principal_angles(A, B)
    assert angles.shape == (min(a, b),)
    assert np.all(angles >= 0) and np.all(angles <= np.pi / 2 + 1e-15)
    assert np.all(np.diff(angles) >= -1e-12)
    # symmetric in A and B
    np.testing.assert_allclose(linalg.principal_angles(B, A), angles, atol=1e-10)
    # invariant to the choice of basis: A -> A G, G invertible
    G = rng.standard_normal((a, a)) + 3 * np.eye(a)
    np.testing.assert_allclose(linalg.principal_angles(A @ G, B), angles, atol=1e-8)
    # a space makes zero angles with itself
    np.testing.assert_allclose(linalg.principal_angles(A, A), 0.0, atol=1e-7)


# -- epsilon-rank -----------------------------------------------------------------------------
def test_epsilon_rank_of_known_spectra():
    Q = ortho_group.rvs(6, random_state=np.random.default_rng(3))
    spectra = np.array([[5, 1, 1e-2, 1e-4, 1e-6, 0],
                        [1, 1, 1, 1, 1, 1],
                        [0, 0, 0, 0, 0, 0.0]])
    G = Q @ (spectra[:, :, None] * Q.T[None])
    np.testing.assert_array_equal(linalg.epsilon_rank(G, 1e-3), [3, 6, 0])
    np.testing.assert_array_equal(linalg.epsilon_rank(G, 1e-5), [4, 6, 0])
    np.testing.assert_array_equal(linalg.epsilon_rank(G, 2.0), [1, 0, 0])
    assert linalg.epsilon_rank(G, 0.0).dtype.kind == "i"


def test_epsilon_rank_is_monotone_in_eps(rng):
    X = rng.standard_normal((4, 8, 20))
    G = X @ np.swapaxes(X, -1, -2) / 20
    ranks = [linalg.epsilon_rank(G, e) for e in (0.0, 1e-3, 1e-1, 1.0, 10.0)]
    for lo, hi in zip(ranks, ranks[1:]):
        assert np.all(hi <= lo)


# -- top subspace -----------------------------------------------------------------------------
def test_top_subspace_spans_the_leading_singular_vectors(rng):
    U = ortho_group.rvs(8, random_state=np.random.default_rng(5))
    V = ortho_group.rvs(5, random_state=np.random.default_rng(6))
    W = U[:, :5] @ np.diag([9.0, 7.0, 1.0, 0.5, 0.1]) @ V.T
    left = linalg.top_subspace(W, 2, side="left")
    right = linalg.top_subspace(W, 2, side="right")
    assert left.shape == (8, 2) and right.shape == (5, 2)
    np.testing.assert_allclose(left.T @ left, np.eye(2), atol=1e-12)
    assert linalg.subspace_distance(left, U[:, :2]) < 1e-12
    assert linalg.subspace_distance(right, V[:, :2]) < 1e-12
    stack = linalg.top_subspace(np.stack([W, 2 * W]), 3)
    assert stack.shape == (2, 8, 3)


# -- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize("func, args, name", [
    (linalg.singular_values, (np.ones(3),), "W"),
    (linalg.singular_values, (np.array([[1.0, np.nan]]),), "W"),
    (linalg.singular_values, (np.ones((0, 3)),), "W"),
    (linalg.principal_angles, (np.ones(3), np.ones((3, 1))), "A"),
    (linalg.principal_angles, (np.eye(3)[:, :1], np.full((3, 1), np.inf)), "B"),
    (linalg.principal_angles, (np.eye(3)[:, :1], np.eye(4)[:, :1]), "rows"),
    (linalg.principal_angles, (np.ones((3, 2)), np.eye(3)[:, :1]), "A"),
    (linalg.principal_angles, (np.eye(2), np.eye(3)[:, :2]), "rows"),
    (linalg.subspace_distance, (np.ones((2, 3)), np.eye(2)), "A"),
    (linalg.epsilon_rank, (np.ones((2, 3)), 0.1), "G"),
    (linalg.epsilon_rank, (np.eye(2), -1.0), "eps"),
    (linalg.epsilon_rank, (np.eye(2), np.nan), "eps"),
    (linalg.epsilon_rank, (np.array([[1.0, 2.0], [0.0, 1.0]]), 0.1), "G"),
    (linalg.epsilon_rank, (np.array([[1.0, np.nan], [np.nan, 1.0]]), 0.1), "G"),
    (linalg.top_subspace, (np.eye(3), 0), "k"),
    (linalg.top_subspace, (np.eye(3), 4), "k"),
    (linalg.top_subspace, (np.eye(3), 1, "middle"), "side"),
    (linalg.top_subspace, (np.full((2, 2), np.nan), 1), "W"),
])
def test_bad_input_raises_value_error_naming_the_argument(func, args, name):
    with pytest.raises(ValueError, match=name):
        func(*args)


def test_non_numeric_input_raises_type_error():
    with pytest.raises(TypeError, match="W"):
        linalg.singular_values(np.array([["a", "b"]]))
    with pytest.raises(TypeError, match="k"):
        linalg.top_subspace(np.eye(3), 1.5)
