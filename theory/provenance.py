"""Provenance of a run: package versions, BLAS library and threads, mode, git commit.

Recorded in ``claims.json`` by ``python -m theory verify`` so that a table of numbers can be
traced to the software and machine settings that produced it.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata

from . import config, numerics

__all__ = ["collect"]

# numba is optional: None where it is missing (the giant step's passes then ran in numpy, with
# the same bits; theory.fast.kernels)
PACKAGES = ("numpy", "scipy", "sympy", "matplotlib", "threadpoolctl", "numba", "theory")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _blas() -> list[dict]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [{"library": info.get("internal_api"), "version": info.get("version"),
             "threads": info.get("num_threads"), "user_api": info.get("user_api")}
            for info in threadpool_info()]


def _git_commit() -> str | None:
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=config.repo_root(),
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def collect(*, full: bool) -> dict:
    """A JSON-ready description of the software, BLAS and mode of this run."""
    return {
        "mode": "full" if full else "quick",
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": {name: _version(name) for name in PACKAGES},
        "blas": _blas(),
        "numerics": {name: os.environ.get(name) for name in numerics.VARIABLES},
        "git_commit": _git_commit(),
        "default_seed": config.SEED,
    }
