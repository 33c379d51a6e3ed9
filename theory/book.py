"""The readers' book: a static HTML site of the executed notebooks.

``python -m theory site`` renders the notebooks that ``python -m theory verify`` executed
(``_build/notebooks``; nothing is executed again) with nbconvert's HTML exporter, with MathJax
served from a local copy (the ``jupyter-server-mathjax`` package) so that equations render with
no network, and writes an index page with one row per paper and one row per claim. Each page
opens with the paper's reference, the paper's claims in brief (both taken from the notebook's
first markdown cell), its verdict counts, a table of contents and previous/next links, and
ends with its claims, one anchor per claim (``<notebook>.html#claim-<id>``).

Pass rates over seeds (``results/sweep-quick.json``, written by ``python -m theory sweep``) and
full-mode verdicts (``results/full/claims.json``, the ``claims.json`` of ``theory verify
--full``) are shown beside the quick verdicts when those files are committed.

The records and the README tables made from them are in :mod:`theory.records`.
"""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path
from typing import Any

from .claims import counts_text
from .records import (FULL_FILE, SWEEP_FILE, claim_counts, load_report, load_results, rate_text,
                      verdict_of)

__all__ = ["build_site", "mathjax_head", "split_front_matter", "claim_anchor", "copy_mathjax",
           "front_matter"]

MATHJAX_URL = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"

# jupyter-server-mathjax ships MathJax 2.7 with the STIX-Web fonts only. MathJax's default
# output (HTML-CSS with the TeX web fonts) then fails on every formula that needs a glyph from
# one of the missing TeX font files (a prime, sigma'' ...) with "[Math Processing Error]".
# Jupyter itself configures STIX-Web for this copy; so do we. The hooks record every
# processing or TeX error in `window.theoryMath.errors` (the browser test reads it).
_MATHJAX_CONFIG = """<script type="text/x-mathjax-config">
window.theoryMath = {errors: []};
MathJax.Hub.Config({
  "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null},
  SVG: {font: "STIX-Web"}
});
MathJax.Hub.Register.MessageHook("Math Processing Error", function (m) {
  var script = m[1], err = m[2];
  window.theoryMath.errors.push({kind: "processing",
    tex: script && script.text !== undefined ? script.text : String(script),
    message: String(err && err.message ? err.message : err)});
});
MathJax.Hub.Register.MessageHook("TeX Jax - parse error", function (m) {
  window.theoryMath.errors.push({kind: "tex", tex: String(m[2]), message: String(m[1])});
});
</script>"""


def mathjax_head(prefix: str = "") -> str:
    """The ``<head>`` snippet that loads the local MathJax copy with the book's configuration."""
    return (_MATHJAX_CONFIG + f'\n<script src="{prefix}{MATHJAX_URL}"></script>\n'
            '<script type="text/x-mathjax-config">MathJax.Hub.Config({tex2jax: {inlineMath: '
            '[["$", "$"], ["\\\\(", "\\\\)"]], displayMath: [["$$", "$$"], ["\\\\[", "\\\\]"]], '
            'processEscapes: true, processEnvironments: true}, messageStyle: "none"});</script>')


def _mathjax_static() -> Path:
    try:
        import jupyter_server_mathjax
    except ImportError as exc:
        raise RuntimeError("the site needs the package jupyter-server-mathjax "
                           "(pip install -e '.[docs]')") from exc
    return Path(jupyter_server_mathjax.__file__).parent / "static"


def copy_mathjax(out: Path) -> None:
    """A local MathJax under ``out/mathjax`` (copied once)."""
    if not (out / "mathjax" / "MathJax.js").exists():
        shutil.copytree(_mathjax_static(), out / "mathjax", dirs_exist_ok=True)


def claim_anchor(claim_id: str) -> str:
    """The HTML id of a claim's row on its notebook page."""
    if not isinstance(claim_id, str) or not claim_id.strip():
        raise ValueError(f"claim_id must be a non-empty string, got {claim_id!r}")
    return "claim-" + re.sub(r"[^A-Za-z0-9_.-]", "-", claim_id)


