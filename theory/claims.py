"""The claims ledger every notebook ends with.

A claim is a statement from a paper (or derived here) together with a number computed by the
notebook, the number the theory predicts, and a relation between them:

* ``"close"``: ``|measured - expected| <= atol + rtol * |expected|`` (at least one tolerance
  must be given; the missing one counts as 0);
* ``"le"``: ``measured <= expected``; ``"ge"``: ``measured >= expected``
  (tolerances are not used: put the bound in ``expected``);
* ``"true"``: ``measured`` is a boolean outcome that must be ``True``.

A non-finite measurement never passes. Verdicts are computed here, never passed in.

Every claim has a ``kind`` (see ``docs/claims.md``):

* ``"evidence"``: the check would fail if the paper's statement (or our reconstruction of it)
  were wrong. It must name that alternative: ``alternative="a random-feature model gives
  ratio ~0.85; learning gives < 0.3"``. Headlines count evidence only.
* ``"consistency"``: an identity of the code or the algebra (a construction checked to
  round-off, a property that holds by definition). Shown, never counted as a reproduction.

A **documented discrepancy** is a paper's statement that does not hold as stated in our runs:
record it with ``discrepancy="why it fails here, with the numbers"``. When such a check fails,
its verdict is ``NOT REPRODUCED``: never a pass, and not an error either (``assert_all`` and
``theory verify`` fail only on undocumented failures). When it passes, it is a pass.

Usage::

    ledger = Ledger("Law of parsimony (Yaras et al. 2023)")
    ledger.check("C1", "invariant block is exact", residual, 1e-10, relation="le",
                 source="paper, Thm 1", kind="evidence", noise_floor=1e-12,
                 alternative="a full-rank update would leave a residual of order 1")
    print(ledger.table())
    ledger.publish("01_law_of_parsimony")   # for `python -m theory verify`
    ledger.assert_all()
"""

from __future__ import annotations

import json
import math
import numbers
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from . import config
from .tables import text_table

__all__ = ["Claim", "Ledger", "load_claims", "format_value", "KINDS", "summary_counts",
           "headline"]

RELATIONS = ("close", "le", "ge", "true")
KINDS = ("evidence", "consistency")
PASS, FAIL, NOT_REPRODUCED = "PASS", "FAIL", "NOT REPRODUCED"
_RELATION_SYMBOL = {"close": "~=", "le": "<=", "ge": ">=", "true": "is"}


@dataclass(frozen=True)
class Claim:
    """One checked claim, as stored in ``claims.json``."""

    paper: str
    id: str
    statement: str
    source: str
    measured: float | bool | None
    expected: float | bool
    relation: str
    rtol: float | None
    atol: float | None
    passed: bool
    digits: int = 3
    noise_floor: float | None = None
    kind: str | None = None
    alternative: str | None = None
    discrepancy: str | None = None

    @property
    def verdict(self) -> str:
        """``PASS``; ``NOT REPRODUCED`` (failed, discrepancy documented); ``FAIL`` otherwise."""
        if self.passed:
            return PASS
        return NOT_REPRODUCED if self.discrepancy else FAIL

    @property
    def undocumented_failure(self) -> bool:
        return not self.passed and not self.discrepancy


def summary_counts(claims: Iterable[Claim | dict]) -> dict[str, int]:
    """Counts for a headline: evidence reproduced / not reproduced / failed, consistency."""
    claims = _as_claims(claims)
    evidence = [c for c in claims if c.kind == "evidence"]
    other = [c for c in claims if c.kind != "evidence"]
    return {
        "evidence": len(evidence),
        "reproduced": sum(c.passed for c in evidence),
        "not_reproduced": sum(c.verdict == NOT_REPRODUCED for c in evidence),
        "consistency": sum(c.kind == "consistency" for c in other),
        "consistency_pass": sum(c.passed for c in other if c.kind == "consistency"),
        "unclassified": sum(c.kind is None for c in other),
        "failed": sum(c.undocumented_failure for c in claims),
        "total": len(claims),
    }


