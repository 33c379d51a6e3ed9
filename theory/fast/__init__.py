"""Speed paths of the paper modules, each beside the plain function it speeds up.

A module here holds only code that makes a plain function of a paper module faster (in-place
updates, worker threads, direct BLAS calls, lean loops, loops compiled by numba where it is
installed); the plain function stays in the paper module, and a test holds the two equal to
round-off on random input. A public function may
dispatch to its fast path by default (``fast=False`` runs the plain version).
"""
