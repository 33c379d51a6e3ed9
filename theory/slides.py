"""Seminar slides: one reveal.js deck per notebook, offline.

``python -m theory slides`` turns every notebook that ``python -m theory verify`` executed
(``_build/notebooks``; nothing is executed again) into ``_build/slides/<notebook>.slides.html``
with nbconvert's slides exporter. The deck is built from an in-memory copy of the notebook:

- a title slide with the paper's reference and its claims in brief (the notebook's first
  markdown cell) and the verdict counts of the run;
- one slide per section (``#`` or ``##`` heading), with the section's text; a ``###`` heading
  starts a vertical sub-slide;
- every figure on a sub-slide of its section (code is hidden; other outputs are left out),
  with the text that follows a figure on the next sub-slide, where the next figure joins it;
- a last slide with the claims table (quick verdict, pass rate over seeds, full verdict).

reveal.js comes from the ``sphinx-revealjs`` package (which vendors its ``dist`` build) and
MathJax from ``jupyter-server-mathjax``; both are copied next to the decks, so the decks open
from disk with no network.
"""

from __future__ import annotations

import copy
import html
import importlib.util
import re
import shutil
from pathlib import Path
from typing import Any

from . import book
from .records import load_report, load_results

__all__ = ["build_slides", "deck_notebook", "reveal_static", "TEMPLATES"]

_DECK_CSS = """
.reveal { font-size: 24px; }
.reveal .slides { text-align: left; }
.reveal .slides section { height: 100%; overflow-y: auto !important; overflow-x: hidden;
  padding: 0 0.5em; box-sizing: border-box; }
.reveal .slides section > section { padding: 0; }
.reveal h1 { font-size: 1.7em; } .reveal h2 { font-size: 1.35em; } .reveal h3 { font-size: 1.1em; }
.reveal h1, .reveal h2, .reveal h3 { text-transform: none !important; text-align: left; }
.reveal p, .reveal li { line-height: 1.35; }
.reveal .jp-OutputArea-output img { max-height: 620px; width: auto; margin: 0 auto; display: block; }
.reveal .jp-InputPrompt, .reveal .jp-OutputPrompt { display: none; }
.reveal table.claims { font-size: 0.62em; }
.reveal table.claims td, .reveal table.claims th { padding: 0.15em 0.4em; }
.reveal .verdict.pass { color: #1a7f37; } .reveal .verdict.fail { color: #cf222e; }
.reveal .verdict.nr { color: #9a6700; } .reveal .na { color: #999; } .reveal .note { font-size: 0.7em; color: #555; }
.reveal .anchor-link { display: none; }
"""

TEMPLATES = {
    "theory_deck.html.j2": """{%- extends 'reveal/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mathjax -%}
{{ resources.theory.mathjax }}
{%- endblock html_head_js_mathjax -%}
{%- block html_head_css -%}<style>{{ resources.theory.css }}</style>{%- endblock html_head_css -%}
{% block footer_js %}
<script src="reveal.js/dist/reveal.js"></script>
<script src="reveal.js/plugin/notes/notes.js"></script>
<script>
Reveal.initialize({controls: true, progress: true, history: true, hash: true, center: false,
                   transition: "none", slideNumber: "c/t", width: 1280, height: 800,
                   plugins: [RevealNotes]});
// MathJax typesets hidden slides with no size; typeset the shown slide again.
Reveal.on("slidechanged", function (event) {
  if (window.MathJax && MathJax.Hub) { MathJax.Hub.Queue(["Rerender", MathJax.Hub, event.currentSlide]); }
});
</script>
{% endblock footer_js %}
""",
}

_SECTION = re.compile(r"^(#{1,3})\s+\S", re.M)
_CLAIMS_HEADING = re.compile(r"^#{1,2}\s+Claims\b", re.I)
_IMAGE = ("image/png", "image/svg+xml", "image/jpeg")


def reveal_static() -> Path:
    """The reveal.js build vendored by the ``sphinx-revealjs`` package (``dist/``, ``plugin/``)."""
    spec = importlib.util.find_spec("sphinx_revealjs")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the slides need the package sphinx-revealjs, which ships reveal.js "
                           "(pip install -e '.[docs]')")
    path = Path(next(iter(spec.submodule_search_locations))) / "_static" / "revealjs"
    if not (path / "dist" / "reveal.js").exists():
        raise RuntimeError(f"no reveal.js build under {path}")
    return path


def _split_sections(source: str) -> list[str]:
    """A markdown cell cut before each heading line of level 1 to 3."""
    starts = [m.start() for m in _SECTION.finditer(source)]
    if not starts or starts[0] != 0:
        starts = [0] + starts
    pieces = [source[a:b].strip() for a, b in zip(starts, starts[1:] + [len(source)])]
    return [p for p in pieces if p]


def _slide_type(piece: str) -> str:
    m = _SECTION.match(piece)
    if m is None:
        return "-"
    return "subslide" if len(m.group(1)) == 3 else "slide"


def _has_image(cell: Any) -> bool:
    return any(set(o.get("data", {})) & set(_IMAGE) for o in cell.get("outputs", []))