def _verdict_html(verdict: str | None) -> str:
    if verdict is None:
        return '<span class="na">-</span>'
    css = {"PASS": "pass", "FAIL": "fail", "NOT REPRODUCED": "nr"}.get(verdict, "na")
    return f'<span class="verdict {css}">{html.escape(verdict)}</span>'


def _markdown(text: str, inline: bool = False) -> str:
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    out = markdown2html_mistune(text or "").strip()
    if inline and out.startswith("<p>") and out.endswith("</p>") and out.count("<p>") == 1:
        out = out[3:-4]
    return out


_CLAIMS_LEAD = re.compile(r"^\*\*(what (the|is) (papers?'?s?)?|the papers?'? |the paper's )?"
                          r".{0,30}claims?", re.I)


def split_front_matter(source: str) -> dict:
    """Title, reference and claims summary from a notebook's first markdown cell.

    The title is the first ``# `` line; the reference the paragraph that starts with
    ``**Paper`` (``**Papers.**``...); the summary the first paragraph after it whose bold lead
    speaks of the paper's claims (or, without a reference, the first paragraph after the
    title). ``rest`` is the cell without these parts.
    """
    if not isinstance(source, str):
        raise TypeError(f"source must be the markdown text of a cell, got {type(source).__name__}")
    paragraphs = [p for p in re.split(r"\n\s*\n", source.strip()) if p.strip()]
    title = reference = summary = None
    rest = []
    for p in paragraphs:
        stripped = p.strip()
        if title is None and stripped.startswith("# ") and "\n" not in stripped:
            title = stripped[2:].strip()
        elif reference is None and re.match(r"^\*\*Papers?[.:]?\*\*", stripped):
            reference = stripped
        elif summary is None and _CLAIMS_LEAD.match(stripped):
            summary = stripped
        else:
            rest.append(p)
    if summary is None and reference is None and rest and title is not None \
            and not rest[0].lstrip().startswith(("|", "#", "*", "-", "`")):
        summary = rest.pop(0)
    return {"title": title, "reference": reference, "summary": summary,
            "rest": "\n\n".join(rest)}


def _claims_table(records: list[dict], results: dict, *, anchors: bool = True,
                  link: str | None = None, details: bool = True) -> str:
    """An HTML table of claims: quick verdict, pass rate over seeds, full-mode verdict."""
    from .claims import format_value

    sweep, full = results.get("sweep"), results.get("full")
    head = ["claim", "kind", "statement"]
    if details:
        head += ["expected", "measured"]
    head += ["quick verdict", "seeds passed [95% CI]", "full verdict"]
    rows = []
    for r in records:
        key = (r["notebook"], r["id"])
        anchor = claim_anchor(r["id"])
        cid = html.escape(str(r["id"]))
        if link is not None:
            cid = f'<a href="{link.format(notebook=r["notebook"])}#{anchor}">{cid}</a>'
        attr = f' id="{anchor}"' if anchors else ""
        # Statements are plain text (with `*` in names like theta*): escape them, keep only
        # the bold labels (**[paper]**) and leave $...$ to MathJax.
        statement = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(r.get("statement", "")))
        extra = []
        if details and r.get("discrepancy") and not r.get("passed"):
            extra.append(f"<b>Discrepancy.</b> {html.escape(r['discrepancy'])}")
        if details and r.get("alternative"):
            extra.append(f"<b>Alternative.</b> {html.escape(r['alternative'])}")
        if extra:
            statement += '<div class="aside">' + "<br>".join(extra) + "</div>"
        cells = [cid, html.escape(r.get("kind") or "?"), statement]
        if details:
            cells += [html.escape(format_value(r.get("expected"), r.get("digits", 3))),
                      html.escape(format_value(r.get("measured"), r.get("digits", 3),
                                               r.get("noise_floor")))]
        rate = rate_text(sweep.get(key)) if sweep is not None else None
        full_rec = full.get(key) if full is not None else None
        cells += [_verdict_html(verdict_of(r)),
                  html.escape(rate) if rate else '<span class="na">-</span>',
                  _verdict_html(verdict_of(full_rec) if full_rec else None)]
        rows.append(f"<tr{attr}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return ('<table class="claims"><thead><tr>' + "".join(f"<th>{h}</th>" for h in head)
            + "</tr></thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table>")


