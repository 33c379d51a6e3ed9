"""Run nbval's notebook kernels (and every subprocess of the tests) on the reference numerics of
``theory.numerics``, so that the checked outputs are those committed, on any x86 machine."""

from theory.numerics import apply_reference_environment


def pytest_configure(config):
    apply_reference_environment()
