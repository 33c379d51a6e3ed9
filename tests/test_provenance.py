"""The provenance record names the numerics the kernels ran on."""

from theory import provenance


def test_provenance_records_the_numerics_variables(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.delenv("NPY_DISABLE_CPU_FEATURES", raising=False)
    record = provenance.collect(full=True)
    assert record["mode"] == "full"
    assert record["numerics"] == {"NPY_DISABLE_CPU_FEATURES": None, "OPENBLAS_CORETYPE": "Haswell"}


def test_provenance_names_the_optional_compiler_and_its_absence():
    from importlib import metadata
    record = provenance.collect(full=False)
    try:
        expected = metadata.version("numba")
    except metadata.PackageNotFoundError:
        expected = None
    assert record["packages"]["numba"] == expected
    assert record["packages"]["threadpoolctl"]
