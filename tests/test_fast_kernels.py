"""theory.fast.kernels: the giant step's element-wise passes and normal draws, compiled (numba)
and in numpy.

Both versions must give the bits of the plain numpy expressions they replace, special values
included (NaN, signed zeros, infinities), on any block shape; the draws must be those of numpy's
Generator, which they must leave in numpy's state; and the giant step must give the same bits
with either."""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from theory import giant_step as gs
from theory.fast import blas
from theory.fast import kernels
from theory.fast import ridge as fast_ridge

SHAPES = [(1, 1), (1, 7), (7, 3), (8, 5), (13, 4), (64, 9), (203, 17)]


@pytest.fixture(params=["compiled", "numpy"])
def version(request, monkeypatch):
    """Run a test once with the compiled loops (skipped without numba), once with numpy."""
    if request.param == "compiled":
        pytest.importorskip("numba")
        assert kernels.compiled()        # and the compiled draws passed their check:
        assert kernels._kernel("standard_normal") is not kernels._numpy_standard_normal
    else:
        monkeypatch.setattr(kernels, "_KERNELS", None)
        monkeypatch.setattr(kernels, "_LOADED", True)
        assert not kernels.compiled()
    return request.param


def block(rng, shape):
    """A Fortran-ordered block with the special values up front."""
    Z = np.asfortranarray(rng.standard_normal(shape))
    specials = [-0.0, 0.0, np.nan, np.inf, -np.inf, 1e-310, -1e-310]
    Z.reshape(-1, order="F")[:len(specials)] = specials[:Z.size]
    return Z


def same_bits(a, b):
    return a.shape == b.shape and np.array_equal(np.ascontiguousarray(a).view(np.uint64),
                                                 np.ascontiguousarray(b).view(np.uint64))


@pytest.mark.parametrize("shape", SHAPES)
def test_relu_is_numpys_maximum_with_zero(rng, version, shape):
    Z = block(rng, shape)
    expected = np.maximum(Z, 0.0)
    assert kernels.relu(Z) is Z
    assert Z.flags.f_contiguous and same_bits(Z, expected)


@pytest.mark.parametrize("shape", SHAPES)
def test_relu_and_pack_packs_the_mask_along_rows_and_applies_the_relu(rng, version, shape):
    Z = block(rng, shape)
    expected_bits = np.packbits(Z > 0.0, axis=0)
    expected = np.maximum(Z, 0.0)
    bits = np.full(expected_bits.shape, 0xAB, np.uint8, order="F")  # every byte overwritten
    mask = np.empty(shape, bool, order="F")
    assert kernels.relu_and_pack(Z, bits, mask) is bits
    np.testing.assert_array_equal(bits, expected_bits)
    assert same_bits(Z, expected)


@pytest.mark.parametrize("shape", SHAPES)
def test_mask_times_rows_is_the_mask_cast_to_float_times_the_residual(rng, version, shape):
    Z = block(rng, shape)
    r = rng.standard_normal(shape[0])
    r[0] = -r[0] if r[0] > 0 else r[0]             # a negative residual: the zeros get signs
    expected = np.multiply(Z > 0.0, r[:, None])
    assert kernels.mask_times_rows(Z, r, np.empty(shape, bool, order="F")) is Z
    assert same_bits(Z, expected)