def _results_note(results: dict) -> str:
    notes = []
    if results.get("sweep") is None:
        notes.append(f"<code>{SWEEP_FILE}</code> is not committed: no pass rates over seeds "
                     "yet (column <i>seeds passed</i> is empty).")
    else:
        meta = results.get("sweep_meta", {})
        seeds = meta.get("seeds")
        what = f" over {len(seeds) if isinstance(seeds, list) else seeds} seeds" if seeds else ""
        notes.append(f"Pass rates{what} from <code>{SWEEP_FILE}</code>, with 95% Wilson "
                     "intervals.")
    if results.get("full") is None:
        notes.append(f"<code>{FULL_FILE}</code> is not committed: no full-mode (paper-scale) "
                     "verdicts yet (column <i>full verdict</i> is empty).")
    else:
        notes.append(f"Full-mode verdicts from <code>{FULL_FILE}</code>.")
    return '<p class="note">' + " ".join(notes) + "</p>"


_CSS = """
.theory-header, .theory-footer { max-width: 1100px; margin: 1em auto; padding: 0 1.5em;
  font-family: sans-serif; line-height: 1.45; }
.theory-nav { display: flex; justify-content: space-between; gap: 1em; padding: 0.5em 0;
  border-bottom: 1px solid #ccc; font-size: 0.95em; }
.theory-nav a { text-decoration: none; }
.theory-front { background: #f5f7fa; border: 1px solid #d8dee6; border-radius: 6px;
  padding: 0.6em 1.2em; margin: 1em 0; }
.theory-front h1 { margin: 0.3em 0; font-size: 1.6em; }
.theory-toc ol { margin: 0.3em 0; padding-left: 1.4em; columns: 2; }
.theory-toc li.h3 { margin-left: 1.2em; font-size: 0.92em; }
table.claims { border-collapse: collapse; width: 100%; font-size: 0.9em;
  table-layout: auto !important; }
table.claims th, table.claims td { border-bottom: 1px solid #ccc; padding: 0.3em 0.5em;
  text-align: left !important; vertical-align: top; white-space: normal; }
table.claims td:nth-child(3) { width: 45% !important; min-width: 18em; }
table.claims th, table.claims td:not(:nth-child(3)) { width: auto !important; }
table.claims tr:target { background: #fff6d5; }
table.claims td:first-child { white-space: nowrap; }
.aside { color: #555; font-size: 0.9em; margin-top: 0.2em; }
.verdict { font-weight: bold; white-space: nowrap; }
.verdict.pass { color: #1a7f37; } .verdict.fail { color: #cf222e; } .verdict.nr { color: #9a6700; }
.na { color: #999; }
.note { color: #555; font-size: 0.9em; }
"""


def _nav(prev: str | None, nxt: str | None) -> str:
    left = f'<a href="{prev}.html" rel="prev">&larr; {html.escape(prev)}</a>' if prev else "<span></span>"
    right = f'<a href="{nxt}.html" rel="next">{html.escape(nxt)} &rarr;</a>' if nxt else "<span></span>"
    return (f'<nav class="theory-nav">{left}<a href="index.html">index of all notebooks and '
            f"claims</a>{right}</nav>")


_HEADING = re.compile(r'<h([1-3]) id="([^"]+)"[^>]*>(.*?)<a class="anchor-link"', re.S)


def _toc(body: str) -> str:
    items = []
    for level, anchor, text in _HEADING.findall(body):
        if level == "1":
            continue
        items.append(f'<li class="h{level}"><a href="#{anchor}">{text.strip()}</a></li>')
    if not items:
        return ""
    return ('<div class="theory-toc"><b>Contents</b><ol>' + "".join(items)
            + '<li class="h2"><a href="#theory-claims">Claims and verdicts</a></li></ol></div>')


_TEMPLATES = {
    "theory_page.html.j2": """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_mathjax -%}
{{ resources.theory.mathjax }}
{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}<style>{{ resources.theory.css }}</style>{%- endblock extra_css -%}
{%- block body_header -%}
{{ super() }}
{{ resources.theory.header }}
{%- endblock body_header -%}
{% block body_footer %}
{{ resources.theory.footer }}
{{ super() }}
{% endblock body_footer %}
""",
}


