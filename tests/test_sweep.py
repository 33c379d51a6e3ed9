"""`python -m theory sweep` on tiny toy notebooks: statistics, dask, crashes, dead workers, resume.

Also the `verify` mode fix: an inherited THEORY_FULL=1 selects full mode like `--full`.
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import nbformat
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nbformat.v4 import new_code_cell, new_notebook

from theory import config
from theory import sweep as sw
from theory.cli import main

SEED0 = config.SEED


def write_notebook(path, *sources):
    """A notebook whose first code cell is tagged `parameters`, like the collection's."""
    cells = [new_code_cell(s) for s in sources]
    cells[0].metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)


PARAMETERS = "from theory import config\nSEED = config.SEED\nALPHA = 1\n"
LEDGER = "from theory.claims import Ledger\nledger = Ledger('Toy paper', seed=SEED)\n"


def run_cli(*args, env=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "theory", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


# -- statistics -----------------------------------------------------------------------------------
@pytest.mark.parametrize("k, n, low, high", [
    # R. G. Newcombe, Stat. Med. 17 (1998) 857, Table I, method 3 (Wilson score, no correction)
    (81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
])
def test_wilson_interval_matches_published_values(k, n, low, high):
    lo, hi = sw.wilson_interval(k, n)
    assert lo == pytest.approx(low, abs=6e-5) and hi == pytest.approx(high, abs=6e-5)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
       st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_interval_is_the_closed_form(kn, confidence):
    from scipy.stats import norm

    k, n = kn
    z = norm.ppf(0.5 + confidence / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    lo, hi = sw.wilson_interval(k, n, confidence)
    assert lo == pytest.approx(max(centre - half, 0.0), abs=1e-12)
    assert hi == pytest.approx(min(centre + half, 1.0), abs=1e-12)
    # symmetry: k passes out of n mirror n - k failures
    lo2, hi2 = sw.wilson_interval(n - k, n, confidence)
    assert lo2 == pytest.approx(1 - hi, abs=1e-12) and hi2 == pytest.approx(1 - lo, abs=1e-12)
    assert 0 <= lo <= p <= hi <= 1


def test_wilson_interval_bad_input():
    with pytest.raises(ValueError, match="runs"):
        sw.wilson_interval(0, 0)
    with pytest.raises(ValueError, match="passed"):
        sw.wilson_interval(5, 4)
    with pytest.raises(TypeError, match="passed"):
        sw.wilson_interval(1.5, 4)
    with pytest.raises(ValueError, match="confidence"):
        sw.wilson_interval(1, 4, 1.0)


# -- grid, seeds, keys ----------------------------------------------------------------------------
def test_seed_rule_and_grid():
    assert sw.seed_for(0) == config.SEED and sw.seed_for(7) == config.SEED + 7
    grid = sw.parse_grid(["ALPHA=1,2,4", "act=relu,'tanh'", "lr=1e-3"])
    assert grid == {"ALPHA": [1, 2, 4], "act": ["relu", "tanh"], "lr": [0.001]}
    points = sw.grid_points(grid)
    assert len(points) == 6 and points[0] == {"ALPHA": 1, "act": "relu", "lr": 0.001}
    assert sw.grid_points({}) == [{}]
    keys = {sw.run_key(p, k) for p in points for k in range(3)}
    assert len(keys) == 18 and all("/" not in key for key in keys)
    assert sw.run_key({"A": 1}, 2) == sw.run_key({"A": 1}, 2) != sw.run_key({"A": "1"}, 2)


@pytest.mark.parametrize("spec, message", [
    (["ALPHA"], "NAME=V1"), (["1x=2"], "identifier"), (["SEED=1,2"], "--seeds"),
    (["A=1", "A=2"], "twice"), (["A=1,,2"], "empty"), (["A="], "empty"), (["A=1,1"], "repeats"),
    (["A=[1]"], "number"),
])
def test_parse_grid_bad_input(spec, message):
    with pytest.raises(ValueError, match=message):
        sw.parse_grid(spec)


def test_seed_for_bad_input():
    with pytest.raises(ValueError, match="k"):
        sw.seed_for(-1)
    with pytest.raises(TypeError, match="k"):
        sw.seed_for(1.0)


def _record(seed, claims, params=None, status="ok"):
    return {"notebook": "01_toy", "params": params or {}, "k": seed - SEED0, "seed": seed,
            "status": status, "error": None, "seconds": 1.0, "claims": claims}


def _claim(cid, measured, passed, **extra):
    return {"id": cid, "kind": "evidence", "statement": f"claim {cid}", "measured": measured,
            "passed": passed, "relation": "le", "expected": 1.0, "digits": 3, **extra}


def test_summarize_counts_quartiles_and_failed_seeds():
    runs = [_record(SEED0 + k, [_claim("A", float(k), k < 3)]) for k in range(5)]
    runs.append(_record(SEED0 + 5, [], status="error"))
    (a,) = sw.summarize(runs)
    assert (a["runs"], a["passed"], a["pass_rate"]) == (5, 3, 0.6)
    assert (a["q25"], a["median"], a["q75"]) == (1.0, 2.0, 3.0)
    assert a["failed_seeds"] == [SEED0 + 3, SEED0 + 4] and a["missing_seeds"] == [SEED0 + 5]
    assert (a["wilson_low"], a["wilson_high"]) == sw.wilson_interval(3, 5)
    # grid points are summarised separately
    runs = [_record(SEED0, [_claim("A", 0.5, True)], {"ALPHA": 1}),
            _record(SEED0, [_claim("A", 2.0, False)], {"ALPHA": 2})]
    by_point = {s["params"]["ALPHA"]: s for s in sw.summarize(runs)}
    assert by_point[1]["passed"] == 1 and by_point[2]["failed_seeds"] == [SEED0]
    with pytest.raises(ValueError, match="runs"):
        sw.summarize([{"no": "notebook"}])


# -- a sweep on a 2-worker LocalCluster -----------------------------------------------------------
@pytest.fixture(scope="module")
def toy_sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    folder = root / "notebooks"
    folder.mkdir()
    write_notebook(
        folder / "01_toy.ipynb", PARAMETERS,
        "import os\nimport numpy as np\nfrom pathlib import Path\n" + LEDGER +
        "x = np.random.default_rng(SEED).standard_normal() * ALPHA\n"
        "ledger.check('SMALL', 'a draw is below 1.2', x, 1.2, relation='le', "
        "source='derived here', kind='evidence', alternative='draws of scale 10')\n"
        "private = Path(os.environ['THEORY_BUILD_DIR'])\n"
        "ledger.check('PRIVATE', 'private build dir', config.build_dir() == private and "
        "'work' in private.parts, True, relation='true', source='derived here', "
        "kind='consistency')\n"
        "if ALPHA == 2 and SEED == config.SEED + 2:\n    raise RuntimeError('boom at k=2')\n"
        "if ALPHA == 1 and SEED == config.SEED + 3:\n    import time; time.sleep(120)\n"
        "ledger.publish('01_toy')")
    out = root / "out"
    result = run_cli("sweep", "--notebooks", str(folder), "--out", str(out), "--seeds", "4",
                     "--grid", "ALPHA=1,2", "--workers", "2", "--timeout", "10")
    return out, result


def test_sweep_writes_the_schema_and_reports_every_run(toy_sweep):
    out, result = toy_sweep
    assert result.returncode == 1, result.stdout + result.stderr   # a crash and a timeout
    # kernels talk over IPC sockets: nothing warns about unencrypted TCP
    assert "without encryption" not in result.stderr
    data = json.loads((out / "sweep.json").read_text())
    for key in ("mode", "grid", "seeds", "provenance", "runs", "claims"):
        assert key in data
    assert data["mode"] == "quick" and data["grid"] == {"ALPHA": [1, 2]}
    assert data["seeds"] == [SEED0 + k for k in range(4)]
    assert data["provenance"]["workers"] == 2 and data["provenance"]["packages"]["numpy"]
    runs = data["runs"]
    assert len(runs) == 8 and len(list((out / "runs" / "quick" / "01_toy").glob("*.json"))) == 8
    for run in runs:
        for key in ("notebook", "params", "seed", "status", "error", "seconds", "claims"):
            assert key in run
        assert run["provenance"]["kernel_env"]["OMP_NUM_THREADS"] == "1"
    status = {(r["params"]["ALPHA"], r["seed"] - SEED0): r["status"] for r in runs}
    assert status.pop((2, 2)) == "error" and status.pop((1, 3)) == "timeout"
    assert set(status.values()) == {"ok"}
    crash = next(r for r in runs if r["status"] == "error")
    assert "RuntimeError" in crash["error"] and "boom at k=2" in crash["error"]
    assert "Traceback" in crash["error"] or "----> " in crash["error"]
    # every seed of a run that finished saw its own SEED and its own build folder
    for run in runs:
        if run["status"] == "ok":
            claims = {c["id"]: c for c in run["claims"]}
            assert claims["PRIVATE"]["passed"] is True
    # summaries: recomputed from the draws the notebook makes
    by_key = {(c["params"]["ALPHA"], c["id"]): c for c in data["claims"]}
    for alpha, missing in ((1, 3), (2, 2)):
        c = by_key[(alpha, "SMALL")]
        ks = [k for k in range(4) if k != missing]
        draws = [np.random.default_rng(SEED0 + k).standard_normal() * alpha for k in ks]
        assert c["runs"] == 3 and c["missing_seeds"] == [SEED0 + missing]
        assert c["passed"] == sum(x <= 1.2 for x in draws)
        assert c["failed_seeds"] == [SEED0 + k for k, x in zip(ks, draws) if x > 1.2]
        assert c["median"] == pytest.approx(float(np.median(draws)))
        assert (c["wilson_low"], c["wilson_high"]) == sw.wilson_interval(c["passed"], 3)


def test_sweep_prints_one_table_and_writes_md_and_png(toy_sweep):
    out, result = toy_sweep
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("notebook"))
    assert header.split()[:4] == ["notebook", "grid", "point", "claim"]
    assert any(line.split()[:3] == ["01_toy", "ALPHA=1", "SMALL"] for line in lines)
    assert "ERROR 01_toy ALPHA=2 k=2" in result.stdout
    assert "TIMEOUT 01_toy ALPHA=1 k=3" in result.stdout
    assert "8 runs (1 notebook(s) x 2 grid point(s) x 4 seeds, quick mode): 6 ok, 1 error, " \
           "1 timeout" in result.stdout
    md = (out / "sweep.md").read_text()
    assert "| 01_toy | ALPHA=1 | SMALL | evidence |" in md and "boom at k=2" in md
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rerun_with_the_same_arguments_recomputes_nothing(toy_sweep, tmp_path):
    out, _ = toy_sweep
    folder = out.parent / "notebooks"
    files = sorted((out / "runs").rglob("*.json"))
    mtimes = [f.stat().st_mtime_ns for f in files]
    start = time.perf_counter()
    result = run_cli("sweep", "--notebooks", str(folder), "--out", str(out), "--seeds", "4",
                     "--grid", "ALPHA=1,2", "--workers", "2", "--timeout", "10")
    assert result.returncode == 1
    assert "resuming: 8 of 8 runs already finished" in result.stderr
    assert [f.stat().st_mtime_ns for f in files] == mtimes
    assert json.loads((out / "sweep.json").read_text())["provenance"]["computed_runs"] == 0
    assert time.perf_counter() - start < 60     # no cluster, no kernel


def test_sweep_kernels_are_not_interrupted_once_their_shutdown_has_begun(tmp_path, monkeypatch):
    """jupyter_client sends SIGINT to every kernel it shuts down (a kernel still answering a
    message then logs "KeyboardInterrupt caught in kernel."). A real kernel started by the
    sweep's kernel manager: interrupted while it runs (as a timed-out cell is), not when it is
    shut down."""
    from jupyter_client.manager import KernelManager

    sent = []
    signal_kernel = KernelManager._async_signal_kernel

    async def record(self, signum):
        sent.append(signum)
        await signal_kernel(self, signum)

    monkeypatch.setattr(KernelManager, "_async_signal_kernel", record)
    manager = sw._kernel_manager_class({}, tmp_path)(kernel_name="python3")

    async def run():
        await manager.start_kernel()
        try:
            await manager._async_interrupt_kernel()
            assert sent == [signal.SIGINT]
        finally:
            await manager.shutdown_kernel()
        assert not await manager.is_alive()

    asyncio.run(run())
    assert sent == [signal.SIGINT]          # none more at the shutdown


# -- a worker dies mid-run ------------------------------------------------------------------------
def test_a_killed_worker_has_its_run_retried_and_the_sweep_completes(tmp_path):
    from dask.distributed import Client, LocalCluster

    folder = tmp_path / "notebooks"
    folder.mkdir()
    marker = tmp_path / "victim.pid"
    # run k = 1 writes its worker's pid (the kernel's parent), then waits while that worker
    # lives; the retry finds the marker and finishes at once.
    write_notebook(
        folder / "01_victim.ipynb", PARAMETERS,
        "import os, time\nfrom pathlib import Path\n" + LEDGER +
        f"marker = Path({str(marker)!r})\n"
        "if SEED == config.SEED + 1 and not marker.exists():\n"
        "    parent = os.getppid()\n"
        "    marker.write_text(str(parent))\n"
        "    while os.getppid() == parent:\n        time.sleep(0.1)\n"
        "    os._exit(1)\n"
        "ledger.check('ONE', 'one', 1.0, 1.0, atol=0, source='derived here', kind='consistency')\n"
        "ledger.publish('01_victim')")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        worker_pids = set(client.run(os.getpid).values())
        proc = subprocess.Popen([sys.executable, "-m", "theory", "sweep", "--notebooks",
                                 str(folder), "--out", str(tmp_path / "out"), "--seeds", "2",
                                 "--scheduler", cluster.scheduler_address],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 300
        while not marker.exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert marker.exists(), proc.communicate()
        time.sleep(0.2)
        victim = int(marker.read_text())
        assert victim in worker_pids       # a worker process of the cluster, not the sweep
        os.kill(victim, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stdout + stderr
    data = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert [r["seed"] - SEED0 for r in data["runs"]] == [0, 1]
    assert all(r["status"] == "ok" for r in data["runs"])
    retried = data["runs"][1]
    assert retried["pid"] != victim
    assert data["provenance"]["scheduler"].startswith("tcp://")


# -- an interrupted sweep resumes -----------------------------------------------------------------
def test_killed_sweep_resumes_without_recomputing_finished_runs(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    counter = tmp_path / "executions.txt"
    write_notebook(
        folder / "01_count.ipynb", PARAMETERS,
        "import time\n" + LEDGER +
        f"with open({str(counter)!r}, 'a') as fh:\n    fh.write(f'{{SEED - config.SEED}}\\n')\n"
        "time.sleep(1.5)\n"
        "ledger.check('ONE', 'one', 1.0, 1.0, atol=0, source='derived here', kind='consistency')\n"
        "ledger.publish('01_count')")
    out = tmp_path / "out"
    args = [sys.executable, "-m", "theory", "sweep", "--notebooks", str(folder), "--out",
            str(out), "--seeds", "4", "--workers", "2"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    runs_dir = out / "runs" / "quick" / "01_count"
    deadline = time.time() + 300
    while len(list(runs_dir.glob("k=*.json"))) < 2 and time.time() < deadline:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)        # the sweep and its cluster die at once
    proc.wait(timeout=60)
    time.sleep(3)                              # orphaned kernels (own sessions) finish
    finished = {f.name: f.stat().st_mtime_ns for f in runs_dir.glob("k=*.json")}
    assert 2 <= len(finished) < 4
    assert not (out / "sweep.json").exists()
    executed_before = counter.read_text().split()

    result = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"resuming: {len(finished)} of 4 runs already finished" in result.stderr
    assert {f.name: f.stat().st_mtime_ns for f in runs_dir.glob("k=*.json")
            if f.name in finished} == finished
    executed_after = counter.read_text().split()[len(executed_before):]
    done = {int(name[2:5]) for name in finished}
    assert not done & set(map(int, executed_after))          # nothing finished was rerun
    assert set(map(int, executed_after)) == set(range(4)) - done
    data = json.loads((out / "sweep.json").read_text())
    assert len(data["runs"]) == 4 and all(r["status"] == "ok" for r in data["runs"])
    assert data["provenance"]["resumed_runs"] == len(finished)
    assert data["claims"][0]["runs"] == 4 and data["claims"][0]["passed"] == 4


# -- bad arguments --------------------------------------------------------------------------------
@pytest.mark.parametrize("extra, message", [
    (["--seeds", "0"], "--seeds must be >= 1"),
    (["--grid", "ALPHA"], "NAME=V1"),
    (["--grid", "SEED=1,2"], "--seeds"),
    (["--grid", "BETA=1,2"], "not a name of the parameters cell"),
    (["--workers", "0"], "--workers must be >= 1"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "cannot be combined"),
    (["--scheduler", "localhost"], "tcp://host:8786"),
    (["--only", "zzz"], "matches no notebook"),
    (["--timeout", "0"], "--timeout"),
    (["--threads", "0"], "--threads must be >= 1"),
])
def test_bad_arguments_exit_2_with_a_message(tmp_path, capsys, extra, message):
    write_notebook(tmp_path / "01_a.ipynb", PARAMETERS, "x = 1")
    code = main(["sweep", "--notebooks", str(tmp_path), "--out", str(tmp_path / "out"), *extra])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_notebook_without_parameters_cell_exits_2(tmp_path, capsys):
    nb = new_notebook(cells=[new_code_cell("SEED = 1")])
    nbformat.write(nb, tmp_path / "01_plain.ipynb")
    assert main(["sweep", "--notebooks", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "no 'parameters' cell" in capsys.readouterr().err
    assert main(["sweep", "--notebooks", str(tmp_path / "none")]) == 2


def test_non_integer_seeds_exit_2():
    result = run_cli("sweep", "--seeds", "many")
    assert result.returncode == 2 and "--seeds" in result.stderr


# -- verify: an inherited THEORY_FULL=1 selects full mode -----------------------------------------
def test_verify_honours_an_inherited_theory_full(tmp_path):
    write_notebook(tmp_path / "01_mode.ipynb", PARAMETERS,
                   LEDGER + "ledger.check('FULL', 'the kernel runs in full mode', "
                   "config.is_full(), True, relation='true', source='derived here', "
                   "kind='consistency')\nledger.publish('01_mode')")
    env = {**os.environ, "THEORY_FULL": "1"}
    result = run_cli("verify", "--notebooks", str(tmp_path), "--out", str(tmp_path / "out"),
                     env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads((tmp_path / "out" / "claims.json").read_text())
    assert data["mode"] == "full" and data["provenance"]["mode"] == "full"
    assert data["claims"][0]["passed"] is True
    assert "(full mode)" in result.stdout
    env["THEORY_FULL"] = "yes"
    result = run_cli("verify", "--notebooks", str(tmp_path), "--out", str(tmp_path / "o2"),
                     env=env)
    assert result.returncode == 2 and "THEORY_FULL must be 0 or 1" in result.stderr


def test_public_functions_reject_bad_input(tmp_path):
    with pytest.raises(TypeError, match="notebooks"):
        sw.run_sweep("01_a.ipynb", tmp_path)
    with pytest.raises(ValueError, match="notebooks"):
        sw.run_sweep([tmp_path / "missing.ipynb"], tmp_path)
    write_notebook(tmp_path / "01_a.ipynb", PARAMETERS, "x = 1")
    with pytest.raises(TypeError, match="out"):
        sw.run_sweep([tmp_path / "01_a.ipynb"], None)
    with pytest.raises(ValueError, match="seeds"):
        sw.run_sweep([tmp_path / "01_a.ipynb"], tmp_path / "o", seeds=0)
    with pytest.raises(ValueError, match="workers"):
        sw.run_sweep([tmp_path / "01_a.ipynb"], tmp_path / "o", workers=2,
                     scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match="threads"):
        sw.run_sweep([tmp_path / "01_a.ipynb"], tmp_path / "o", threads=0)
    with pytest.raises(TypeError, match="threads"):
        sw.run_sweep([tmp_path / "01_a.ipynb"], tmp_path / "o", threads=1.5)
    with pytest.raises(TypeError, match="spec"):
        sw.run_notebook(None)
    with pytest.raises(ValueError, match="spec lacks"):
        sw.run_notebook({"notebook": "x"})
    with pytest.raises(ValueError, match="grid"):
        sw.grid_points({"A": []})
    with pytest.raises(TypeError, match="params"):
        sw.run_key([1], 0)
    for func in (sw.render_table, lambda d: sw.write_report(d, tmp_path)):
        with pytest.raises(ValueError, match="data"):
            func({"runs": []})
    assert not (tmp_path / "o").exists()


def test_grid_names_are_read_from_the_parameters_cell(tmp_path):
    path = tmp_path / "01_p.ipynb"
    write_notebook(path, "from theory import config\nSEED = config.SEED\n"
                         "ALPHA = 2   # n = alpha d samples\n"
                         "DS = config.pick(quick=[1, 2], full=[3])\n"
                         "A, (B, C) = 1, (2, 3)\nD: int = 4", "E = 5")
    sw._check_notebooks([path], {"ALPHA": [1], "DS": [[1]], "C": [0], "D": [1]})
    with pytest.raises(ValueError, match="E: not a name of the parameters cell"):
        sw._check_notebooks([path], {"E": [1]})


def test_a_run_gets_the_blas_threads_it_asks_for(tmp_path):
    """``threads`` of a spec reaches the kernel's environment (and 1 is the default)."""
    path = tmp_path / "01_threads.ipynb"
    write_notebook(path, PARAMETERS, "import os\n" + LEDGER +
                   "ledger.check('T', 'threads', int(os.environ['OPENBLAS_NUM_THREADS']), "
                   "float(os.environ['OMP_NUM_THREADS']), rtol=0, source='derived here', "
                   "kind='consistency')\nledger.publish('01_threads')")
    spec = {"notebook": str(path), "name": "01_threads", "params": {}, "k": 0, "seed": SEED0,
            "full": False, "timeout": 60, "run_file": str(tmp_path / "run.json"),
            "work_dir": str(tmp_path / "work"), "notebook_sha256": "x", "threads": 2}
    record = sw.run_notebook(spec)
    assert record["status"] == "ok", record["error"]
    assert record["claims"][0]["measured"] == 2.0 and record["claims"][0]["passed"]
    assert {record["provenance"]["kernel_env"][v] for v in
            ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")} == {"2"}
    with pytest.raises(ValueError, match="threads"):
        sw.run_notebook({**spec, "threads": 0})