@pytest.mark.parametrize("shape", SHAPES)
def test_bits_times_rows_unpacks_what_relu_and_pack_packed(rng, version, shape):
    Z = block(rng, shape)
    r = rng.standard_normal(shape[0])
    expected = np.multiply(Z > 0.0, r[:, None])
    bits = np.empty(((shape[0] + 7) // 8, shape[1]), np.uint8, order="F")
    kernels.relu_and_pack(Z, bits, np.empty(shape, bool, order="F"))
    out = np.full(shape, np.nan, order="F")
    assert kernels.bits_times_rows(bits, r, out) is out
    assert same_bits(out, expected)


def test_compiled_loops_run_where_numba_is_installed():
    try:
        import numba  # noqa: F401
    except ImportError:
        assert not kernels.compiled()
    else:
        assert kernels.compiled()


BIT_GENERATORS = [np.random.PCG64, np.random.PCG64DXSM, np.random.MT19937, np.random.Philox,
                  np.random.SFC64]


@pytest.mark.parametrize("bit_generator", BIT_GENERATORS)
@pytest.mark.parametrize("shape", SHAPES + [(0, 5), (5, 0)])
def test_standard_normal_is_numpys_generator_stream(version, bit_generator, shape):
    """Two calls in a row: the numbers of rng.standard_normal(out=...), and the stream left
    where numpy leaves it."""
    ours, theirs = (np.random.Generator(bit_generator(11)) for _ in range(2))
    for _ in range(2):
        out = np.full(shape, np.nan)
        assert kernels.standard_normal(ours, out) is out
        assert same_bits(out, theirs.standard_normal(shape))
    assert np.array_equal(ours.bit_generator.random_raw(8), theirs.bit_generator.random_raw(8))


def test_standard_normal_follows_numpy_through_the_tail_and_the_wedges(version):
    """2^23 draws: the ziggurat's rare branches (the wedges, about 0.7 % of draws, and the tail
    beyond r = 3.654, about 0.03 %) take extra numbers from the stream, so one slip there
    shifts every later draw; the tail must have been visited."""
    ours, theirs = np.random.default_rng(5), np.random.default_rng(5)
    out = kernels.standard_normal(ours, np.empty((1 << 14, 512)))
    assert same_bits(out, theirs.standard_normal(out.shape))
    assert np.count_nonzero(np.abs(out) > 3.6541528853610088) > 1000


@pytest.mark.parametrize("order", ["F", "1-D", "float32"])
def test_standard_normal_into_other_layouts_is_numpys(version, order):
    out = {"F": np.empty((7, 5), order="F"), "1-D": np.empty(35),
           "float32": np.empty((7, 5), np.float32)}[order]
    expected = np.empty_like(out)
    np.random.default_rng(2).standard_normal(out=expected, dtype=out.dtype)
    assert kernels.standard_normal(np.random.default_rng(2), out) is out
    np.testing.assert_array_equal(out, expected)


def test_same_draws_rejects_a_draw_off_numpys_stream():
    """The check run before the compiled draws are used: numpy's own draws pass it; a fill in
    the other order, and one that skips a number, do not."""
    def numpy_draw(rng, out):
        rng.standard_normal(out=out)

    def other_order(rng, out):
        out[:] = rng.standard_normal(out.shape[::-1]).T

    def skips_one(rng, out):
        rng.standard_normal(out=out)
        rng.standard_normal()

    assert kernels._same_draws(numpy_draw)
    assert not kernels._same_draws(other_order)
    assert not kernels._same_draws(skips_one)


def test_compiled_draws_off_numpys_stream_are_replaced_by_numpys(monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.setattr(kernels, "_same_draws", lambda draw: False)
    with pytest.warns(RuntimeWarning, match="numpy draws"):
        compiled = kernels._compile()
    assert compiled is not None
    assert compiled["standard_normal"] is kernels._numpy_standard_normal
    assert compiled["relu"] is not kernels._NUMPY["relu"]


@pytest.mark.parametrize("random_features", [False, True])
def test_protocol_gives_the_same_bits_with_compiled_and_numpy_passes(monkeypatch,
                                                                     random_features):
    """The whole fast giant step, early chunks (packed masks) included: the same bits whichever
    version of the passes runs, and whether the Gram terms come from numpy's A.T @ A or from
    the upper triangle of cblas_dsyrk."""
    pytest.importorskip("numba")
    args = (24, 40, 3000)
    kw = dict(n_test=900, chunk=128, random_features=random_features)

    def run() -> tuple[float, ...]:
        return dataclasses.astuple(gs.single_step_protocol(*args, np.random.default_rng(3), **kw))

    compiled = run()
    monkeypatch.setattr(kernels, "_KERNELS", None)
    monkeypatch.setattr(kernels, "_LOADED", True)
    assert np.array_equal(run(), compiled, equal_nan=True)     # NaN: no random features
    monkeypatch.setattr(blas, "available", lambda: False)
    assert np.array_equal(run(), compiled, equal_nan=True)


@pytest.mark.skipif(not blas.available(), reason="numpy's BLAS is not an OpenBLAS")
def test_lane_gram_from_the_upper_triangle_gives_numpys_bits(rng, monkeypatch):
    X, W, y = rng.standard_normal((203, 9)), rng.standard_normal((13, 9)), rng.standard_normal(203)
    with ThreadPoolExecutor(1) as pool:
        def gram() -> tuple[np.ndarray, np.ndarray]:
            return fast_ridge.lane_gram(pool, [np.empty(50 * 13) for _ in range(2)], X, y, W, 50)

        G, rhs = gram()
        monkeypatch.setattr(blas, "available", lambda: False)
        G_numpy, rhs_numpy = gram()
    assert same_bits(G, G_numpy) and same_bits(rhs, rhs_numpy)
    np.testing.assert_array_equal(G, G.T)


def test_step_with_early_chunks_gives_the_same_bits_with_compiled_and_numpy_passes(
        rng, monkeypatch):
    """A slow draw makes chunks go early (mask packed, then unpacked times the residual); a
    batch of 300 rows in 64-row chunks ends with a chunk of 44 rows, not a multiple of 8."""
    pytest.importorskip("numba")
    from theory import two_layer as tl
    from theory.fast import giant_step as fast_gs
    X_ref, y_ref = tl.sample_batch(300, 9, tl.make_target("giant_step_teacher"), rng)
    W0, a0 = tl.gaussian_init(9, 14, rng)

    def step() -> tuple[np.ndarray, float, int]:
        X, y = np.full_like(X_ref, np.nan), np.full_like(y_ref, np.nan)

        def draw(rows):
            time.sleep(0.01)
            X[rows], y[rows] = X_ref[rows], y_ref[rows]

        with ThreadPoolExecutor(1) as pool:
            *_, grad, loss, early = fast_gs._step_in_lanes(
                pool, fast_gs._scratch(2, 64, 9, 14), X, y, draw, W0, a0, 64)
        return grad, loss, early

    grad, loss, early = step()
    monkeypatch.setattr(kernels, "_KERNELS", None)
    monkeypatch.setattr(kernels, "_LOADED", True)
    grad_numpy, loss_numpy, early_numpy = step()
    assert early >= 1 and early_numpy >= 1
    assert same_bits(grad, grad_numpy) and loss == loss_numpy
