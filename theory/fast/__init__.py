"""Speed paths of the paper modules, kept apart from the reference code they accelerate.

Each module here names, in its docstring, the plain function it speeds up; the tests hold the
two equal to round-off on random input, and the public trainer dispatches to the fast path by
default (``fast=False`` runs the plain loop on :func:`theory.training.run`).
"""
