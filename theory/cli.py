"""Command line: ``python -m theory verify | refresh | sweep | site | slides | readme``.

``verify`` executes the notebooks (nbclient) into an output folder, collects every notebook's
ledger into ``claims.json`` and ``claims.md``, prints one table and exits 1 if any claim failed
or any notebook raised. ``refresh`` re-executes notebooks in place in quick mode and rewrites
their jupytext ``py:percent`` pairs, so that the committed notebooks carry the outputs CI checks.
``sweep`` reruns notebooks over seeds and parameter grids on dask (see :mod:`theory.sweep`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from . import config, provenance
from .numerics import apply_reference_environment
from .progress import counter
from .claims import Claim, format_value, headline, load_claims, summary_counts, write_json_atomic
from .tables import markdown_table, text_table

__all__ = ["main", "verify", "refresh"]

OVERVIEW_PREFIX = "00_"


@dataclass
class NotebookRun:
    """What one executed notebook produced."""

    name: str
    seconds: float = 0.0
    error: str | None = None
    paper: str | None = None
    seed: int | None = None
    claims: list[Claim] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (self.error is None and bool(self.claims)
                and not any(c.undocumented_failure for c in self.claims))


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Temporarily set environment variables (inherited by the kernels we start)."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            os.environ[k] = v
        yield
    finally:
        for k, old in saved.items():
            if old is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = old


def _execute(path: Path, timeout: int, kernels: set | None = None) -> Any:
    """Execute a notebook with nbclient in its own folder; returns ``(nb, error or None)``.

    The kernel manager is added to ``kernels`` while the notebook runs, so that Ctrl-C can
    interrupt it (jupyter starts kernels in their own session: a terminal's SIGINT does not
    reach them).
    """
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    # IPC transport (socket files in a private temporary folder, not TCP): the kernel then has
    # nothing to warn about ("Kernel is running over TCP without encryption"), and nothing
    # else is hidden. The path is absolute because the kernel runs in the notebook's folder.
    sockets = tempfile.TemporaryDirectory(prefix="theory-kernel-")
    km = KernelManager(kernel_name="python3", transport="ipc",
                       ip=str(Path(sockets.name) / "kernel"))
    client = NotebookClient(nb, km=km, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})
    if kernels is not None:
        kernels.add(km)
    try:
        # nbclient shuts down only the kernels it created itself: ask it to shut this one down
        # too, or each kernel idles until verify exits ("Parent appears to have exited").
        client.execute(cleanup_kc=True)
    except CellExecutionError as exc:
        cell_index = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                           and any(o.get("output_type") == "error" for o in c.get("outputs", []))),
                          None)
        summary = str(exc).strip().splitlines()
        last = summary[-1] if summary else type(exc).__name__
        where = f"cell {cell_index}" if cell_index is not None else "a cell"
        return nb, f"{where} raised: {last}"
    except Exception as exc:  # kernel died, timeout, ...
        return nb, f"{type(exc).__name__}: {exc}"
    finally:
        if kernels is not None:
            kernels.discard(km)
        sockets.cleanup()
    return nb, None


def _stop_kernels(kernels: set, futures: Iterable[Any], grace: float = 5.0) -> None:
    """Interrupt every running kernel until its notebook returns; kill it after ``grace`` s.

    Repeats because a kernel may still be starting when Ctrl-C arrives.
    """
    start = time.monotonic()
    while any(f.running() for f in futures):
        kill = time.monotonic() - start > grace
        for km in list(kernels):
            try:
                if kill:
                    km.shutdown_kernel(now=True)
                else:
                    km.interrupt_kernel()
            except Exception:  # starting or already gone: try again on the next round
                pass
        time.sleep(0.2)


def _run_one(path: Path, out: Path, timeout: int, kernels: set | None = None) -> NotebookRun:
    import nbformat

    run = NotebookRun(path.stem)
    ledger_path = out / "claims" / f"{path.stem}.json"
    if ledger_path.exists():
        ledger_path.unlink()
    start = time.perf_counter()
    nb, run.error = _execute(path, timeout, kernels)
    run.seconds = time.perf_counter() - start
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out / "notebooks" / path.name)
    if ledger_path.exists():
        run.paper, run.claims = load_claims(ledger_path)
        run.seed = json.loads(ledger_path.read_text()).get("seed")
    elif run.error is None:
        run.error = "the notebook published no ledger (ledger.publish was not called)"
    return run


def verify(notebooks: list[Path], out: Path, *, full: bool = False, jobs: int = 1,
           timeout: int = 1800) -> list[NotebookRun]:
    """Execute ``notebooks`` into ``out`` (overview last) and return their runs."""
    out.mkdir(parents=True, exist_ok=True)
    papers = [p for p in notebooks if not p.name.startswith(OVERVIEW_PREFIX)]
    overview = [p for p in notebooks if p.name.startswith(OVERVIEW_PREFIX)]
    runs: dict[str, NotebookRun] = {}
    kernels: set = set()
    bar = counter(len(notebooks), desc="notebooks", unit="nb")
    with _environment(THEORY_BUILD_DIR=str(out.resolve()), THEORY_FULL="1" if full else "0"):
        def record(run: NotebookRun) -> None:
            runs[run.name] = run
            status = "ok" if run.ok else "FAILED"
            message = f"{run.name}: {status} in {run.seconds:.1f} s"
            if bar is not None:
                bar.set_postfix_str(message)
                bar.update(1)
            else:
                print(message, file=sys.stderr, flush=True)

        pool = ThreadPoolExecutor(max_workers=max(1, jobs))
        futures = [pool.submit(_run_one, p, out, timeout, kernels) for p in papers]
        try:
            for future in as_completed(futures):
                record(future.result())
        except KeyboardInterrupt:
            # Queued notebooks are cancelled, running kernels interrupted, and no report
            # is written, so nothing half-written is left behind.
            for future in futures:
                future.cancel()
            _stop_kernels(kernels, futures)
            pool.shutdown(wait=True, cancel_futures=True)
            if bar is not None:
                bar.close()
            raise
        pool.shutdown(wait=True)
        # The overview reads the other ledgers, so it runs after them.
        for p in overview:
            record(_run_one(p, out, timeout, kernels))
    if bar is not None:
        bar.close()
    return [runs[p.stem] for p in notebooks]


def report(runs: list[NotebookRun], out: Path, *, mode: str, provenance: dict | None = None) -> str:
    """Write ``claims.json`` / ``claims.md`` into ``out`` and return the printed table."""
    records = []
    for run in runs:
        for c in run.claims:
            rec = dict(c.__dict__)
            rec["notebook"] = run.name
            records.append(rec)
    data = {
        "mode": mode,
        "provenance": provenance or {},
        "notebooks": [{"name": r.name, "paper": r.paper, "seconds": round(r.seconds, 2),
                       "seed": r.seed, "error": r.error, "claims": len(r.claims),
                       "passed": sum(c.passed for c in r.claims),
                       "counts": summary_counts(r.claims)} for r in runs],
        "claims": records,
    }
    write_json_atomic(out / "claims.json", data)

    headers = ["notebook", "claim", "kind", "expected", "measured", "verdict", "seconds"]
    rows = []
    for run in runs:
        for c in run.claims:
            rows.append([run.name, c.id, c.kind or "?", format_value(c.expected, c.digits),
                         format_value(c.measured, c.digits, c.noise_floor),
                         c.verdict, f"{run.seconds:.1f}"])
        if run.error:
            rows.append([run.name, "-", "-", "-", "-", "ERROR", f"{run.seconds:.1f}"])
    lines = text_table(headers, rows).split("\n")
    all_claims = [c for r in runs for c in r.claims]
    n_err = sum(r.error is not None for r in runs)
    summary = (f"{headline(all_claims)} in {len(runs)} notebooks "
               f"({mode} mode); {n_err} notebook error(s)")
    errors = [f"ERROR {r.name}: {r.error}" for r in runs if r.error]
    text = "\n".join(lines + [""] + errors + ([""] if errors else []) + [summary])

    md_rows = []
    for run in runs:
        for c in run.claims:
            md_rows.append([run.name, c.id, c.kind or "?", c.statement.replace("|", "/"),
                            format_value(c.expected, c.digits),
                            format_value(c.measured, c.digits, c.noise_floor),
                            c.verdict, f"{run.seconds:.1f}"])
        if run.error:
            md_rows.append([run.name, "-", "-", run.error.replace("|", "/"), "-", "-", "ERROR",
                            f"{run.seconds:.1f}"])
    md = ["# Claims", "", f"Mode: {mode}. {summary}.", "",
          markdown_table(["notebook", "claim", "kind", "statement", "expected", "measured",
                          "verdict", "seconds"], md_rows)]
    documented = [(run.name, c) for run in runs for c in run.claims if c.verdict != "PASS"
                  and c.discrepancy]
    if documented:
        md += ["", "## Not reproduced (documented discrepancies)", ""]
        md += [f"- **{name} {c.id}**: {c.statement} Measured "
               f"{format_value(c.measured, c.digits, c.noise_floor)}. {c.discrepancy}"
               for name, c in documented]
    tmp = out / ".claims.md.tmp"
    tmp.write_text("\n".join(md) + "\n")
    os.replace(tmp, out / "claims.md")
    return text


def _keep_cell_ids(nb: Any, old: Any) -> None:
    """Give unchanged cells (same type and source, in order) their committed ids back, so that
    a refresh changes only what really changed."""
    import difflib

    key = [(c.cell_type, c.source) for c in nb.cells]
    old_key = [(c.cell_type, c.source) for c in old.cells]
    matcher = difflib.SequenceMatcher(a=old_key, b=key, autojunk=False)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            if "id" in old.cells[block.a + k]:
                nb.cells[block.b + k]["id"] = old.cells[block.a + k]["id"]


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _strip_widgets(nb: Any) -> None:
    """Drop progress-bar widget state (random model ids on every run) from a notebook to be
    committed; each widget output keeps its plain-text rendering."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            output.get("data", {}).pop(WIDGET_VIEW, None)


