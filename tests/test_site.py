"""The readers' book in a real browser: headless Chromium renders the index and a notebook.

The site is built from a `theory verify` run of the overview notebook (the same path as
`make verify && make site`). Chromium dumps the DOM after MathJax has run; the test checks
that every claim of the notebook appears with its verdict and that no raw `$...$` is left in
the visible text. Skipped when Chromium is missing, except under CI, where it must be there.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser

import pytest

from theory import book, config

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                                reason="Chromium is not installed (Debian package chromium)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium(tmp_path, *args):
    assert CHROMIUM is not None, "Chromium must be installed for the browser test under CI"
    profile = tmp_path / f"profile{len(list(tmp_path.glob('profile*')))}"
    result = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


class VisibleText(HTMLParser):
    """Text a reader sees, outside scripts, styles and code blocks."""

    SKIP = {"script", "style", "pre", "code", "textarea", "title"}

    def __init__(self):
        super().__init__()
        self.depth = 0
        self.parts = []

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.depth += 1

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if not self.depth:
            self.parts.append(data)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    build = tmp_path_factory.mktemp("build")
    result = subprocess.run([sys.executable, "-m", "theory", "verify", "--only", "00_overview",
                             "--out", str(build)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    index = book.build_site(build)
    return build, index


def test_index_lists_each_notebook_with_its_counts(site, tmp_path):
    build, index = site
    dom = chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", index.as_uri())
    report = json.loads((build / "claims.json").read_text())
    for entry in report["notebooks"]:
        row = re.search(rf"<tr><td><a href=\"{entry['name']}.html\">.*?</tr>", dom, re.S)
        assert row, f"no row for {entry['name']}"
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(0), re.S)
        assert cells[2:4] == [str(entry["claims"]), str(entry["passed"])]
    screenshot = config.build_dir() / "site-index.png"
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    chromium(tmp_path, "--window-size=1200,800", f"--screenshot={screenshot}", index.as_uri())
    assert screenshot.stat().st_size > 1000


def test_notebook_page_shows_every_claim_and_rendered_math(site, tmp_path):
    build, index = site
    page = index.parent / "00_overview.html"
    dom = chromium(tmp_path, "--virtual-time-budget=20000", "--dump-dom", page.as_uri())
    _, claims = __import__("theory.claims", fromlist=["load_claims"]).load_claims(
        build / "claims" / "00_overview.json")
    assert claims
    lines = [re.sub(r"<[^>]+>", "", line) for line in dom.splitlines()]
    for claim in claims:
        verdict = "PASS" if claim.passed else "FAIL"
        assert any(line.split()[:1] == [claim.id] and line.rstrip().endswith(verdict)
                   for line in lines), f"claim {claim.id} with verdict {verdict} not shown"
    assert dom.count('class="MathJax"') + dom.count('class="MathJax_Display"') > 5, \
        "MathJax did not typeset the equations"
    parser = VisibleText()
    parser.feed(dom)
    visible = "".join(parser.parts)
    leftovers = re.findall(r"\$[^$\n]{1,80}\$", visible)
    assert not leftovers, f"raw TeX left in the page: {leftovers[:3]}"