def _exporter(kind: str = "page", templates: dict | None = None) -> Any:
    """nbconvert's exporter for a book page, or (``kind="deck"``) for a reveal.js deck with
    the deck's ``templates`` (from :mod:`theory.slides`)."""
    import jinja2
    from nbconvert import HTMLExporter, SlidesExporter

    loader = jinja2.DictLoader(_TEMPLATES)
    if kind == "page":
        exporter = HTMLExporter(template_name="lab", extra_loaders=[loader])
        exporter.template_file = "theory_page.html.j2"
    else:
        if templates is None:
            raise ValueError("templates are required for a deck")
        loader = jinja2.DictLoader(templates)
        exporter = SlidesExporter(extra_loaders=[loader])
        exporter.template_file = "theory_deck.html.j2"
    exporter.mathjax_url = MATHJAX_URL
    exporter.require_js_url = "static/no-require.js"   # widgets are not used; stay offline
    return exporter


def front_matter(nb: Any) -> dict:
    """:func:`split_front_matter` of the notebook's first markdown cell (with its index)."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            front = split_front_matter(cell.source)
            front["cell"] = i
            return front
    return {"title": None, "reference": None, "summary": None, "rest": "", "cell": None}


def _counts_line(entry: dict) -> str:
    if entry.get("error"):
        return f"<b>error:</b> {html.escape(entry['error'])}"
    return counts_text(claim_counts(entry), emphasize=lambda s: f"<b>{s}</b>") + " (this run)."


def _render_notebook(path: Path, out: Path, *, entry: dict | None = None,
                     records: list[dict] | None = None, results: dict | None = None,
                     prev: str | None = None, nxt: str | None = None) -> Path:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    front = front_matter(nb)
    if front["cell"] is not None and (front["reference"] or front["summary"]):
        if front["rest"].strip():
            nb.cells[front["cell"]].source = front["rest"]
        else:
            del nb.cells[front["cell"]]
    title = front["title"] or path.stem
    parts = [f"<h1>{_markdown(title, inline=True)}</h1>"]
    if front["reference"]:
        parts.append(_markdown(front["reference"]))
    if front["summary"]:
        parts.append(_markdown(front["summary"]))
    if entry is not None:
        parts.append(f"<p>{_counts_line(entry)} <a href=\"#theory-claims\">Claims and "
                     "verdicts</a>.</p>")
    header = (f'<div class="theory-header jp-RenderedHTMLCommon">{_nav(prev, nxt)}'
              f'<div class="theory-front">{"".join(parts)}<!--theory-toc--></div></div>')
    results = results or {}
    claims = (_claims_table(records, results) if records
              else "<p>This notebook published no claims ledger.</p>")
    footer = (f'<div class="theory-footer jp-RenderedHTMLCommon"><h2 id="theory-claims">Claims and '
              f"verdicts</h2>{_results_note(results)}{claims}{_nav(prev, nxt)}</div>")
    exporter = _exporter("page")
    resources = {"metadata": {"name": path.stem},
                 "theory": {"mathjax": mathjax_head(), "css": _CSS, "header": header,
                            "footer": footer}}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    body = body.replace("<!--theory-toc-->", _toc(body), 1)
    target = out / f"{path.stem}.html"
    target.write_text(body)
    return target


def _index_html(report: dict, results: dict | None = None, slides: bool = False) -> str:
    results = results or {}
    rows = []
    for entry in report["notebooks"]:
        name = html.escape(entry["name"])
        paper = html.escape(entry.get("paper") or "(no ledger)")
        n = claim_counts(entry)
        if entry.get("error"):
            status = "error: " + html.escape(entry["error"])
        elif not n["total"]:
            status = "no claims ledger"
        elif n["failed"]:
            status = f"{n['failed']} failed"
        elif n["not_reproduced"]:
            status = f"{n['not_reproduced']} not reproduced (documented)"
        elif n["unclassified"]:
            status = f"{n['unclassified']} claims without a kind"
        elif not n["evidence"]:
            status = "consistency checks only"
        else:
            status = "all evidence reproduced"
        deck = f' <a class="deck" href="../slides/{name}.slides.html">slides</a>' if slides else ""
        rows.append(f"<tr><td><a href=\"{name}.html\">{name}</a>{deck}</td><td>{paper}</td>"
                    f"<td class=\"num\">{n['reproduced']}/{n['evidence']}</td>"
                    f"<td class=\"num\">{n['not_reproduced']}</td>"
                    f"<td class=\"num\">{n['consistency_pass']}/{n['consistency']}</td>"
                    f"<td class=\"num\">{entry['seconds']:.1f}</td><td>{status}</td></tr>")
    total = {k: sum(claim_counts(e)[k] for e in report["notebooks"])
             for k in ("evidence", "reproduced", "not_reproduced", "consistency")}
    sections = []
    for entry in report["notebooks"]:
        records = [c for c in report.get("claims", []) if c.get("notebook") == entry["name"]]
        if not records:
            continue
        sections.append(f'<h3 id="claims-{html.escape(entry["name"])}"><a href="'
                        f'{html.escape(entry["name"])}.html">{html.escape(entry["name"])}</a>'
                        f"</h3>" + _claims_table(records, results, anchors=False,
                                                 link="{notebook}.html", details=False))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>theory: five papers, re-derived and re-run</title>
{mathjax_head()}
<style>
body {{ font-family: sans-serif; max-width: 70em; margin: 2em auto; padding: 0 1em; line-height: 1.45; }}
table.index {{ border-collapse: collapse; width: 100%; }}
table.index th, table.index td {{ border-bottom: 1px solid #ccc; padding: 0.35em 0.6em; text-align: left; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
table.index td:last-child, table.index td:first-child {{ white-space: nowrap; }}
a.deck {{ font-size: 0.85em; margin-left: 0.5em; }}
{_CSS}
</style></head><body>
<h1>theory</h1>
<p>Jupyter notebooks that re-derive and re-run the central claims of five deep-learning-theory
papers. Each notebook states the claims, derives them in sympy, simulates them in numpy and ends
with a claims table in which every claim is checked by a computed number. An <i>evidence</i>
claim would fail if the paper's statement (or our reconstruction of it) were wrong; a
<i>consistency</i> check is an identity of the code or the algebra and is not counted as a
reproduction; a <i>documented discrepancy</i> is a paper's statement that did not hold here.</p>
<p>This run ({html.escape(report.get('mode', 'quick'))} mode): <b>{total['reproduced']} of
{total['evidence']}</b> evidence claims reproduced, {total['not_reproduced']} not reproduced
(documented), {total['consistency']} consistency checks.</p>
<table class="index"><thead><tr><th>notebook</th><th>paper</th><th>evidence reproduced</th>
<th>not reproduced</th><th>consistency</th><th>seconds</th><th>status</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
<h2 id="claims">Every claim</h2>
<p>Each claim links to its row on its notebook page. The quick verdict is this run's.</p>
{_results_note(results)}
{chr(10).join(sections) or "<p>No notebook published a claims ledger.</p>"}
</body></html>
"""