def refresh(notebooks: list[Path], timeout: int = 1800) -> list[str]:
    """Re-execute notebooks in place (quick mode) from their ``py:percent`` pairs.

    The ``.py`` file is the source of the inputs when it exists; outputs come from the new
    execution; both files of the pair are rewritten. Returns the names that raised.
    """
    import jupytext

    failed = []
    # A private build folder: what a committed notebook prints never depends on what earlier
    # runs left in _build/ (the overview lists the ledgers it finds there).
    import tempfile

    scratch = tempfile.TemporaryDirectory(prefix="theory-refresh-")
    with scratch, _environment(THEORY_FULL="0", THEORY_BUILD_DIR=scratch.name):
        for path in notebooks:
            py = path.with_suffix(".py")
            nb = jupytext.read(py if py.exists() else path)
            if path.exists():
                _keep_cell_ids(nb, jupytext.read(path))
            nb.metadata.setdefault("jupytext", {})["formats"] = "ipynb,py:percent"
            nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python",
                                         "name": "python3"}
            tmp = path.with_name(f".{path.stem}.refresh.ipynb")
            jupytext.write(nb, tmp)
            start = time.perf_counter()
            executed, error = _execute(tmp, timeout)
            tmp.unlink()
            print(f"{path.name}: {'ok' if error is None else error} "
                  f"({time.perf_counter() - start:.1f} s)", file=sys.stderr, flush=True)
            if error is not None:
                failed.append(path.name)
                continue
            _strip_widgets(executed)
            jupytext.write(executed, path)
            jupytext.write(executed, py, fmt="py:percent")
    return failed


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="python -m theory", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"theory {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("verify", help="execute the notebooks and print the claims table")
    v.add_argument("--full", action="store_true",
                   help="paper-scale sizes (also selected by THEORY_FULL=1 in the environment)")
    v.add_argument("--only", action="append", metavar="NAME",
                   help="run only notebooks whose name contains NAME (repeatable)")
    v.add_argument("--jobs", type=int, default=1, metavar="N", help="notebooks run at once")
    v.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="output folder (default: _build/)")
    v.add_argument("--notebooks", type=Path, default=None, help=argparse.SUPPRESS)
    v.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    s = sub.add_parser("site", help="render the notebooks executed by verify as a static book")
    s.add_argument("--build", type=Path, default=None, metavar="DIR",
                   help="the folder verify wrote (default: _build/)")
    s.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="where to write the site (default: <build>/site)")
    d = sub.add_parser("slides", help="a reveal.js deck per executed notebook (offline)")
    d.add_argument("--build", type=Path, default=None, metavar="DIR",
                   help="the folder verify wrote (default: _build/)")
    d.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="where to write the decks (default: <build>/slides)")
    m = sub.add_parser("readme", help="rewrite the README claims table from claims.json")
    m.add_argument("--build", type=Path, default=None, metavar="DIR")
    m.add_argument("--readme", type=Path, default=None, help=argparse.SUPPRESS)
    w = sub.add_parser("sweep", help="rerun notebooks over seeds (and a parameter grid) on dask; "
                       "pass rate of every claim")
    w.add_argument("--only", action="append", metavar="NAME",
                   help="sweep only notebooks whose name contains NAME (repeatable)")
    w.add_argument("--seeds", type=int, default=20, metavar="N",
                   help="seeds per grid point: SEED = config.SEED + k, k = 0..N-1 (default 20)")
    w.add_argument("--grid", action="append", metavar="NAME=V1,V2,...",
                   help="also sweep a name of the parameters cell over these values (repeatable; "
                        "the grid is the product)")
    w.add_argument("--full", action="store_true",
                   help="paper-scale sizes (also selected by THEORY_FULL=1 in the environment)")
    w.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="output folder (default: _build/sweep)")
    w.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="a running dask scheduler, e.g. tcp://host:8786 (default: a LocalCluster "
                        "on this machine)")
    w.add_argument("--workers", type=int, default=None, metavar="N",
                   help="LocalCluster worker processes, one thread each (default: cores)")
    w.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    w.add_argument("--threads", type=int, default=1, metavar="N",
                   help="BLAS threads of each run's kernel (default 1, one run per core)")
    w.add_argument("--retries", type=int, default=2,
                   help="re-executions of a run whose task raises outside the notebook")
    w.add_argument("--notebooks", type=Path, default=None, help=argparse.SUPPRESS)
    c = sub.add_parser("record", help="merge a notebook's full-mode pieces (sweep.json files of "
                       "`sweep --full --grid PART=...`) into the paper-scale record")
    c.add_argument("sweeps", type=Path, nargs="+", metavar="SWEEP_JSON",
                   help="sweep.json files of full-mode sweeps, one run per piece")
    c.add_argument("--into", type=Path, default=None, metavar="FILE",
                   help="the record to update (default: results/full/claims.json)")
    r = sub.add_parser("refresh", help="re-execute notebooks in place (quick mode)")
    r.add_argument("--only", action="append", metavar="NAME")
    r.add_argument("--notebooks", type=Path, default=None, help=argparse.SUPPRESS)
    r.add_argument("--timeout", type=int, default=1800)
    return parser


