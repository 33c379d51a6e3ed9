"""theory.fast.blas: C <- alpha op(A) op(B) + beta C in numpy's own BLAS."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import ThreadpoolController

from theory.fast import blas

needs_blas = pytest.mark.skipif(not blas.available(), reason="numpy's BLAS is not an OpenBLAS")


def test_available_where_numpy_runs_on_openblas():
    # numpy's wheels run on OpenBLAS; there the fused updates must not fall back silently
    np.ones((3, 3)) @ np.ones((3, 3))
    numpy_blas = [c for c in ThreadpoolController().select(internal_api="openblas").lib_controllers
                  if "numpy" in c.filepath]
    assert blas.available() == bool(numpy_blas)


@needs_blas
@pytest.mark.parametrize("shape", [(5, 7, 3), (1, 4, 1), (6, 1, 9), (3, 0, 2)])
@pytest.mark.parametrize("alpha, beta", [(1.0, 0.0), (-0.3, 1.0), (2.5, 0.7)])
def test_gemm_equals_the_numpy_expression_for_every_transpose(rng, shape, alpha, beta):
    m, k, n = shape
    a, b = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    c0 = rng.standard_normal((m, n))
    expected = alpha * (a @ b) + beta * c0
    for a_op in (a, np.ascontiguousarray(a.T).T):          # C-ordered and a transposed view
        for b_op in (b, np.ascontiguousarray(b.T).T):
            c = c0.copy()
            assert blas.gemm(a_op, b_op, c, alpha=alpha, beta=beta) is c
            np.testing.assert_allclose(c, expected, rtol=1e-13, atol=1e-14)


@needs_blas
def test_gemm_with_beta_zero_ignores_what_out_held(rng):
    a, b = rng.standard_normal((4, 6)), rng.standard_normal((6, 5))
    c = np.full((4, 5), np.nan)
    np.testing.assert_allclose(blas.gemm(a, b, c), a @ b, rtol=1e-13)


@needs_blas
def test_gemm_into_a_stack_layer_leaves_the_other_layers_alone(rng):
    stack = rng.standard_normal((3, 8, 8))
    before = stack.copy()
    a, b = rng.standard_normal((8, 8)), rng.standard_normal((8, 8))
    blas.gemm(a, b.T, stack[1], alpha=-0.5, beta=1.0)
    np.testing.assert_array_equal(stack[[0, 2]], before[[0, 2]])
    np.testing.assert_allclose(stack[1], before[1] - 0.5 * a @ b.T, rtol=1e-13, atol=1e-14)


@needs_blas
def test_gemm_rejects_bad_operands(rng):
    a, b, c = rng.standard_normal((4, 6)), rng.standard_normal((6, 5)), np.empty((4, 5))
    with pytest.raises(ValueError, match="shapes"):
        blas.gemm(a, b[:5], c)
    with pytest.raises(ValueError, match="shapes"):
        blas.gemm(a, b, np.empty((5, 4)))
    with pytest.raises(ValueError, match="a must be C-ordered"):
        blas.gemm(rng.standard_normal((8, 6))[::2], b, c)
    with pytest.raises(ValueError, match="b must be C-ordered"):
        blas.gemm(a, rng.standard_normal((6, 10))[:, ::2], c)
    with pytest.raises(TypeError, match="a must"):
        blas.gemm(a.astype(np.float32), b, c)
    with pytest.raises(TypeError, match="b must"):
        blas.gemm(a, [[1.0]], c)
    with pytest.raises(TypeError, match="out must"):
        blas.gemm(a, b, np.empty((5, 4)).T)
    square = rng.standard_normal((4, 4))
    with pytest.raises(ValueError, match="overlap"):
        blas.gemm(square, square.T.copy(), square)


@needs_blas
@pytest.mark.parametrize("shape", [(5, 7), (1, 4), (6, 1), (3, 0), (64, 203)])
def test_syrk_upper_gives_the_upper_triangle_of_numpys_product_to_the_bit(rng, shape):
    n, k = shape
    a = rng.standard_normal((n, k))
    expected = a @ a.T                       # numpy runs the same rank-k update, then copies
    upper = np.triu_indices(n)
    for a_op in (a, np.ascontiguousarray(a.T).T):          # C-ordered and a transposed view
        out = np.full((n, n), -7.0)
        assert blas.syrk_upper(a_op, out) is out
        np.testing.assert_array_equal(out[upper], expected[upper])
        np.testing.assert_array_equal(out[np.tril_indices(n, -1)], -7.0)   # left alone


@needs_blas
def test_syrk_upper_rejects_bad_operands(rng):
    a = rng.standard_normal((4, 6))
    with pytest.raises(ValueError, match="shapes"):
        blas.syrk_upper(a, np.empty((6, 6)))
    with pytest.raises(ValueError, match="a must be C-ordered"):
        blas.syrk_upper(rng.standard_normal((8, 6))[::2], np.empty((4, 4)))
    with pytest.raises(TypeError, match="a must"):
        blas.syrk_upper(a.astype(np.float32), np.empty((4, 4)))
    with pytest.raises(TypeError, match="out must"):
        blas.syrk_upper(a, np.empty((4, 4), order="F")[:, :3])
    square = rng.standard_normal((4, 4))
    with pytest.raises(ValueError, match="overlap"):
        blas.syrk_upper(square, square)
