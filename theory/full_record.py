"""The paper-scale record ``results/full/claims.json``: a notebook's full mode run in pieces.

A notebook whose full mode exceeds the 30-minute budget names its heavy sections (``PART`` in
its ``parameters`` cell, see :func:`theory.config.parts`); a sweep runs them as separate pieces
(``python -m theory sweep --full --seeds 1 --grid PART=a,b,...``), each of which also runs the
notebook's cheap sections. :func:`merge_pieces` joins the pieces' ledgers into one notebook
entry: the union of their claims, where a claim recorded by several pieces must be the same in
each (same statement, kind, expectation and verdict, and the same measured value at the
precision the ledger prints it, which is set well above run-to-run and BLAS-thread noise); a
claim that differs is an error, never silently picked. :func:`merge_into` puts that entry
into the record (the format of ``python -m theory verify --full``'s ``claims.json``), keeping
the other notebooks, and adds the provenance of every piece to ``sources``.
See docs/sweeps.md and results/README.md.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Sequence
from pathlib import Path

from .claims import format_value, summary_counts

__all__ = ["merge_pieces", "merge_into", "load_sweep_runs"]

#: The fields of a claim record that must agree between pieces (besides the printed value).
SAME_FIELDS = ("paper", "statement", "source", "kind", "relation", "expected", "rtol", "atol",
               "passed", "digits", "noise_floor", "alternative", "discrepancy")


def _piece_label(run: dict) -> str:
    params = run.get("params") or {}
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "(no parameters)"


def _shown(rec: dict) -> str:
    return format_value(rec.get("measured"), rec.get("digits", 3), rec.get("noise_floor"))


def merge_pieces(runs: Sequence[dict]) -> tuple[dict, list[dict]]:
    """Merge the sweep run records of one notebook's pieces; return ``(entry, claims)``.

    ``runs``: a non-empty list of run records as in a sweep's ``sweep.json`` (``notebook``,
    ``params``, ``seed``, ``status``, ``error``, ``seconds``, ``paper``, ``claims``,
    ``provenance``), one per piece (distinct ``params``), all of one notebook and one seed.
    ``claims`` is the union of the pieces' claims (first appearance in piece order); a claim
    recorded by several pieces must agree in :data:`SAME_FIELDS` and in its printed measured
    value (:func:`theory.claims.format_value`), else ``ValueError`` naming the claim and the
    pieces. ``entry`` is the notebook's row of the record (``name``, ``paper``, ``seconds``:
    summed over the pieces, ``seed``, ``error``: the pieces that did not finish or raised,
    ``claims``, ``passed``, ``counts``, and ``pieces``: per piece its parameters, status,
    seconds and BLAS threads).
    """
    if isinstance(runs, dict) or not isinstance(runs, (list, tuple)):
        raise TypeError(f"runs must be a list of sweep run records, got {type(runs).__name__}")
    if not runs:
        raise ValueError("runs must hold at least one piece")
    if not all(isinstance(r, dict) for r in runs):
        raise TypeError("runs must be a list of dicts (sweep run records)")
    for r in runs:
        missing = [k for k in ("notebook", "params", "seed", "status", "claims") if k not in r]
        if missing:
            raise ValueError(f"runs: a run record lacks {', '.join(missing)}")
    names = {r["notebook"] for r in runs}
    if len(names) != 1:
        raise ValueError(f"runs must be pieces of one notebook, got {sorted(names)}")
    seeds = {r["seed"] for r in runs}
    if len(seeds) != 1:
        raise ValueError(f"runs must share one seed (one record per notebook), got "
                         f"{sorted(seeds)}")
    seen_params: dict[str, dict] = {}
    for r in runs:
        key = json.dumps(r["params"], sort_keys=True)
        if key in seen_params:
            raise ValueError(f"runs: the piece {_piece_label(r)} appears twice")
        seen_params[key] = r
    name = names.pop()

    merged: dict[str, dict] = {}
    origin: dict[str, str] = {}
    for r in runs:
        for rec in r["claims"]:
            cid = rec["id"]
            if cid not in merged:
                merged[cid] = {**rec, "notebook": name}
                origin[cid] = _piece_label(r)
                continue
            first = merged[cid]
            diffs = [f for f in SAME_FIELDS if first.get(f) != rec.get(f)]
            if _shown(first) != _shown(rec):
                diffs.append(f"measured ({_shown(first)} vs {_shown(rec)})")
            if diffs:
                raise ValueError(f"claim {cid} of {name} differs between the pieces "
                                 f"{origin[cid]} and {_piece_label(r)}: {', '.join(diffs)}")
    claims = list(merged.values())
    errors = [f"piece {_piece_label(r)}: {r['status']}: "
              f"{(r.get('error') or '').strip().splitlines()[0] if r.get('error') else ''}"
              for r in runs if r["status"] != "ok"]
    pieces = []
    for r in runs:
        env = (r.get("provenance") or {}).get("kernel_env", {})
        pieces.append({"params": r["params"], "status": r["status"],
                       "seconds": r.get("seconds"),
                       "threads": int(env["OPENBLAS_NUM_THREADS"])
                       if "OPENBLAS_NUM_THREADS" in env else None,
                       "claims": [c["id"] for c in r["claims"]]})
    paper = next((r.get("paper") for r in runs if r.get("paper")), None)
    entry = {"name": name, "paper": paper,
             "seconds": round(sum(float(r.get("seconds") or 0.0) for r in runs), 2),
             "seed": runs[0]["seed"], "error": "; ".join(errors) or None,
             "claims": len(claims), "passed": sum(bool(c.get("passed")) for c in claims),
             "counts": summary_counts(claims), "pieces": pieces}
    return entry, claims


def merge_into(record: dict, runs: Sequence[dict]) -> dict:
    """A copy of ``record`` (a full-mode ``claims.json``) with the notebook of ``runs`` merged
    from its pieces (:func:`merge_pieces`) in place of any earlier entry of that notebook.

    The other notebooks' entries and claims are kept; the notebooks stay in name order, claims
    grouped by notebook in that order; ``sources`` gains one entry holding the notebook and the
    provenance of every piece (and loses the notebook from earlier entries).
    """
    if not isinstance(record, dict):
        raise TypeError(f"record must be the dict of a claims.json, got {type(record).__name__}")
    if record.get("mode") != "full":
        raise ValueError(f"record must be a full-mode record (mode 'full'), got mode "
                         f"{record.get('mode')!r}")
    for r in runs if isinstance(runs, (list, tuple)) else ():
        mode = (r.get("provenance") or {}).get("mode") if isinstance(r, dict) else None
        if mode is not None and mode != "full":
            raise ValueError(f"runs: piece {_piece_label(r)} ran in {mode} mode, not full")
    entry, claims = merge_pieces(runs)
    name = entry["name"]
    out = copy.deepcopy(record)
    notebooks = [nb for nb in out.get("notebooks", []) if nb["name"] != name] + [entry]
    notebooks.sort(key=lambda nb: nb["name"])
    by_nb: dict[str, list] = {nb["name"]: [] for nb in notebooks}
    for c in out.get("claims", []):
        if c["notebook"] != name and c["notebook"] in by_nb:
            by_nb[c["notebook"]].append(c)
    by_nb[name] = claims
    out["notebooks"] = notebooks
    out["claims"] = [c for nb in notebooks for c in by_nb[nb["name"]]]
    sources = []
    for src in out.get("sources", []):
        kept = [n for n in src.get("notebooks", []) if n != name]
        if kept:
            sources.append({**src, "notebooks": kept})
    sources.append({"notebooks": [name],
                    "pieces": [{"params": r["params"], "status": r["status"],
                                "seconds": r.get("seconds"),
                                "notebook_sha256": r.get("notebook_sha256"),
                                "provenance": r.get("provenance", {})} for r in runs]})
    out["sources"] = sources
    return out


def load_sweep_runs(paths: Sequence[str | os.PathLike]) -> list[dict]:
    """The run records of the full-mode sweeps whose ``sweep.json`` files are ``paths``."""
    if isinstance(paths, (str, Path)) or not isinstance(paths, (list, tuple)) or not paths:
        raise TypeError(f"paths must be a non-empty list of sweep.json paths, got {paths!r}")
    runs = []
    for path in paths:
        data = json.loads(Path(path).read_text())
        if data.get("mode") != "full":
            raise ValueError(f"{path}: a sweep in {data.get('mode')!r} mode, not full "
                             "(run it with --full)")
        runs += data["runs"]
    return runs