def _book_command(args: argparse.Namespace) -> int:
    from . import book, records

    build = args.build or config.build_dir()
    try:
        report_data = records.load_report(build)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command == "site":
        index = book.build_site(build, args.out)
        print(f"wrote {index}")
        return 0
    if args.command == "slides":
        from . import slides

        decks = slides.build_slides(build, args.out)
        print(f"wrote {len(decks)} decks into {decks[0].parent if decks else build}")
        return 0
    readme = args.readme or config.repo_root() / "README.md"
    changed = records.update_readme(readme, report_data, records.load_results())
    print(f"{readme}: {'updated' if changed else 'already up to date'}")
    return 0


def _record_command(args: argparse.Namespace) -> int:
    """``python -m theory record``: merge full-mode pieces into the record (exit 2 on a
    conflict between pieces or bad input, 1 when a piece did not finish, else 0)."""
    from . import full_record as rec

    into = args.into or config.repo_root() / "results" / "full" / "claims.json"
    try:
        runs = rec.load_sweep_runs(list(args.sweeps))
        data = json.loads(into.read_text())
        by_notebook: dict[str, list] = {}
        for run in runs:
            by_notebook.setdefault(run["notebook"], []).append(run)
        for pieces in by_notebook.values():
            data = rec.merge_into(data, pieces)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    write_json_atomic(into, data)
    for nb in data["notebooks"]:
        if nb["name"] in by_notebook:
            claims = [c for c in data["claims"] if c["notebook"] == nb["name"]]
            print(f"{nb['name']}: {headline(claims)}; {len(nb['pieces'])} pieces, "
                  f"{nb['seconds']:.0f} s in all" + (f"; ERROR {nb['error']}" if nb["error"]
                                                     else ""))
            for c in claims:
                claim = Claim(**{k: c[k] for k in Claim.__dataclass_fields__ if k in c})
                shown = format_value(claim.measured, claim.digits, claim.noise_floor)
                print(f"  {claim.id:14s} {claim.kind or '?':11s} {shown:>10s}  {claim.verdict}")
    print(f"wrote {into}")
    return 0 if all(run["status"] == "ok" for run in runs) else 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    apply_reference_environment()        # for the kernels we start: the committed numerics
    if args.command == "record":
        return _record_command(args)
    if args.command in ("site", "slides", "readme"):
        return _book_command(args)
    if args.command == "sweep":
        from .sweep import command
        return command(args)
    folder = args.notebooks or config.repo_root() / "notebooks"
    try:
        notebooks = config.discover_notebooks(folder, args.only,
                                       include_sources=args.command == "refresh")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not notebooks:
        print(f"error: no notebooks in {folder}", file=sys.stderr)
        return 2
    if args.command == "refresh":
        failed = refresh(notebooks, timeout=args.timeout)
        return 1 if failed else 0
    if args.jobs < 1:
        print("error: --jobs must be >= 1", file=sys.stderr)
        return 2
    out = args.out or config.build_dir()
    # `--full` or an inherited THEORY_FULL=1 (as in `THEORY_FULL=1 make verify`) selects
    # paper scale; the kernels then get THEORY_FULL=1 and the report says "full".
    try:
        full = args.full or config.is_full()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        runs = verify(notebooks, out, full=full, jobs=args.jobs, timeout=args.timeout)
    except KeyboardInterrupt:
        print("\ninterrupted: no claims.json or claims.md was written", file=sys.stderr)
        return 130
    print(report(runs, out, mode="full" if full else "quick",
                 provenance=provenance.collect(full=full)))
    print(f"wrote {out / 'claims.json'} and {out / 'claims.md'}")
    return 0 if all(r.ok for r in runs) else 1
