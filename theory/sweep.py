"""Claims across seeds and sizes: ``python -m theory sweep``.

A verdict at one seed is not a reproduction. A sweep re-executes notebooks over seeds (and,
optionally, a grid of values for other names of their ``parameters`` cell) with papermill, each
run in a private build folder, on a dask.distributed cluster: by default a ``LocalCluster`` on
this machine (one single-threaded worker process per core), or an existing cluster given by
``--scheduler tcp://host:port``. Every finished run is written at once to its own JSON file,
so an interrupted sweep resumes where it stopped when it is started again with the same
arguments. The report gives, for every claim at every grid point, its pass rate over seeds with
a 95% Wilson score interval, the median and interquartile range of the measured value, and the
seeds where it failed (``sweep.json``, ``sweep.md``, ``sweep.png`` and one terminal table).

Seed rule: run ``k`` (``k = 0 .. N-1``) executes the notebook with ``SEED = config.SEED + k``
injected after its ``parameters`` cell, so ``k = 0`` is the committed run.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import keyword
import math
import numbers
import os
import re
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import config, provenance
from .progress import counter
from .claims import format_value, write_json_atomic
from .tables import markdown_table, text_table

__all__ = ["wilson_interval", "seed_for", "parse_grid", "grid_points", "run_key",
           "run_notebook", "run_sweep", "summarize", "render_table", "write_report", "command"]

STATUSES = ("ok", "error", "timeout")
DEFAULT_SEEDS = 20
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# -- statistics -----------------------------------------------------------------------------------
def wilson_interval(passed: int, runs: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion ``passed / runs``.

    With :math:`\\hat p = k/n` and :math:`z` the two-sided normal quantile of ``confidence``,

    .. math:: \\frac{\\hat p + z^2/(2n) \\pm z\\sqrt{\\hat p(1-\\hat p)/n + z^2/(4n^2)}}{1 + z^2/n}

    (E. B. Wilson, JASA 22 (1927) 209; method 3 of R. G. Newcombe, Stat. Med. 17 (1998) 857).
    Computed by ``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")``. Unlike the
    normal (Wald) interval it stays inside [0, 1] and does not collapse to a point at 0/n or n/n:
    20 passes out of 20 gives [0.839, 1].
    """
    for name, value in (("passed", passed), ("runs", runs)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be an integer, got {value!r}")
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    if not 0 <= passed <= runs:
        raise ValueError(f"passed must be in [0, runs={runs}], got {passed}")
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real) \
            or not 0 < confidence < 1:
        raise ValueError(f"confidence must be a number in (0, 1), got {confidence!r}")
    from scipy.stats import binomtest

    ci = binomtest(int(passed), int(runs)).proportion_ci(confidence_level=float(confidence),
                                                         method="wilson")
    return float(ci.low), float(ci.high)