def build_site(build: Path, out: Path | None = None, results: Path | None = None) -> Path:
    """Render ``build/notebooks/*.ipynb`` and an index into ``out`` (default ``build/site``).

    ``results`` is the folder of committed robustness results (default ``<repo>/results``).
    """
    build = Path(build)
    out = Path(out) if out is not None else build / "site"
    report = load_report(build)
    found = load_results(results)
    notebooks = build / "notebooks"
    out.mkdir(parents=True, exist_ok=True)
    (out / "static").mkdir(exist_ok=True)
    (out / "static" / "no-require.js").write_text("/* require.js is not needed offline */\n")
    copy_mathjax(out)
    names = [e["name"] for e in report["notebooks"] if (notebooks / f"{e['name']}.ipynb").exists()]
    for entry in report["notebooks"]:
        name = entry["name"]
        if name not in names:
            continue
        k = names.index(name)
        records = [c for c in report.get("claims", []) if c.get("notebook") == name]
        _render_notebook(notebooks / f"{name}.ipynb", out, entry=entry, records=records,
                         results=found, prev=names[k - 1] if k else None,
                         nxt=names[k + 1] if k + 1 < len(names) else None)
    index = out / "index.html"
    index.write_text(_index_html(report, found, slides=(out.parent / "slides").exists()))
    return index


