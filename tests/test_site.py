"""The readers' book and the seminar decks, built from the committed notebooks (they carry the
outputs of a quick run) and a small toy notebook with a ledger and awkward TeX, executed by
`theory verify`; `make verify` is not needed.

Static tests check the structure (anchors per claim, previous/next links, table of contents,
pass rates over seeds, offline assets). The browser tests load every page and every deck in
headless Chromium (Debian's `chromium` and `chromium-driver`, driven by selenium), wait until
MathJax has typeset, and fail on any MathJax error or TeX left unrendered, naming the page and
the offending source. Screenshots of the index, one notebook page and one slide go to
`_build/screenshots/`. Skipped when Chromium is missing, except under CI, where it must be there.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from theory import book, config, records, slides

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

TOY_MARKDOWN = [
    "# A toy paper\n\n**Paper.** A. Author, *A toy paper*, arXiv:0000.00000.\n\n"
    "**What the paper claims** (abstract): $\\sigma''(w') \\ge 0$ and $a_i*b_j*c_k$ stay put.\n\n"
    "**Setting.** Sets $\\{1, 2\\}$, products $x_1 x_2$ with *emphasis* and __bold__ nearby.",
    "## 1. Primes, braces, underscores\n\n"
    "$$\\mathbb E[\\Delta w_i] = c\\,\\tilde a_i\\Big(W^{*\\top}\\big[\\mu_1 C_1 + "
    "\\tfrac{\\mu_3}{2} C_3[m_i,m_i]\\big]\\Big),$$\n\nand $f'(x)_{i}^{*}$, $(JJ^\\top)_{\\ell\\ell'}$, "
    "$\\operatorname{inertia} H$, $|x|_\\infty$ and $\\text{a\\_b}$.\n\n"
    "### 1.1 Aligned\n\n$$\\begin{aligned} a &= b_1 \\\\ c &= d_{2}' \\end{aligned}$$",
    "## 2. A figure",
    "## Claims",
]
TOY_CODE = [
    "import matplotlib.pyplot as plt\n"
    "from theory.claims import Ledger\nledger = Ledger('Toy paper', seed=3)",
    "fig, ax = plt.subplots(figsize=(3, 2))\nax.plot([0, 1], [1, 0])\nax.set_xlabel('t')\n"
    "plt.show()",
    "ledger.check('T1', '**[paper]** two plus two is $4$', 2 + 2, 4, atol=0, source='abstract', "
    "kind='evidence', alternative='five')\n"
    "ledger.check('T2.b', '[ours] pi', 3.14159, 3.0, rtol=1e-3, source='derived here', "
    "kind='evidence', alternative='three', discrepancy='pi is not three')\n"
    "ledger.check('T3', '[ours] identity', 1.0, 1.0, rtol=1e-9, source='derived here', "
    "kind='consistency')\nledger.publish('09_toy')",
]


def toy_notebook():
    md = [new_markdown_cell(s) for s in TOY_MARKDOWN]
    code = [new_code_cell(s) for s in TOY_CODE]
    nb = new_notebook(cells=[md[0], code[0], md[1], md[2], code[1], md[3], code[2]])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A build folder as `make verify` leaves it (the committed notebooks and a toy one), the
    book and the decks rendered from it, and a results folder with a sweep and a full run."""
    root = tmp_path_factory.mktemp("book")
    source = root / "source"
    source.mkdir()
    nbformat.write(toy_notebook(), source / "09_toy.ipynb")
    build = root / "build"
    result = subprocess.run([sys.executable, "-m", "theory", "verify", "--notebooks",
                             str(source), "--out", str(build)], capture_output=True, text=True,
                            timeout=300)
    assert "09_toy" in result.stdout, result.stdout + result.stderr
    report = json.loads((build / "claims.json").read_text())
    committed = []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        shutil.copy(path, build / "notebooks" / path.name)
        committed.append({"name": path.stem, "paper": None, "seconds": 0.0, "seed": None,
                          "error": None, "claims": 0, "passed": 0})
    report["notebooks"] = committed + report["notebooks"]
    (build / "claims.json").write_text(json.dumps(report))
    results = root / "results"
    (results / "full").mkdir(parents=True)
    (results / "sweep-quick.json").write_text(json.dumps({"seeds": list(range(20)), "claims": [
        {"notebook": "09_toy", "id": "T1", "kind": "evidence", "statement": "x", "runs": 20,
         "passed": 19, "pass_rate": 0.95, "wilson_low": 0.764, "wilson_high": 0.991}]}))
    full = dict(report, mode="full",
                claims=[dict(c, passed=False, discrepancy=None) if c["id"] == "T3" else c
                        for c in report["claims"]])
    (results / "full" / "claims.json").write_text(json.dumps(full))
    index = book.build_site(build, results=results)
    decks = slides.build_slides(build, results=results)
    return build, index, decks, results


