"""Input validation shared by every public function of :mod:`theory`.

Each helper raises :class:`ValueError` (or :class:`TypeError` for a value of the wrong kind)
with a message that names the offending argument, so that bad input never fails silently.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np


def as_float_array(name: str, value: object, *, min_ndim: int = 0,
                   ndim: int | None = None) -> np.ndarray:
    """Return ``value`` as a finite floating-point ndarray, or raise naming ``name``.

    Integer and boolean input is promoted to float64; complex input is rejected.
    """
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} could not be converted to an array: {exc}") from None
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {arr.shape}")
    if arr.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values (found NaN or inf)")
    return arr


def as_matrix_stack(name: str, value: object) -> np.ndarray:
    """A finite float array of shape ``(..., m, n)`` with ``m, n >= 1``."""
    return as_float_array(name, value, min_ndim=2)


def as_int(name: str, value: object, *, minimum: int | None = None,
           maximum: int | None = None) -> int:
    """An integer in ``[minimum, maximum]`` (bounds inclusive, either optional)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def as_float(name: str, value: object, *, minimum: float | None = None,
             maximum: float | None = None, strict_minimum: bool = False) -> float:
    """A finite real number, optionally bounded below (strictly or not) and above."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        arr = np.asarray(value) if isinstance(value, np.ndarray) else None
        if arr is None or arr.ndim != 0 or arr.dtype.kind not in "iuf":
            raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)  # type: ignore[arg-type]  # a real number or a 0-d numeric array
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None:
        if strict_minimum and value <= minimum:
            raise ValueError(f"{name} must be > {minimum}, got {value}")
        if not strict_minimum and value < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def as_choice(name: str, value: object, choices: Iterable[str]) -> str:
    """One of a fixed set of strings."""
    if not isinstance(value, str) or value not in choices:  # no hashing of arrays and lists
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def as_shape(name: str, value: object) -> tuple:
    """An array shape: a positive integer or a non-empty sequence of positive integers."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,)
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "iu":
        value = value.tolist()
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"{name} must be a tuple of positive integers, got {value!r}")
    if not value:
        raise ValueError(f"{name} must have at least one dimension, got {tuple(value)}")
    return tuple(as_int(name, s, minimum=1) for s in value)


def as_generator(name: str, value: object) -> np.random.Generator:
    """A :class:`numpy.random.Generator` (``ValueError`` otherwise, as the trainers always did)."""
    if not isinstance(value, np.random.Generator):
        raise ValueError(f"{name} must be a numpy.random.Generator, got {type(value).__name__}")
    return value


def as_array_list(name: str, value: object) -> list:
    """A non-empty list or tuple of finite float arrays (``name[i]`` named in the error)."""
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a list of arrays, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must not be empty")
    return [as_float_array(f"{name}[{i}]", a) for i, a in enumerate(value)]


def as_sympy(name: str, value: object) -> Any:
    """A sympy expression or matrix; a finite Python/numpy real number is sympified.

    Strings are refused (``sympify`` would parse them as code), as are ``None``, numpy arrays
    and non-finite floats.
    """
    import sympy as sp  # a heavy import, only needed by the symbolic helpers

    if isinstance(value, (sp.Basic, sp.MatrixBase)):
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if not np.isfinite(float(value)):
            raise ValueError(f"{name} must be finite, got {value}")
        return sp.sympify(value)
    raise TypeError(f"{name} must be a sympy expression or matrix, got {type(value).__name__}")
