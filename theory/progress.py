"""Progress bars for long loops: tqdm when it is installed, a silent pass-through otherwise.

Notebooks show bars in cells marked ``# NBVAL_IGNORE_OUTPUT``; library code takes a
``progress=False`` flag and wraps its loop in :func:`progress` only when asked.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["progress"]


def progress(iterable: Iterable[T], *, enable: bool = True, **kwargs: Any) -> Iterable[T]:
    """Wrap ``iterable`` in a tqdm bar (``tqdm.auto``) when ``enable`` and tqdm is available."""
    if not enable:
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is an optional (nb) dependency
        return iterable
    kwargs.setdefault("mininterval", 0.5)
    return tqdm(iterable, **kwargs)
