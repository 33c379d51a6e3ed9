"""The reference numerics of theory.numerics: the variables, and their effect on numpy and
OpenBLAS in a new process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from theory import numerics

FOUND, DISPATCH = numerics._cpu_dispatch()
X86_AVX2 = numerics.reference_environment({}) != {}


def test_no_pin_off_x86(monkeypatch):
    monkeypatch.setattr(numerics.platform, "machine", lambda: "aarch64")
    assert numerics.reference_environment({}) == {}


def test_no_pin_without_avx2(monkeypatch):
    monkeypatch.setattr(numerics.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(numerics, "_cpu_dispatch", lambda: ({"AVX2": False}, ["AVX2"]))
    assert numerics.reference_environment({}) == {}


def test_the_pin_names_present_wide_targets_and_leaves_user_values(monkeypatch):
    monkeypatch.setattr(numerics.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(numerics, "_cpu_dispatch", lambda: (
        {"AVX2": True, "FMA3": True, "X86_V4": True, "AVX512_ICL": True, "AVX512_SPR": False},
        ["X86_V3", "X86_V4", "AVX512_ICL", "AVX512_SPR"]))
    assert numerics.reference_environment({}) == {
        "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL", "OPENBLAS_CORETYPE": "Haswell"}
    assert numerics.reference_environment({"OPENBLAS_CORETYPE": "SkylakeX"}) == {
        "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL"}
    assert numerics.reference_environment({"NPY_ENABLE_CPU_FEATURES": "X86_V3"}) == {
        "OPENBLAS_CORETYPE": "Haswell"}


@pytest.mark.skipif(not X86_AVX2, reason="the pin applies to x86-64 CPUs with AVX2 and FMA")
def test_a_new_process_runs_the_avx2_kernels():
    env = numerics.reference_environment({})
    probe = ("import json, numpy; from numpy._core import _multiarray_umath as u; "
             "from threadpoolctl import threadpool_info; "
             "print(json.dumps([u.__cpu_features__, "
             "[i.get('architecture') for i in threadpool_info() if i['user_api'] == 'blas']]))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            env={"PATH": "", **env}, timeout=120, check=True)
    features, architectures = json.loads(result.stdout)
    for name in env.get("NPY_DISABLE_CPU_FEATURES", "").split():
        assert FOUND[name] and not features[name], name
    assert features["AVX2"]
    assert architectures and all(a == numerics.REFERENCE_CORETYPE for a in architectures)
