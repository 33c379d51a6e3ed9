"""One floating-point baseline for every checked run on x86 machines, whatever their vendor.

Several notebooks train networks whose trajectories amplify round-off (Adam on tanh networks
in notebook 05, for instance: a last-bit change at one step moves a printed ratio from 0.61 to
0.68 after 3000 steps). The last bits depend on the machine's SIMD kernels: numpy dispatches
its elementwise loops (``tanh``, ``exp``, ...) to AVX-512 code where the CPU has it, and
OpenBLAS picks its matrix-product kernels and block sizes by CPU type. The committed outputs
were computed with AVX2 kernels; on an AVX-512 machine the same seed then prints other numbers.

:func:`reference_environment` gives the environment variables that pin both to the AVX2
baseline, which every x86-64 CPU of the last decade runs: ``NPY_DISABLE_CPU_FEATURES`` (numpy's
AVX-512 dispatch targets present on this machine) and ``OPENBLAS_CORETYPE=Haswell`` (OpenBLAS's
AVX2 kernels; AMD Zen machines use them already). They take effect in processes started after
they are set, before numpy is imported: ``python -m theory`` sets them for the kernels it
starts, and the repository's ``conftest.py`` for the kernels of nbval. A variable the user has
set is left alone, so ``OPENBLAS_CORETYPE=SkylakeX make verify`` runs the native kernels (and
may print other last digits). The price is speed on AVX-512 machines: a d = 1000 matrix
product takes 19 ms instead of 13 ms on the Xeon we measured. The benchmarks run the native
kernels.
"""

from __future__ import annotations

import importlib
import os
import platform
from collections.abc import Mapping

__all__ = ["REFERENCE_CORETYPE", "VARIABLES", "apply_reference_environment",
           "reference_environment"]

#: The environment variables that select the numerics (recorded in a run's provenance).
VARIABLES = ("NPY_DISABLE_CPU_FEATURES", "OPENBLAS_CORETYPE")
#: The OpenBLAS core type of the reference numerics (AVX2 and FMA kernels).
REFERENCE_CORETYPE = "Haswell"


def _cpu_dispatch() -> tuple[dict[str, bool], list[str]]:
    """numpy's view of this CPU: ``(features found, dispatch targets of the build)``."""
    try:
        umath = importlib.import_module("numpy._core._multiarray_umath")     # numpy >= 2
    except ImportError:                                     # pragma: no cover - numpy 1.x
        umath = importlib.import_module("numpy.core._multiarray_umath")
    return dict(umath.__cpu_features__), list(umath.__cpu_dispatch__)


def reference_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables that pin this x86 machine's numerics to the AVX2 baseline (see the
    module docstring); empty on other architectures, on CPUs without AVX2 and FMA, and for
    each variable already in ``environ`` (default ``os.environ``)."""
    environ = os.environ if environ is None else environ
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return {}
    found, dispatch = _cpu_dispatch()
    if not (found.get("AVX2") and found.get("FMA3")):
        return {}
    values: dict[str, str] = {}
    if "NPY_DISABLE_CPU_FEATURES" not in environ and "NPY_ENABLE_CPU_FEATURES" not in environ:
        wide = [name for name in dispatch if found.get(name)
                and (name.startswith(("AVX512", "AVX10")) or name == "X86_V4")]
        if wide:
            values["NPY_DISABLE_CPU_FEATURES"] = " ".join(wide)
    if "OPENBLAS_CORETYPE" not in environ:
        values["OPENBLAS_CORETYPE"] = REFERENCE_CORETYPE
    return values


def apply_reference_environment() -> dict[str, str]:
    """Set :func:`reference_environment` in ``os.environ`` (for the processes started after
    this call) and return what was set."""
    values = reference_environment()
    os.environ.update(values)
    return values
