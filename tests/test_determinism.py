"""Every notebook prints the same claims table on every run and BLAS thread count.

The committed notebooks were executed with the machine's default BLAS threads; nbval (in
`make test`) reruns them the same way. Here every notebook runs twice more through
`python -m theory verify` in subprocesses, once with one BLAS thread and once with two, and each
printed claims table must equal the committed one character for character.
"""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def claims_output(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code"
             and c.source.lstrip().startswith("# NBVAL_CHECK_OUTPUT")]
    assert cells, f"{path.name} has no claims cell"
    return "".join(o.get("text", "") for c in cells for o in c.outputs)


@pytest.fixture(scope="module", params=["1", "2"], ids=lambda n: f"{n}-thread")
def verify_run(request, tmp_path_factory):
    threads = request.param
    out = tmp_path_factory.mktemp(f"threads{threads}")
    env = dict(os.environ, OPENBLAS_NUM_THREADS=threads, OMP_NUM_THREADS=threads,
               MKL_NUM_THREADS=threads, THEORY_FULL="0")
    result = subprocess.run([sys.executable, "-m", "theory", "verify", "--jobs", "2", "--out",
                             str(out)], capture_output=True, text=True, env=env, timeout=3000)
    return out, result


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_claims_table_is_identical_across_runs_and_threads(path, verify_run):
    out, result = verify_run
    executed = out / "notebooks" / path.name
    assert executed.exists(), result.stdout[-3000:] + result.stderr[-3000:]
    assert claims_output(executed) == claims_output(path)
