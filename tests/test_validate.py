"""The shared input-validation helpers: what they accept, and errors that name the argument."""

import numpy as np
import pytest
import sympy as sp

from theory._validate import (as_array_list, as_choice, as_float, as_float_array, as_generator,
                              as_int, as_shape, as_sympy)


def test_as_float_array_promotes_and_rejects():
    out = as_float_array("A", [[1, 2], [3, 4]], ndim=2)
    assert out.dtype == np.float64 and out.shape == (2, 2)
    single = np.ones(3, dtype=np.float32)
    assert as_float_array("A", single).dtype == np.float32    # no silent up-cast of floats
    for bad, kind in [(np.array([np.nan]), ValueError), (np.zeros((2, 0)), ValueError),
                      ("text", TypeError), (None, TypeError), (np.array([1j]), TypeError)]:
        with pytest.raises(kind, match=r"\bA\b"):
            as_float_array("A", bad)
    with pytest.raises(ValueError, match=r"A must have 2 dimensions, got shape \(3,\)"):
        as_float_array("A", np.ones(3), ndim=2)


def test_as_int_and_as_float_bounds():
    assert as_int("k", np.int64(3), minimum=1) == 3
    with pytest.raises(TypeError, match="k"):
        as_int("k", True)
    with pytest.raises(ValueError, match="k must be >= 1"):
        as_int("k", 0, minimum=1)
    assert as_float("lr", np.array(0.5), minimum=0.0, strict_minimum=True) == 0.5
    with pytest.raises(ValueError, match="lr must be > 0"):
        as_float("lr", 0.0, minimum=0.0, strict_minimum=True)
    with pytest.raises(ValueError, match="lr must be finite"):
        as_float("lr", float("inf"))


def test_as_choice_refuses_unhashable_values_with_a_named_error():
    assert as_choice("side", "left", {"left", "right"}) == "left"
    for bad in ("up", None, np.ones(2), [1.0]):
        with pytest.raises(ValueError, match="side must be one of"):
            as_choice("side", bad, {"left", "right"})


def test_as_shape():
    assert as_shape("shape", (3, 4)) == (3, 4)
    assert as_shape("shape", [2, np.int64(5)]) == (2, 5)
    assert as_shape("shape", 7) == (7,)
    assert as_shape("shape", np.array([2, 3])) == (2, 3)
    for bad, kind in [((), ValueError), ((3, 0), ValueError), (-3, ValueError),
                      (1.5, TypeError), ("34", TypeError), (None, TypeError),
                      ((2.0, 3), TypeError)]:
        with pytest.raises(kind, match="shape"):
            as_shape("shape", bad)


def test_as_generator():
    rng = np.random.default_rng(0)
    assert as_generator("rng", rng) is rng
    for bad in (0, None, np.random.RandomState(0)):
        with pytest.raises(ValueError, match="rng must be a numpy.random.Generator"):
            as_generator("rng", bad)


def test_as_array_list():
    out = as_array_list("params", (np.ones(2), [1, 2]))
    assert [a.dtype for a in out] == [np.float64, np.float64]
    with pytest.raises(TypeError, match="params"):
        as_array_list("params", np.ones(3))
    with pytest.raises(ValueError, match="params"):
        as_array_list("params", [])
    with pytest.raises(ValueError, match=r"params\[1\]"):
        as_array_list("params", [np.ones(2), np.array([np.inf])])


def test_as_sympy():
    x = sp.Symbol("x")
    assert as_sympy("expr", x + 1) == x + 1
    M = sp.Matrix([[x]])
    assert as_sympy("expr", M) is M
    assert as_sympy("expr", 2) == sp.Integer(2)
    for bad, kind in [("x + 1", TypeError), (None, TypeError), (np.ones(2), TypeError),
                      (float("nan"), ValueError), (True, TypeError)]:
        with pytest.raises(kind, match="expr"):
            as_sympy("expr", bad)