def deck_notebook(nb: Any, *, entry: dict | None = None, records: list[dict] | None = None,
                  results: dict | None = None) -> Any:
    """An in-memory copy of ``nb`` with the slide metadata of the deck (see the module doc)."""
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_output

    nb = copy.deepcopy(nb)
    front = book.front_matter(nb)
    title = front["title"] or nb.metadata.get("name", "")
    first = [f"# {title}"] + [p for p in (front["reference"], front["summary"]) if p]
    cells = [new_markdown_cell("\n\n".join(first))]
    if entry is not None:
        cells.append(new_code_cell("", outputs=[new_output(
            "display_data", data={"text/html": f"<p>{book._counts_line(entry)}</p>"})]))
    if front["cell"] is not None and front["rest"].strip():
        rest = _split_sections(front["rest"])
        for k, piece in enumerate(rest):
            cells.append(new_markdown_cell(piece))
            cells[-1].metadata["_deck"] = _slide_type(piece) if k else "subslide"
    cells[0].metadata["_deck"] = "slide"
    in_claims = False
    # What the current (sub)slide holds: text after a figure starts a new sub-slide, and a
    # figure joins a sub-slide that so far holds only text after a figure (its caption).
    started_by, has_figure = "heading", False
    for i, cell in enumerate(nb.cells):
        if i == front["cell"]:
            continue
        if cell.cell_type == "markdown":
            for piece in _split_sections(cell.source):
                kind = _slide_type(piece)
                if kind == "slide":
                    in_claims = bool(_CLAIMS_HEADING.match(piece))
                if kind != "-":
                    started_by, has_figure = "heading", False
                elif has_figure:
                    kind, started_by, has_figure = "subslide", "text", False
                new = new_markdown_cell(piece)
                new.metadata["_deck"] = kind
                cells.append(new)
        elif cell.cell_type == "code" and _has_image(cell) and not in_claims:
            new = copy.deepcopy(cell)
            new.outputs = [o for o in cell.outputs if set(o.get("data", {})) & set(_IMAGE)]
            if started_by == "text" and not has_figure:
                new.metadata["_deck"] = "-"
            else:
                new.metadata["_deck"] = "subslide"
                started_by = "figure"
            has_figure = True
            cells.append(new)
    if not any(c.cell_type == "markdown" and _CLAIMS_HEADING.match(c.source) for c in cells):
        cells.append(new_markdown_cell("## Claims"))
        cells[-1].metadata["_deck"] = "slide"
    table = (book._results_note(results or {}) + book._claims_table(records, results or {},
                                                                    details=False)
             if records else "<p>This notebook published no claims ledger.</p>")
    # The table goes last: after the claims heading (the last section) or its own slide.
    claims_at = max(i for i, c in enumerate(cells)
                    if c.cell_type == "markdown" and _CLAIMS_HEADING.match(c.source))
    tail = [c for c in cells[claims_at + 1:] if _slide_type(c.source) == "-"
            and c.cell_type == "markdown"]
    cells = cells[:claims_at + 1] + tail + [new_code_cell("", outputs=[new_output(
        "display_data", data={"text/html": table})])] + [
        c for c in cells[claims_at + 1:] if c not in tail]
    cells[claims_at + 1 + len(tail)].metadata["_deck"] = "-"
    for c in cells:
        c.metadata["slideshow"] = {"slide_type": c.metadata.pop("_deck", "-")}
    nb.cells = cells
    return nb


def _render_deck(path: Path, out: Path, *, entry: dict | None = None,
                 records: list[dict] | None = None, results: dict | None = None) -> Path:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    deck = deck_notebook(nb, entry=entry, records=records, results=results)
    exporter = book._exporter("deck", TEMPLATES)
    exporter.reveal_url_prefix = "reveal.js"
    exporter.reveal_theme = "white"
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    resources = {"metadata": {"name": path.stem},
                 "theory": {"mathjax": book.mathjax_head(), "css": book._CSS + _DECK_CSS}}
    body, _ = exporter.from_notebook_node(deck, resources=resources)
    target = out / f"{path.stem}.slides.html"
    target.write_text(body)
    return target


def build_slides(build: Path, out: Path | None = None, results: Path | None = None) -> list[Path]:
    """A deck per executed notebook in ``build/notebooks`` into ``out`` (default
    ``build/slides``), with reveal.js and MathJax copied beside them; returns the decks."""
    build = Path(build)
    out = Path(out) if out is not None else build / "slides"
    report = load_report(build)
    found = load_results(results)
    out.mkdir(parents=True, exist_ok=True)
    book.copy_mathjax(out)
    reveal = reveal_static()
    for part in ("dist", "plugin/notes"):
        shutil.copytree(reveal / part, out / "reveal.js" / part, dirs_exist_ok=True)
    decks = []
    for entry in report["notebooks"]:
        source = build / "notebooks" / f"{entry['name']}.ipynb"
        if not source.exists():
            continue
        records = [c for c in report.get("claims", []) if c.get("notebook") == entry["name"]]
        decks.append(_render_deck(source, out, entry=entry, records=records, results=found))
    items = "".join(f'<li><a href="{d.name}">{html.escape(d.name.split(".")[0])}</a></li>'
                    for d in decks)
    (out / "index.html").write_text(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>theory: slides'
        '</title></head><body style="font-family: sans-serif; max-width: 40em; margin: 2em auto">'
        "<h1>Slides</h1><p>One reveal.js deck per notebook (arrow keys: right for the next "
        "section, down for its figures; <kbd>s</kbd> opens the speaker view).</p>"
        f"<ul>{items}</ul></body></html>\n")
    site_index = build / "site" / "index.html"
    if out == build / "slides" and site_index.exists():   # the book links each deck
        site_index.write_text(book._index_html(report, found, slides=True))
    return decks