def headline(claims: Iterable[Claim | dict]) -> str:
    """``N/E evidence claims reproduced, D not reproduced (documented); C/C consistency checks
    pass`` (plus undocumented failures and unclassified claims when there are any)."""
    return counts_text(summary_counts(_as_claims(claims)))


def counts_text(n: dict[str, int], *, emphasize: Callable[[str], str] = str) -> str:
    """The headline sentence of the counts ``n`` of :func:`summary_counts`; ``emphasize``
    marks up the reproduced count and the failures (e.g. in bold for HTML)."""
    keys = ("reproduced", "evidence", "not_reproduced", "consistency_pass", "consistency",
            "unclassified", "failed")
    if not isinstance(n, dict) or any(k not in n for k in keys):
        raise TypeError(f"n must be the dict of summary_counts (keys {', '.join(keys)})")
    if not callable(emphasize):
        raise TypeError("emphasize must be callable")
    reproduced = emphasize(f"{n['reproduced']}/{n['evidence']}")
    text = f"{reproduced} evidence claims reproduced, "
    text += (f"{n['not_reproduced']} not reproduced (documented); "
             f"{n['consistency_pass']}/{n['consistency']} consistency checks pass")
    if n["unclassified"]:
        text += f"; {n['unclassified']} unclassified"
    if n["failed"]:
        text += "; " + emphasize(f"{n['failed']} FAILED")
    return text


def _as_claims(claims: object) -> list[Claim]:
    if isinstance(claims, (str, bytes, dict)) or not hasattr(claims, "__iter__"):
        raise TypeError(f"claims must be a list of Claim records or dicts, got {type(claims)}")
    claims = list(claims)
    if not all(isinstance(c, (Claim, dict)) for c in claims):
        raise TypeError("claims must hold Claim records or dicts")
    return [_as_claim(c) for c in claims]


def _as_claim(c: Claim | dict) -> Claim:
    if isinstance(c, Claim):
        return c
    return Claim(**{k: c[k] for k in Claim.__dataclass_fields__ if k in c})


def format_value(value: float | bool | None, digits: int = 3,
                 noise_floor: float | None = None) -> str:
    """Fixed-precision text for a number in a claims table.

    ``digits`` significant digits in ``g`` format; values with ``|value| < noise_floor`` print
    as ``<floor`` so that round-off noise never changes a printed table; booleans print as
    ``True``/``False``; a missing (non-finite) value prints as ``nan``.
    """
    if value is None:
        return "nan"
    if isinstance(value, bool):
        return str(value)
    if noise_floor is not None and abs(value) < noise_floor:
        return f"<{noise_floor:.0e}"
    text = f"{value:.{digits}g}"
    return "0" if text in ("-0", "0") else text


