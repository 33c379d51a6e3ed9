"""The provenance record names the numerics the kernels ran on."""

from theory import provenance


def test_provenance_records_the_numerics_variables(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.delenv("NPY_DISABLE_CPU_FEATURES", raising=False)
    record = provenance.collect(full=True)
    assert record["mode"] == "full"
    assert record["numerics"] == {"NPY_DISABLE_CPU_FEATURES": None, "OPENBLAS_CORETYPE": "Haswell"}