# -- the grid -------------------------------------------------------------------------------------
def seed_for(k: int) -> int:
    """The ``SEED`` of run ``k`` of a sweep: ``config.SEED + k`` (``k = 0``: the committed run)."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k must be an integer, got {k!r}")
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    return config.SEED + int(k)


def _literal(text: str) -> Any:
    """A grid value: a Python literal (``2``, ``1e-3``, ``True``, ``'relu'``) or a bare string."""
    import ast

    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    if isinstance(value, (int, float, bool, str)) or value is None:
        return value
    raise ValueError(f"grid value {text!r} must be a number, a boolean or a string")


def parse_grid(specs: Sequence[str] | None) -> dict[str, list]:
    """Parse ``--grid NAME=V1,V2,...`` options into ``{NAME: [V1, V2, ...]}`` (in order).

    Values are Python literals (numbers, booleans) or bare strings. ``SEED`` is not a grid name:
    seeds are set by ``--seeds``.
    """
    if specs is None:
        return {}
    if isinstance(specs, str) or not isinstance(specs, (list, tuple)):
        raise TypeError(f"specs must be a list of 'NAME=V1,V2' strings, got {specs!r}")
    grid: dict[str, list] = {}
    for spec in specs:
        if not isinstance(spec, str) or "=" not in spec:
            raise ValueError(f"--grid expects NAME=V1,V2,..., got {spec!r}")
        name, _, values = spec.partition("=")
        name = name.strip()
        if not name.isidentifier() or keyword.iskeyword(name):
            raise ValueError(f"--grid name {name!r} is not a Python identifier")
        if name == "SEED":
            raise ValueError("--grid SEED=...: seeds are set by --seeds (SEED = config.SEED + k)")
        if name in grid:
            raise ValueError(f"--grid {name} is given twice")
        items = [v.strip() for v in values.split(",")]
        if not values.strip() or any(not v for v in items):
            raise ValueError(f"--grid {name} has an empty value in {spec!r}")
        parsed = [_literal(v) for v in items]
        if len(set(map(repr, parsed))) != len(parsed):
            raise ValueError(f"--grid {name} repeats a value in {spec!r}")
        grid[name] = parsed
    return grid


def grid_points(grid: dict) -> list[dict]:
    """The Cartesian product of a grid, in order (``[{}]`` for an empty grid)."""
    if not isinstance(grid, dict):
        raise TypeError(f"grid must be a dict of name -> list of values, got {grid!r}")
    names = list(grid)
    for name in names:
        if not isinstance(grid[name], (list, tuple)) or not grid[name]:
            raise ValueError(f"grid[{name!r}] must be a non-empty list of values")
    return [dict(zip(names, values)) for values in itertools.product(*(grid[n] for n in names))]


def run_key(params: dict, k: int) -> str:
    """A file name for run ``k`` at grid point ``params``: readable, unique, stable."""
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict, got {params!r}")
    seed_for(k)   # validates k
    readable = "_".join(f"{n}={v}" for n, v in params.items())
    readable = re.sub(r"[^A-Za-z0-9_.=+-]", "-", readable)[:60]
    digest = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:8]
    return f"{readable + '_' if readable else ''}k={k:03d}-{digest}"


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# -- one run (a dask task) ------------------------------------------------------------------------
def _kernel_manager_class(env: dict, sockets: Path) -> type:
    """A jupyter kernel manager whose kernels get ``env`` on top of this process's environment
    and talk over IPC sockets in the private folder ``sockets``.

    Passing the environment to the kernel (instead of changing ``os.environ``) keeps runs that
    share a worker process from seeing each other's build folders. IPC rather than TCP: the
    kernel then has nothing to warn about ("Kernel is running over TCP without encryption"),
    and every worker starts its kernels on its own machine anyway.
    """
    from jupyter_client.manager import AsyncKernelManager

    class _SweepKernelManager(AsyncKernelManager):
        def __init__(self, *args: Any, **kw: Any) -> None:
            kw.setdefault("transport", "ipc")
            kw.setdefault("ip", str(sockets / "kernel"))
            super().__init__(*args, **kw)

        # AsyncKernelManager.start_kernel is a coroutine typed with the synchronous signature
        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            kw["env"] = {**kw.get("env", os.environ), **env}
            return await super().start_kernel(**kw)

        async def _async_interrupt_kernel(self) -> None:
            # jupyter_client sends SIGINT to every kernel it shuts down, before the shutdown
            # request. The run is over by then; a kernel still answering a message logged
            # "KeyboardInterrupt caught in kernel." to the sweep's output, now and then.
            if self.shutting_down:
                return
            await super()._async_interrupt_kernel()

    return _SweepKernelManager


def _is_timeout(exc: BaseException) -> bool:
    from nbclient.exceptions import CellTimeoutError

    return isinstance(exc, (CellTimeoutError, TimeoutError))


_SPEC_KEYS = ("notebook", "name", "params", "k", "seed", "full", "timeout", "run_file",
              "work_dir", "notebook_sha256")


def run_notebook(spec: dict) -> dict:
    """Execute one run of a sweep and write its record to ``spec["run_file"]`` (atomically).

    ``spec`` holds ``notebook`` (path), ``name``, ``params``, ``k``, ``seed``, ``full``,
    ``timeout`` (seconds per cell), ``run_file``, ``work_dir`` and ``notebook_sha256``, and
    optionally ``threads`` (BLAS threads of the kernel, default 1). The
    notebook runs with papermill (``SEED`` and the grid values injected after its
    ``parameters`` cell) in a fresh private build folder (``THEORY_BUILD_DIR``) under
    ``work_dir``, its kernel limited to ``threads`` BLAS threads. A cell that raises or times
    out gives a record with status ``"error"`` / ``"timeout"`` and the traceback; other
    failures (the kernel cannot start, a file cannot be written) raise, so that dask retries
    the task.
    """
    if not isinstance(spec, dict):
        raise TypeError(f"spec must be a dict describing one run, got {type(spec).__name__}")
    missing = [key for key in _SPEC_KEYS if key not in spec]
    if missing:
        raise ValueError(f"spec lacks {', '.join(missing)}")
    threads = spec.get("threads", 1)
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 1:
        raise ValueError(f"spec['threads'] must be an integer >= 1, got {threads!r}")
    import logging

    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    # papermill's own parser of the parameters cell warns about lines it cannot read (a comment
    # holding "=", a call); the grid names were already checked with ast by run_sweep.
    logging.getLogger("papermill").setLevel(logging.ERROR)
    notebook, name = Path(spec["notebook"]), spec["name"]
    work = Path(spec["work_dir"])
    work.mkdir(parents=True, exist_ok=True)
    # A fresh folder per attempt: a kernel orphaned by a dead worker cannot touch the retry's.
    build = Path(tempfile.mkdtemp(prefix=f"{Path(spec['run_file']).stem}.", dir=work))
    env = {"THEORY_BUILD_DIR": str(build), "THEORY_FULL": "1" if spec["full"] else "0",
           **{var: str(threads) for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                             "MKL_NUM_THREADS")}}
    status, error = "ok", None
    start = time.perf_counter()
    sockets = tempfile.TemporaryDirectory(prefix="theory-kernel-")
    try:
        pm.execute_notebook(str(notebook), str(build / notebook.name),
                            parameters={**spec["params"], "SEED": spec["seed"]},
                            kernel_name="python3", cwd=str(notebook.parent),
                            execution_timeout=spec["timeout"], progress_bar=False,
                            kernel_manager_class=_kernel_manager_class(env, Path(sockets.name)))
    except PapermillExecutionError as exc:
        status = "error"
        lines = [_ANSI.sub("", line) for line in exc.traceback]
        error = (f"cell In[{exc.exec_count}] raised {exc.ename}: {exc.evalue}\n"
                 + "\n".join(lines))
    except Exception as exc:
        from nbclient.exceptions import DeadKernelError

        if _is_timeout(exc):
            status, error = "timeout", f"{type(exc).__name__}: {exc}"
        elif isinstance(exc, DeadKernelError):
            status = "error"
            error = "".join(traceback.format_exception(exc))
        else:
            raise
    finally:
        sockets.cleanup()
    seconds = time.perf_counter() - start
    ledger = build / "claims" / f"{name}.json"
    claims, paper = [], None
    if ledger.exists():
        data = json.loads(ledger.read_text())
        paper = data.get("paper")
        claims = [{**rec, "notebook": name} for rec in data["claims"]]
        if data.get("seed") is not None and data["seed"] != spec["seed"] and status == "ok":
            status = "error"
            error = (f"the ledger records seed {data['seed']}, not the injected SEED "
                     f"{spec['seed']}: the notebook does not build its Ledger from SEED")
    elif status == "ok":
        status, error = "error", "the notebook published no ledger (ledger.publish was not called)"
    record = {
        "notebook": name, "params": spec["params"], "k": spec["k"], "seed": spec["seed"],
        "status": status, "error": error, "seconds": round(seconds, 3), "paper": paper,
        "claims": claims, "notebook_sha256": spec["notebook_sha256"],
        "build_dir": str(build), "host": os.uname().nodename, "pid": os.getpid(),
        "provenance": {**provenance.collect(full=spec["full"]),
                       "kernel_env": {k: v for k, v in env.items() if k != "THEORY_BUILD_DIR"}},
    }
    write_json_atomic(spec["run_file"], record)
    return record


# -- the sweep ------------------------------------------------------------------------------------
def _finished(spec: dict) -> dict | None:
    """The record of a run already on disk for this spec (same notebook source), else None."""
    path = Path(spec["run_file"])
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if record.get("status") not in STATUSES or record.get("seed") != spec["seed"] \
            or record.get("notebook_sha256") != spec["notebook_sha256"]:
        return None
    return record


def _client(scheduler: str | None, workers: int) -> tuple[Any, Any]:
    """A dask client: to ``scheduler`` when given, else to a new LocalCluster of ``workers``
    single-threaded worker processes. Returns ``(client, cluster or None)``."""
    import logging

    from dask.distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler, timeout="20s"), None
    # The worker processes start with SIGINT ignored (a disposition inherited by the processes
    # they start): Ctrl-C in a terminal reaches the whole process group, and only this process
    # should handle it, by cancelling the runs and closing the cluster in order.
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread else None
    try:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)
    return Client(cluster), cluster


def _parameter_names(path: Path) -> list[str]:
    """Names assigned at top level in the notebook's cell tagged ``parameters`` (parsed with
    ``ast``; papermill injects its values right after that cell)."""
    import ast

    import nbformat

    nb = nbformat.read(path, as_version=4)
    cell = next((c for c in nb.cells if c.cell_type == "code"
                 and "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if cell is None:
        return []
    names = []
    for node in ast.parse(cell.source).body:
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
        for target in targets:
            names += [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
    return list(dict.fromkeys(names))


def _check_notebooks(notebooks: Sequence[Path], grid: dict) -> None:
    """Every notebook has a ``parameters`` cell defining SEED and every grid name."""
    for path in notebooks:
        try:
            params = _parameter_names(path)
        except SyntaxError as exc:
            raise ValueError(f"the parameters cell of {Path(path).name} is not plain Python: "
                             f"{exc}") from None
        if "SEED" not in params:
            raise ValueError(f"{Path(path).name} has no 'parameters' cell defining SEED")
        missing = [n for n in grid if n not in params]
        if missing:
            raise ValueError(f"--grid {', '.join(missing)}: not a name of the parameters cell "
                             f"of {Path(path).name} (it defines {', '.join(params)})")


def run_sweep(notebooks: Sequence[Path], out: str | os.PathLike, *, seeds: int = DEFAULT_SEEDS,
              grid: dict | None = None, full: bool = False, scheduler: str | None = None,
              workers: int | None = None, timeout: int = 1800, retries: int = 2,
              progress: bool = True, threads: int = 1) -> dict:
    """Run every notebook at every grid point and seed; return the data of ``sweep.json``.

    Runs already finished in ``out/runs`` (same mode, grid point, seed and notebook source) are
    read back, not recomputed. The others are submitted to dask (``retries`` re-executions of a
    task that raises; a task on a worker that dies is rescheduled by the scheduler); each
    writes its record to disk as soon as it finishes. A run whose task is lost for good (e.g.
    ``KilledWorker``) is reported as an error with its traceback but not written to disk, so
    the next start retries it. Each run's kernel uses ``threads`` BLAS threads (1: the cluster
    already runs one notebook per core; more for a run that needs the cores of a worker alone).
    """
    if isinstance(notebooks, (str, os.PathLike)) or not isinstance(notebooks, (list, tuple)):
        raise TypeError(f"notebooks must be a list of notebook paths, got {notebooks!r}")
    if not notebooks or not all(isinstance(p, (str, os.PathLike)) for p in notebooks):
        raise ValueError(f"notebooks must be a non-empty list of paths, got {notebooks!r}")
    notebooks = [Path(p).resolve() for p in notebooks]
    missing = [str(p) for p in notebooks if not p.is_file()]
    if missing:
        raise ValueError(f"notebooks: no such file {', '.join(missing)}")
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be a folder path, got {out!r}")
    out = Path(out)
    grid = {} if grid is None else grid
    points = grid_points(grid)
    for name, value in (("seeds", seeds), ("timeout", timeout), ("retries", retries),
                        ("threads", threads)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be an integer, got {value!r}")
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    if timeout < 1:
        raise ValueError(f"timeout must be >= 1 second, got {timeout}")
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    if scheduler is not None and workers is not None:
        raise ValueError("workers applies to the LocalCluster; with scheduler the cluster's "
                         "own workers run the sweep")
    if workers is None:
        workers = os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    _check_notebooks(notebooks, grid)

    mode = "full" if full else "quick"
    specs = []
    for path in notebooks:
        digest = _sha256(path)
        for params in points:
            for k in range(seeds):
                key = run_key(params, k)
                folder = out.resolve() / "runs" / mode / path.stem
                specs.append({"notebook": str(path), "name": path.stem, "params": params,
                              "k": k, "seed": seed_for(k), "full": bool(full),
                              "timeout": int(timeout), "threads": int(threads),
                              "run_file": str(folder / f"{key}.json"),
                              "work_dir": str(out.resolve() / "work" / mode / path.stem),
                              "notebook_sha256": digest})
    records: list[dict | None] = [_finished(s) for s in specs]
    todo = [i for i, r in enumerate(records) if r is None]
    resumed = len(specs) - len(todo)
    if resumed:
        print(f"resuming: {resumed} of {len(specs)} runs already finished in {out / 'runs'}",
              file=sys.stderr, flush=True)
    started = time.perf_counter()
    cluster_info = {"scheduler": scheduler or "LocalCluster", "workers": None}
    if todo:
        from dask.distributed import as_completed

        client, cluster = _client(scheduler, workers)
        bar = counter(len(todo), desc="runs", unit="run", enable=progress)
        futures = {}
        try:
            cluster_info["workers"] = len(client.scheduler_info()["workers"])
            cluster_info["address"] = client.scheduler.address
            for i in todo:
                s = specs[i]
                future = client.submit(run_notebook, s, pure=False, retries=retries,
                                       key=f"{s['name']}-{Path(s['run_file']).stem}-"
                                           f"{os.urandom(4).hex()}")
                futures[future] = i
            for future in as_completed(list(futures)):
                i = futures[future]
                try:
                    record = future.result()
                except Exception as exc:   # lost for good: KilledWorker, CancelledError, ...
                    s = specs[i]
                    record = {"notebook": s["name"], "params": s["params"], "k": s["k"],
                              "seed": s["seed"], "status": "error",
                              "error": "the task was lost: " +
                                       "".join(traceback.format_exception(exc)),
                              "seconds": 0.0, "paper": None, "claims": [],
                              "notebook_sha256": s["notebook_sha256"]}
                else:
                    if not Path(specs[i]["run_file"]).exists():
                        # a cluster whose workers do not share this file system
                        write_json_atomic(specs[i]["run_file"], record)
                records[i] = record
                if bar is not None:
                    bar.set_postfix_str(f"{record['notebook']} k={record['k']}: "
                                        f"{record['status']}")
                    bar.update(1)
        except BaseException:
            client.cancel(list(futures))
            raise
        finally:
            if bar is not None:
                bar.close()
            client.close()
            if cluster is not None:
                cluster.close()
    data = {
        "mode": mode,
        "grid": grid,
        "seeds": [seed_for(k) for k in range(seeds)],
        "seed_rule": f"SEED = config.SEED + k = {config.SEED} + k, k = 0..{seeds - 1}",
        "notebooks": [p.stem for p in notebooks],
        "provenance": {**provenance.collect(full=full), **cluster_info,
                       "resumed_runs": resumed, "computed_runs": len(todo),
                       "wall_seconds": round(time.perf_counter() - started, 2)},
        "runs": records,
        "claims": summarize(records),
    }
    return data


def summarize(runs: Sequence[dict]) -> list[dict]:
    """Per notebook, grid point and claim: pass rate, Wilson interval, quartiles, failed seeds.

    ``runs`` is the list of run records. A claim's ``runs`` counts the runs that recorded it;
    ``missing_seeds`` lists the runs of its notebook and grid point that did not (crashed,
    timed out, or skipped it). Quartiles (``q25``, ``median``, ``q75``; numpy's linear
    interpolation) are over the finite measured values (booleans as 0/1).
    """
    import numpy as np

    if not isinstance(runs, (list, tuple)):
        raise TypeError(f"runs must be a list of run records, got {type(runs).__name__}")
    groups: dict[tuple, list[dict]] = {}
    for run in runs:
        if not isinstance(run, dict) or "notebook" not in run or "seed" not in run:
            raise ValueError(f"runs must hold run records (with notebook and seed), got {run!r}")
        key = (run["notebook"], json.dumps(run.get("params", {}), sort_keys=True))
        groups.setdefault(key, []).append(run)
    summaries = []
    for (notebook, _), group in groups.items():
        group = sorted(group, key=lambda r: r["seed"])
        order: dict[str, list[tuple[dict, dict]]] = {}
        for run in group:
            for claim in run.get("claims", []):
                order.setdefault(claim["id"], []).append((run, claim))
        for cid, pairs in order.items():
            first = pairs[0][1]
            n = len(pairs)
            passed = sum(bool(c["passed"]) for _, c in pairs)
            low, high = wilson_interval(passed, n)
            values = [float(c["measured"]) for _, c in pairs
                      if isinstance(c.get("measured"), (int, float))
                      and math.isfinite(float(c["measured"]))]
            q25 = median = q75 = None
            if values:
                q25, median, q75 = (float(x) for x in np.percentile(values, [25, 50, 75]))
            seen = {r["seed"] for r, _ in pairs}
            summaries.append({
                "notebook": notebook, "params": group[0].get("params", {}), "id": cid,
                "kind": first.get("kind"), "statement": first.get("statement"),
                "relation": first.get("relation"), "expected": first.get("expected"),
                "digits": first.get("digits", 3), "noise_floor": first.get("noise_floor"),
                "documented": any(c.get("discrepancy") for _, c in pairs),
                "runs": n, "passed": passed, "pass_rate": passed / n,
                "wilson_low": low, "wilson_high": high,
                "median": median, "q25": q25, "q75": q75,
                "failed_seeds": [r["seed"] for r, c in pairs if not c["passed"]],
                "missing_seeds": [r["seed"] for r in group if r["seed"] not in seen],
            })
    return summaries


# -- reports --------------------------------------------------------------------------------------
def _params_text(params: dict) -> str:
    return ",".join(f"{n}={v}" for n, v in params.items()) or "-"


def _seed_offsets(seeds: Sequence[int]) -> str:
    ks = [s - config.SEED for s in seeds]
    text = ",".join(str(k) for k in ks[:8])
    return text + (f",... ({len(ks)})" if len(ks) > 8 else "") if ks else "-"


def _rows(data: dict) -> tuple[list[str], list[list[str]]]:
    with_grid = bool(data["grid"])
    headers = ["notebook"] + (["grid point"] if with_grid else []) + \
        ["claim", "kind", "passed", "95% Wilson", "median [q25, q75]", "failed at k"]
    rows = []
    for c in data["claims"]:
        digits, floor = c.get("digits") or 3, c.get("noise_floor")
        spread = "-" if c["median"] is None else (
            f"{format_value(c['median'], digits, floor)} "
            f"[{format_value(c['q25'], digits, floor)}, {format_value(c['q75'], digits, floor)}]")
        failed = _seed_offsets(c["failed_seeds"])
        if c["missing_seeds"]:
            failed += f" (missing {len(c['missing_seeds'])})"
        rows.append([c["notebook"]] + ([_params_text(c["params"])] if with_grid else []) +
                    [c["id"], c["kind"] or "?", f"{c['passed']}/{c['runs']}",
                     f"[{c['wilson_low']:.2f}, {c['wilson_high']:.2f}]", spread, failed])
    return headers, rows


def _summary_line(data: dict) -> str:
    runs = data["runs"]
    counts = {s: sum(r["status"] == s for r in runs) for s in STATUSES}
    evidence = [c for c in data["claims"] if c["kind"] == "evidence"]
    always = sum(c["passed"] == c["runs"] and not c["missing_seeds"] for c in evidence)
    n_points = len(grid_points(data["grid"]))
    return (f"{len(runs)} runs ({len(data['notebooks'])} notebook(s) x {n_points} grid point(s)"
            f" x {len(data['seeds'])} seeds, {data['mode']} mode): {counts['ok']} ok, "
            f"{counts['error']} error, {counts['timeout']} timeout; {always}/{len(evidence)} "
            f"evidence claims pass at every seed")


def render_table(data: dict) -> str:
    """The terminal table of a sweep: one row per claim and grid point."""
    if not isinstance(data, dict) or "claims" not in data or "runs" not in data:
        raise ValueError("data must be the dict returned by run_sweep")
    headers, rows = _rows(data)
    lines = text_table(headers, rows).split("\n")
    errors = [r for r in data["runs"] if r["status"] != "ok"]
    if errors:
        lines.append("")
        for r in errors:
            last = (r["error"] or "").strip().splitlines()
            lines.append(f"{r['status'].upper()} {r['notebook']} {_params_text(r['params'])} "
                         f"k={r['k']}: {last[-1] if last else ''}")
    lines += ["", f"k is the seed index: {data['seed_rule']}.", _summary_line(data)]
    return "\n".join(lines)


def _figure(data: dict, path: Path) -> None:
    """Claims (rows) x runs (columns: grid points, then seeds): pass / fail / not reproduced /
    missing, saved as a PNG."""
    import numpy as np
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    points = grid_points(data["grid"])
    seeds = data["seeds"]
    rows = list(dict.fromkeys((c["notebook"], c["id"]) for c in data["claims"]))
    cols = [(json.dumps(p, sort_keys=True), s) for p in points for s in seeds]
    grid = np.zeros((max(len(rows), 1), len(cols)))
    row_index = {r: i for i, r in enumerate(rows)}
    col_index = {c: j for j, c in enumerate(cols)}
    for run in data["runs"]:
        j = col_index.get((json.dumps(run["params"], sort_keys=True), run["seed"]))
        if j is None:
            continue
        for c in run["claims"]:
            i = row_index.get((run["notebook"], c["id"]))
            if i is not None:
                grid[i, j] = 1 if c["passed"] else (2 if c.get("discrepancy") else 3)
    colors = ["#d9d9d9", "#4daf4a", "#ff9f1c", "#e41a1c"]
    labels = ["missing (run failed)", "pass", "not reproduced (documented)", "fail"]
    fig = Figure(figsize=(min(4 + 0.22 * len(cols), 30), min(1.8 + 0.22 * len(rows), 60)),
                 layout="constrained")
    ax = fig.subplots()
    ax.imshow(grid, cmap=ListedColormap(colors), vmin=-0.5, vmax=3.5, aspect="auto",
              interpolation="nearest")
    ax.set_yticks(range(len(rows)), [f"{nb} {cid}" for nb, cid in rows], fontsize=7)
    step = max(1, len(cols) // 40)
    ax.set_xticks(range(0, len(cols), step),
                  [str(cols[j][1] - config.SEED) for j in range(0, len(cols), step)], fontsize=7)
    ax.set_xlabel(f"seed index k (SEED = {config.SEED} + k)"
                  + ("; grid points left to right" if len(points) > 1 else ""))
    for b in range(1, len(points)):
        ax.axvline(b * len(seeds) - 0.5, color="black", lw=1.2)
    if len(points) > 1:
        top = ax.secondary_xaxis("top")
        top.set_xticks([(b + 0.5) * len(seeds) - 0.5 for b in range(len(points))],
                       [_params_text(p) for p in points], fontsize=7)
    ax.set_title(f"Claims across seeds ({data['mode']} mode)")
    fig.legend(handles=[Patch(color=c, label=lab) for c, lab in zip(colors, labels)],
               loc="outside lower center", ncols=4, fontsize=7, frameon=False)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)


def write_report(data: dict, out: str | os.PathLike) -> list[Path]:
    """Write ``sweep.json``, ``sweep.md`` and ``sweep.png`` into ``out``; returns their paths."""
    if not isinstance(data, dict) or "claims" not in data or "runs" not in data:
        raise ValueError("data must be the dict returned by run_sweep")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [write_json_atomic(out / "sweep.json", data)]
    headers, rows = _rows(data)
    md = ["# Claims across seeds", "",
          f"Mode: {data['mode']}. Grid: "
          f"{', '.join(f'{n} = {v}' for n, v in data['grid'].items()) or 'seeds only'}. "
          f"Seeds: {data['seed_rule']}.", "", _summary_line(data) + ".", "",
          "Passed: runs where the claim held / runs that recorded it. 95% Wilson: score "
          "interval of the pass rate. Median [q25, q75]: the measured value over seeds. "
          "Failed at k: seed indices where the claim failed.", "",
          "![claims x runs](sweep.png)", "",
          markdown_table(headers, [[x.replace("|", "/") for x in r] for r in rows])]
    errors = [r for r in data["runs"] if r["status"] != "ok"]
    if errors:
        md += ["", "## Runs that did not finish", ""]
        for r in errors:
            md += [f"### {r['notebook']} {_params_text(r['params'])} k={r['k']} "
                   f"(SEED {r['seed']}): {r['status']}", "", "```",
                   (r["error"] or "").strip()[-3000:], "```", ""]
    tmp = out / ".sweep.md.tmp"
    tmp.write_text("\n".join(md) + "\n")
    os.replace(tmp, out / "sweep.md")
    paths.append(out / "sweep.md")
    _figure(data, out / "sweep.png")
    paths.append(out / "sweep.png")
    return paths


# -- command line ---------------------------------------------------------------------------------
def command(args: argparse.Namespace) -> int:
    """``python -m theory sweep``: exit 0 when every run finished, 1 when a run crashed or timed
    out (failing claims are data of a sweep, reported in the table, not an exit status), 2 on
    bad arguments, 130 when interrupted (finished runs stay on disk; rerun to resume)."""

    def fail(message: str) -> int:
        print(f"error: {message}", file=sys.stderr)
        return 2

    folder = args.notebooks or config.repo_root() / "notebooks"
    try:
        full = args.full or config.is_full()
        grid = parse_grid(args.grid)
        notebooks = config.discover_notebooks(folder, args.only)
    except ValueError as exc:
        return fail(str(exc))
    if not notebooks:
        return fail(f"no notebooks in {folder}")
    if args.seeds < 1:
        return fail(f"--seeds must be >= 1, got {args.seeds}")
    if args.workers is not None and args.workers < 1:
        return fail(f"--workers must be >= 1, got {args.workers}")
    if args.scheduler is not None and args.workers is not None:
        return fail("--workers sets the size of the LocalCluster; it cannot be combined with "
                    "--scheduler (the existing cluster's workers run the sweep)")
    if args.scheduler is not None and "://" not in args.scheduler:
        return fail(f"--scheduler expects an address like tcp://host:8786, "
                    f"got {args.scheduler!r}")
    if args.timeout < 1 or args.retries < 0:
        return fail("--timeout must be >= 1 and --retries >= 0")
    if args.threads < 1:
        return fail(f"--threads must be >= 1, got {args.threads}")
    out = args.out or config.build_dir() / "sweep"
    try:
        data = run_sweep(notebooks, out, seeds=args.seeds, grid=grid, full=full,
                         scheduler=args.scheduler, workers=args.workers, timeout=args.timeout,
                         retries=args.retries, threads=args.threads)
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished runs are kept in {Path(out) / 'runs'}; run the same "
              "command again to resume (no sweep.json was written)", file=sys.stderr)
        return 130
    except ValueError as exc:
        return fail(str(exc))
    except OSError as exc:
        if args.scheduler:
            return fail(f"cannot reach the dask scheduler at {args.scheduler}: {exc}")
        raise
    write_report(data, out)
    print(render_table(data))
    print(f"wrote {Path(out) / 'sweep.json'}, sweep.md and sweep.png")
    return 0 if all(r["status"] == "ok" for r in data["runs"]) else 1
