"""Run mode and sizes: quick unless the environment sets ``THEORY_FULL=1``.

Quick mode keeps every notebook under about a minute on two CPU cores while still checking
every claim; full mode runs the papers' own sizes. Notebooks pick a size with
:func:`pick`, e.g. ``d = config.pick(quick=64, full=1000)``.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

__all__ = ["SEED", "is_full", "mode", "pick", "parts", "repo_root", "build_dir", "claims_dir",
           "figures_dir", "discover_notebooks"]

#: The default seed of every notebook's ``numpy.random.default_rng``.
SEED = 20241126


def is_full() -> bool:
    """True when ``THEORY_FULL`` is set to ``1`` (paper-scale sizes)."""
    value = os.environ.get("THEORY_FULL", "0").strip()
    if value not in ("", "0", "1"):
        raise ValueError(f"THEORY_FULL must be 0 or 1, got {value!r}")
    return value == "1"


def mode() -> str:
    """``"full"`` or ``"quick"``."""
    return "full" if is_full() else "quick"


def pick(quick: T, full: T) -> T:
    """The quick-mode value, or the full-mode value when ``THEORY_FULL=1``."""
    return full if is_full() else quick


def parts(part: str, names: Collection[str]) -> frozenset[str]:
    """The heavy sections one run of a notebook executes: all of ``names`` for ``part="all"``,
    else ``{part}``.

    A notebook whose full mode exceeds the 30-minute budget names its heavy sections (the
    ``PART`` of its ``parameters`` cell, default ``"all"``), so that a sweep can run them as
    separate pieces (``--grid PART=a,b,...``) and ``python -m theory record`` can merge the
    pieces' ledgers (docs/sweeps.md). A name outside ``names`` raises ``ValueError`` naming it.
    """
    if not isinstance(names, (tuple, list, set, frozenset)) or not names \
            or not all(isinstance(n, str) for n in names):
        raise TypeError(f"names must be a non-empty tuple of section names, got {names!r}")
    if "all" in names:
        raise ValueError("names must not contain 'all' (it selects every section)")
    if not isinstance(part, str):
        raise TypeError(f"part (the notebook's PART) must be a string, got {part!r}")
    if part == "all":
        return frozenset(names)
    if part not in names:
        raise ValueError(f"part: PART = {part!r} names no section of this notebook; choose "
                         f"'all' or one of {', '.join(repr(n) for n in names)}")
    return frozenset({part})


def repo_root() -> Path:
    """The checkout this package lives in (the parent of ``theory/``)."""
    return Path(__file__).resolve().parent.parent


def build_dir() -> Path:
    """Where ``theory verify`` writes its outputs: ``THEORY_BUILD_DIR`` or ``<repo>/_build``."""
    return Path(os.environ.get("THEORY_BUILD_DIR") or repo_root() / "_build")


def claims_dir() -> Path:
    """Where notebooks publish their ledgers: ``<build dir>/claims``."""
    return build_dir() / "claims"


def figures_dir() -> Path:
    """Where notebooks save their figures for slides: ``<build dir>/figures``."""
    return build_dir() / "figures"


def discover_notebooks(folder: Path, only: list[str] | None = None, *,
                       include_sources: bool = False) -> list[Path]:
    """Notebooks in ``folder`` sorted by name; ``only`` keeps names containing any pattern.

    With ``include_sources``, a jupytext ``.py`` source without its ``.ipynb`` yet counts too
    (as the ``.ipynb`` path that :func:`refresh` will create).
    """
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"folder must be a path, got {type(folder).__name__}")
    if only is not None and (isinstance(only, str) or not all(isinstance(o, str) for o in only)):
        raise TypeError(f"only must be a list of name patterns, got {only!r}")
    folder = Path(folder)
    found = {p for p in folder.glob("*.ipynb")
             if not p.name.startswith(".") and "-checkpoint" not in p.name}
    if include_sources:
        found |= {p.with_suffix(".ipynb") for p in folder.glob("[0-9][0-9]_*.py")}
    notebooks = sorted(found)
    if only:
        notebooks = [p for p in notebooks if any(pattern in p.stem for pattern in only)]
        if not notebooks:
            raise ValueError(f"--only {only} matches no notebook in {folder}")
    return notebooks
