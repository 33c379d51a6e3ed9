"""Benchmark: a seed sweep on a 2-worker dask LocalCluster against the same runs one by one.

Runs ``--seeds`` seeds (default 20) of one quick notebook (default ``00_overview``) twice, into
fresh temporary folders: once with ``theory.sweep.run_sweep`` (LocalCluster, 2 single-threaded
worker processes, cluster start-up included) and once by calling ``theory.sweep.run_notebook``
for each run in turn in this process. Both execute the same papermill runs with the same
one-BLAS-thread kernels. Prints the two wall times and their ratio; nothing is asserted. On a
quiet 2-core machine the ratio is bounded by 2; kernel start-up, which both pay per run, is
part of each run.

Usage: ``python bench/bench_sweep.py [--seeds 20] [--notebook 00_overview] [--workers 2]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from theory import config
from theory import sweep as sw


def sequential(notebook: Path, out: Path, seeds: int) -> tuple[float, int]:
    """The runs of the sweep, one after another in this process; returns (seconds, ok runs)."""
    digest = sw._sha256(notebook)
    start = time.perf_counter()
    ok = 0
    for k in range(seeds):
        key = sw.run_key({}, k)
        record = sw.run_notebook({
            "notebook": str(notebook), "name": notebook.stem, "params": {}, "k": k,
            "seed": sw.seed_for(k), "full": False, "timeout": 1800,
            "run_file": str(out / "runs" / f"{key}.json"), "work_dir": str(out / "work"),
            "notebook_sha256": digest})
        ok += record["status"] == "ok"
    return time.perf_counter() - start, ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--notebook", default="00_overview")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    notebook = config.repo_root() / "notebooks" / f"{args.notebook}.ipynb"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        data = sw.run_sweep([notebook], tmp / "dask", seeds=args.seeds, workers=args.workers,
                            progress=False)
        parallel = time.perf_counter() - start
        ok_parallel = sum(r["status"] == "ok" for r in data["runs"])
        serial, ok_serial = sequential(notebook, tmp / "serial", args.seeds)
    print(f"{args.notebook}, {args.seeds} seeds, quick mode, {os.cpu_count()} cores "
          f"(load average {os.getloadavg()[0]:.1f} at the end)")
    print(f"  dask LocalCluster, {args.workers} workers: {parallel:7.1f} s "
          f"({ok_parallel}/{args.seeds} runs ok, cluster start-up included)")
    print(f"  one after another:              {serial:7.1f} s ({ok_serial}/{args.seeds} runs ok)")
    print(f"  wall-time ratio sequential / dask: {serial / parallel:.2f}")


if __name__ == "__main__":
    main()