def page(index, name):
    return (index.parent / f"{name}.html").read_text()


# --- structure (no browser) -------------------------------------------------------------------

def test_front_matter_is_taken_from_the_first_markdown_cell():
    front = book.split_front_matter(TOY_MARKDOWN[0])
    assert front["title"] == "A toy paper"
    assert front["reference"].startswith("**Paper.** A. Author")
    assert front["summary"].startswith("**What the paper claims**")
    assert front["rest"].startswith("**Setting.**")
    for lead in ("**The papers' claims** (abstracts)", "**The paper's claims** (abstract)",
                 "**What the paper claims [paper, abstract].** (1)"):
        text = f"# T\n\n**Papers.** X.\n\n{lead} y.\n\n**Other.** z."
        assert book.split_front_matter(text)["summary"].startswith(lead)
    assert book.split_front_matter("just text")["title"] is None


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="claim_id"):
        book.claim_anchor("")
    with pytest.raises(TypeError, match="source"):
        book.split_front_matter(None)
    with pytest.raises(TypeError, match="results"):
        records.pass_rate_table([])
    assert book.claim_anchor("C6b strict/2") == "claim-C6b-strict-2"


def test_every_claim_of_the_index_links_to_its_row(built):
    build, index, _, _ = built
    text = index.read_text()
    report = json.loads((build / "claims.json").read_text())
    assert report["claims"]
    for claim in report["claims"]:
        anchor = book.claim_anchor(claim["id"])
        assert f'href="{claim["notebook"]}.html#{anchor}"' in text, claim["id"]
        assert f'id="{anchor}"' in page(index, claim["notebook"]), claim["id"]
    assert "T2.b" in text and "NOT REPRODUCED" in text


def test_index_shows_pass_rates_over_seeds_and_full_verdicts(built, tmp_path):
    build, index, _, results = built
    text = index.read_text()
    row = re.search(r"<tr><td><a href=\"09_toy.html#claim-T1\">.*?</tr>", text, re.S).group(0)
    assert "19/20 [0.76, 0.99]" in row and row.count("PASS") == 2
    row3 = re.search(r"<tr><td><a href=\"09_toy.html#claim-T3\">.*?</tr>", text, re.S).group(0)
    assert "PASS" in row3 and "FAIL" in row3   # quick passes, the (synthetic) full run fails
    assert "not committed" not in text
    empty = book._index_html(records.load_report(build), records.load_results(tmp_path / "none"))
    assert empty.count("is not committed") == 2 and "19/20" not in empty


def test_pages_have_navigation_contents_and_front_matter(built):
    build, index, _, _ = built
    names = [e["name"] for e in json.loads((build / "claims.json").read_text())["notebooks"]]
    for k, name in enumerate(names):
        text = page(index, name)
        if k:
            assert f'href="{names[k - 1]}.html" rel="prev"' in text
        if k + 1 < len(names):
            assert f'href="{names[k + 1]}.html" rel="next"' in text
        toc = re.search(r'<div class="theory-toc">.*?</div>', text, re.S)
        assert toc, f"{name}: no table of contents"
        for target in re.findall(r'href="#([^"]+)"', toc.group(0)):
            assert f'id="{target}"' in text, f"{name}: contents link #{target} has no target"
        assert 'src="data:image/png;base64' in text, f"{name}: no figure"
    toy = page(index, "09_toy")
    front = re.search(r'<div class="theory-front">.*?<div class="theory-toc">', toy, re.S).group(0)
    assert "A. Author" in front and "What the paper claims" in front
    assert "2/2</b> evidence" not in front and "1/2</b> evidence claims" in front