def _as_measurement(name: str, value: object, relation: str) -> float | bool | None:
    """A float (or bool for relation "true"); non-finite becomes None (never passes)."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if relation == "true":
        if not isinstance(value, (bool, int)) or value not in (0, 1, True, False):
            raise ValueError(f"{name} must be a boolean for relation 'true', got {value!r}")
        return bool(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real scalar, got {value!r}")
    value = float(value)
    return value if math.isfinite(value) else None


class Ledger:
    """Records the claims of one paper's notebook and renders them as a table or JSON."""

    def __init__(self, paper: str, *, seed: int | None = None, notebook: str | None = None):
        """``notebook``: the notebook's name (``"01_law_of_parsimony"``), written once here;
        :meth:`publish` and the notebook's figures (``plotting.savefig(fig, ledger.notebook,
        ...)``) use it."""
        if not isinstance(paper, str) or not paper.strip():
            raise ValueError("paper must be a non-empty string")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise ValueError(f"seed must be an integer or None, got {seed!r}")
        if notebook is not None:
            _check_notebook_name(notebook)
        self.paper = paper
        self.seed = None if seed is None else int(seed)
        self.notebook = notebook
        self.claims: list[Claim] = []

    # -- recording -------------------------------------------------------------------------
    def check(self, id: str, statement: str, measured: object, expected: object, *,
              rtol: float | None = None, atol: float | None = None, relation: str = "close",
              source: str = "", digits: int = 3, noise_floor: float | None = None,
              kind: str | None = None, alternative: str | None = None,
              discrepancy: str | None = None) -> bool:
        """Record one claim and return whether it holds.

        ``kind`` is ``"evidence"`` (then ``alternative`` must say which plausible alternative
        would have failed the check) or ``"consistency"``. ``discrepancy`` documents why a
        paper's statement may not hold here (evidence only): a failed check with a documented
        discrepancy is shown as ``NOT REPRODUCED`` and does not make ``assert_all`` raise.
        """
        if not isinstance(id, str) or not id.strip():
            raise ValueError("id must be a non-empty string")
        if any(c.id == id for c in self.claims):
            raise ValueError(f"id {id!r} is already in this ledger")
        if not isinstance(statement, str) or not statement.strip():
            raise ValueError("statement must be a non-empty string")
        if relation not in RELATIONS:
            raise ValueError(f"relation must be one of {RELATIONS}, got {relation!r}")
        if not isinstance(source, str) or not source.strip():
            raise ValueError("source must say where the claim comes from "
                             "(paper section, abstract, or 'derived here')")
        if kind is not None and kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        for name, text in (("alternative", alternative), ("discrepancy", discrepancy)):
            if text is not None and (not isinstance(text, str) or not text.strip()):
                raise ValueError(f"{name} must be a non-empty string or None, got {text!r}")
        if kind == "evidence" and alternative is None:
            raise ValueError("alternative must name what would have failed an evidence claim")
        if discrepancy is not None and kind != "evidence":
            raise ValueError("discrepancy documents an evidence claim; kind must be 'evidence'")
        if not isinstance(digits, int) or isinstance(digits, bool) or not 1 <= digits <= 12:
            raise ValueError(f"digits must be an integer in [1, 12], got {digits!r}")
        for name, tol in (("rtol", rtol), ("atol", atol), ("noise_floor", noise_floor)):
            if tol is not None:
                if isinstance(tol, bool) or not isinstance(tol, numbers.Real) \
                        or not math.isfinite(tol) or tol < 0:
                    raise ValueError(f"{name} must be a finite number >= 0, got {tol!r}")
        rtol = None if rtol is None else float(rtol)
        atol = None if atol is None else float(atol)
        noise_floor = None if noise_floor is None else float(noise_floor)
        if relation == "close" and rtol is None and atol is None:
            raise ValueError("relation 'close' needs rtol or atol")
        if relation != "close" and (rtol is not None or atol is not None):
            raise ValueError(f"rtol and atol apply to relation 'close' only; for {relation!r} "
                             "put the bound in expected")
        measured = _as_measurement("measured", measured, relation)
        if relation == "true":
            if expected is not True:
                raise ValueError("expected must be True for relation 'true'")
            passed = measured is True
        else:
            expected = _as_measurement("expected", expected, relation)
            if expected is None:
                raise ValueError("expected must be finite")
            if measured is None:
                passed = False
            elif relation == "close":
                passed = abs(measured - expected) <= (atol or 0.0) + (rtol or 0.0) * abs(expected)
            elif relation == "le":
                passed = measured <= expected
            else:
                passed = measured >= expected
        self.claims.append(Claim(self.paper, id, statement, source, measured, expected,
                                 relation, rtol, atol, bool(passed), digits, noise_floor,
                                 kind, alternative, discrepancy))
        return bool(passed)

    # -- reporting -------------------------------------------------------------------------
    @property
    def failed(self) -> list[Claim]:
        """Undocumented failures (a documented discrepancy is not among them)."""
        return [c for c in self.claims if c.undocumented_failure]

    @property
    def not_reproduced(self) -> list[Claim]:
        return [c for c in self.claims if c.verdict == NOT_REPRODUCED]

    def table(self, width: int = 60) -> str:
        """A fixed-precision text table: id, kind, statement, measured, relation, expected,
        tolerance, verdict; documented discrepancies are listed below it."""
        return render_table(self.claims, width=width, title=self.paper)

    def to_json(self, path: str | os.PathLike) -> Path:
        """Write the ledger as JSON (atomically: temporary file, then rename)."""
        data = {"paper": self.paper, "seed": self.seed,
                "claims": [asdict(c) for c in self.claims]}
        return write_json_atomic(path, data)

    def publish(self, notebook: str | None = None) -> Path:
        """Write the ledger to ``config.claims_dir()/<notebook>.json`` for ``theory verify``
        (``notebook`` defaults to the name given to the ledger)."""
        if notebook is None:
            if self.notebook is None:
                raise ValueError("notebook must be given (the ledger was made without one)")
            notebook = self.notebook
        _check_notebook_name(notebook)
        return self.to_json(config.claims_dir() / f"{notebook}.json")

    def assert_all(self) -> None:
        """Raise ``AssertionError`` listing every undocumented failure (and fail on an empty
        ledger). Documented discrepancies are reported by :meth:`table`, not raised."""
        if not self.claims:
            raise AssertionError(f"{self.paper}: the ledger holds no claims")
        failed = self.failed
        if failed:
            lines = [f"{len(failed)} of {len(self.claims)} claims failed without a documented "
                     f"discrepancy ({self.paper}):"]
            for c in failed:
                lines.append(f"  {c.id}: {c.statement}: measured "
                             f"{format_value(c.measured, c.digits, c.noise_floor)} "
                             f"{_RELATION_SYMBOL[c.relation]} expected "
                             f"{format_value(c.expected, c.digits)}{_tolerance_text(c)}")
            raise AssertionError("\n".join(lines))


