"""Helpers shared by the test modules."""

from __future__ import annotations

import numpy as np
import pytest

from theory.fitting import central_difference


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh generator with a fixed seed (a test module may override it)."""
    return np.random.default_rng(2024)


def assert_gradient_matches(fun, grad, x, *, h: float = 1e-6, rtol: float = 1e-6,
                            atol: float = 1e-8) -> None:
    """Assert that ``grad`` (an array) equals the central finite differences of the scalar
    ``fun`` at ``x`` (:func:`theory.fitting.central_difference`)."""
    np.testing.assert_allclose(grad, central_difference(fun, x, h), rtol=rtol, atol=atol)