def test_book_and_decks_are_offline(built):
    build, index, decks, _ = built
    for path in [index, *index.parent.glob("*.html"), *decks]:
        text = path.read_text()
        remote = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?:[^"]+)"', text)
        remote += re.findall(r'import[^;\n]*"(https?:[^"]+)"', text)
        assert not remote, f"{path.name} loads {remote}"
    assert (index.parent / "mathjax" / "MathJax.js").exists()
    assert (decks[0].parent / "reveal.js" / "dist" / "reveal.js").exists()


def test_index_links_each_deck(built):
    _, index, decks, _ = built
    for deck in decks:
        assert f'href="../slides/{deck.name}"' in index.read_text()
        assert (index.parent / "../slides" / deck.name).resolve() == deck.resolve()


def test_deck_has_a_slide_per_section_figures_and_claims(built):
    build, _, decks, _ = built
    nb = nbformat.read(build / "notebooks" / "09_toy.ipynb", as_version=4)
    deck = slides.deck_notebook(nb, records=[{"notebook": "09_toy", "id": "T1", "kind": "evidence",
                                              "statement": "s", "passed": True}])
    kinds = [(c.cell_type, c.metadata["slideshow"]["slide_type"], c.source.split("\n")[0])
             for c in deck.cells]
    assert kinds[0] == ("markdown", "slide", "# A toy paper")
    assert [k[2] for k in kinds if k[1] == "slide"] == ["# A toy paper", "## 1. Primes, braces, underscores",
                                                      "## 2. A figure", "## Claims"]
    assert ("markdown", "subslide", "### 1.1 Aligned") in kinds
    figure = [c for c in deck.cells if c.cell_type == "code" and c.source]
    assert len(figure) == 1 and figure[0].metadata["slideshow"]["slide_type"] == "subslide"
    assert 'id="claim-T1"' in deck.cells[-1].outputs[0]["data"]["text/html"]
    toy = next(d for d in decks if d.name == "09_toy.slides.html").read_text()
    assert toy.count('src="data:image/png;base64') == 1 and "claim-T2.b" in toy


def test_readme_pass_rate_section(built, tmp_path):
    _, _, _, results = built
    readme = tmp_path / "README.md"
    readme.write_text(f"{records.README_BEGIN}\n{records.README_END}\n\n{records.RATES_BEGIN}\nold\n"
                      f"{records.RATES_END}\n")
    report = {"mode": "quick", "notebooks": []}
    assert records.update_readme(readme, report, records.load_results(results))
    assert ("| `09_toy` | T1 | evidence | PASS | 19/20 | 0.95 | [0.76, 0.99] | PASS |"
            in readme.read_text())
    assert records.update_readme(readme, report, records.load_results(tmp_path / "none"))
    assert "is not committed" in readme.read_text()


def test_slides_command_needs_a_verify_run(tmp_path):
    result = subprocess.run([sys.executable, "-m", "theory", "slides", "--build", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "run `make verify` first" in result.stderr


# --- in a browser -----------------------------------------------------------------------------

TYPESET = """
const done = arguments[arguments.length - 1];
const deck = arguments[0];
function visibleTeX() {
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const skip = /^(SCRIPT|STYLE|PRE|CODE|TEXTAREA|KBD)$/;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    let el = node.parentElement, hidden = false;
    while (el) {
      if (skip.test(el.tagName) || (el.className && String(el.className).indexOf("MathJax") >= 0)) {
        hidden = true; break; }
      el = el.parentElement;
    }
    if (hidden) continue;
    const m = node.textContent.match(/\\$[^$\\n]{1,120}\\$|\\\\(frac|sum|mathbb|mathrm|sigma|alpha|begin|end|left|right|tfrac|sqrt|top|ell)\\b/);
    if (m) found.push(node.textContent.trim().slice(0, 160));
  }
  return found;
}
function finish() {
  MathJax.Hub.Queue(function () {
    const shown = [...document.querySelectorAll(".MathJax_Error, .merror, .noError")]
      .map(e => e.textContent.slice(0, 160));
    const processing = [...document.querySelectorAll(".MathJax, .MathJax_Display, span")]
      .filter(e => e.childElementCount === 0 && e.textContent.indexOf("Math Processing Error") >= 0).length;
    done({jax: MathJax.Hub.getAllJax().length, errors: window.theoryMath ? window.theoryMath.errors : null,
          shown: shown, processing: processing, unrendered: visibleTeX(),
          slides: deck ? Reveal.getTotalSlides() : null});
  });
}
function start() {
  if (!window.MathJax || !MathJax.Hub || !MathJax.isReady || (deck && !(window.Reveal && Reveal.isReady()))) {
    setTimeout(start, 100); return; }
  if (!deck) { finish(); return; }
  // every slide, in order, each typeset again when shown
  const stops = [];
  Reveal.getHorizontalSlides().forEach((h, i) => {
    const v = h.querySelectorAll(":scope > section").length;
    for (let j = 0; j < Math.max(v, 1); j++) stops.push([i, j]);
  });
  let k = 0;
  (function next() {
    if (k >= stops.length) { Reveal.slide(0, 0); finish(); return; }
    Reveal.slide(stops[k][0], stops[k][1]); k++;
    MathJax.Hub.Queue(next);
  })();
}
start();
"""


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None or CHROMEDRIVER is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium and chromedriver must be installed for the browser test under "
                        "CI (`make browser`)")
        pytest.skip("Chromium is not installed (Debian packages chromium, chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--window-size=1280,900", "--allow-file-access-from-files"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(240)
    yield driver
    driver.quit()


def typeset(driver, path, deck=False):
    driver.get(path.as_uri())
    return driver.execute_async_script(TYPESET, deck)


def problems(result):
    found = []
    if result["errors"] is None:
        found.append("the page has no MathJax error hook (the book's MathJax config is missing)")
    else:
        found += [f"{e['kind']} error: {e['message']} in TeX: {e['tex']!r}" for e in result["errors"]]
    found += [f"shown as an error: {t!r}" for t in result["shown"]]
    if result["processing"]:
        found.append(f"{result['processing']} x [Math Processing Error]")
    found += [f"unrendered TeX in the text: {t!r}" for t in result["unrendered"]]
    return found


def screenshots():
    folder = config.build_dir() / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_every_book_page_typesets_without_math_errors(built, browser):
    _, index, _, _ = built
    failures, counts = {}, {}
    for path in [index, *sorted(p for p in index.parent.glob("*.html") if p != index)]:
        result = typeset(browser, path)
        counts[path.name] = result["jax"]
        if problems(result):
            failures[path.name] = problems(result)[:10]
        if path.name in ("index.html", "02_giant_step.html"):
            browser.save_screenshot(str(screenshots() / f"site-{path.stem}.png"))
    assert not failures, json.dumps(failures, indent=1)
    assert counts["09_toy.html"] >= 8 and counts["02_giant_step.html"] > 100, counts


def test_every_deck_renders_every_slide_without_math_errors(built, browser):
    _, _, decks, _ = built
    failures = {}
    for deck in decks:
        result = typeset(browser, deck, deck=True)
        assert result["slides"] >= 4, f"{deck.name}: only {result['slides']} slides"
        if problems(result):
            failures[deck.name] = problems(result)[:10]
        if deck.name == "02_giant_step.slides.html":
            browser.execute_script("Reveal.slide(2, 0)")
            browser.execute_async_script("MathJax.Hub.Queue(arguments[arguments.length - 1])")
            browser.save_screenshot(str(screenshots() / "slide-02_giant_step.png"))
    assert not failures, json.dumps(failures, indent=1)