def _check_notebook_name(notebook: object) -> None:
    if not isinstance(notebook, str) or not notebook or "/" in notebook:
        raise ValueError(f"notebook must be a bare notebook name, got {notebook!r}")


def _tolerance_text(c: Claim) -> str:
    if c.relation != "close":
        return ""
    parts = []
    if c.rtol is not None:
        parts.append(f"rtol={c.rtol:.2g}")
    if c.atol is not None:
        parts.append(f"atol={c.atol:.2g}")
    return " (" + ", ".join(parts) + ")"


_KIND_SHORT = {"evidence": "E", "consistency": "C"}


def _wrap(text: str, width: int) -> list[str]:
    import textwrap
    return textwrap.wrap(text, width) or [""]


def render_table(claims: Iterable[Claim | dict], *, width: int = 60,
                 title: str | None = None) -> str:
    """Render claims as a text table with one row per claim (statement wrapped at ``width``)."""
    headers = ["id", "kind", "statement", "measured", "rel", "expected", "tolerance", "verdict"]
    claims = _as_claims(claims)
    rows = []
    for c in claims:
        tol = _tolerance_text(c).strip(" ()") or "-"
        rows.append([c.id, _KIND_SHORT.get(c.kind or "", "?"), _wrap(c.statement, width),
                     format_value(c.measured, c.digits, c.noise_floor),
                     _RELATION_SYMBOL[c.relation], format_value(c.expected, c.digits), tol,
                     c.verdict])
    out = []
    if title:
        out.append(f"{title}: {headline(claims)}")
    out.append(text_table(headers, rows))
    documented = [c for c in claims if c.verdict == NOT_REPRODUCED]
    if documented:
        out.append("")
        out.append("Not reproduced (documented discrepancies):")
        for c in documented:
            for k, text in enumerate(_wrap(f"{c.id}: {c.discrepancy}", width + 40)):
                out.append(("  " if k == 0 else "    ") + text)
    return "\n".join(out)


def write_json_atomic(path: str | os.PathLike, data: object) -> Path:
    """Write ``data`` as JSON to ``path`` via a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, allow_nan=False)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load_claims(path: str | os.PathLike) -> tuple[str, list[Claim]]:
    """Read a ledger written by :meth:`Ledger.to_json`; returns ``(paper, claims)``."""
    data = json.loads(Path(path).read_text())
    claims = [_as_claim(rec) for rec in data["claims"]]
    return data["paper"], claims
