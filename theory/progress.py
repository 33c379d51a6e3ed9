"""Progress bars for long loops: tqdm when it is installed, a silent pass-through otherwise.

Notebooks show bars in cells marked ``# NBVAL_IGNORE_OUTPUT``; library code takes a
``progress=False`` flag and wraps its loop in :func:`progress` only when asked.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["progress", "counter"]


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


def counter(total: int, *, desc: str, unit: str, enable: bool = True) -> Any:
    """A tqdm bar on stderr counting ``total`` items that finish out of order (call
    ``.update(1)`` per item), or None when not ``enable`` or tqdm is unavailable."""
    if not enable:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, mininterval=0.5)
