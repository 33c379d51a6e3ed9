"""Notebook hygiene: jupytext pairs in sync, committed outputs clean, conventions followed."""

import re
from pathlib import Path

import jupytext
import nbformat
import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_there_are_notebooks():
    assert any(p.name == "00_overview.ipynb" for p in NOTEBOOKS)


def test_every_jupytext_source_has_its_notebook():
    sources = {p.stem for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.py")}
    assert sources == {p.stem for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
class TestNotebook:
    def test_pair_is_in_sync(self, path):
        py = path.with_suffix(".py")
        assert py.exists(), f"{path.name} has no paired py:percent file"
        ipynb = nbformat.read(path, as_version=4)
        text = jupytext.read(py)
        pairs = [(c.cell_type, c.source.strip()) for c in ipynb.cells]
        assert pairs == [(c.cell_type, c.source.strip()) for c in text.cells], (
            f"{path.name} and {py.name} differ: run `make refresh NB={path.stem}`")
        assert ipynb.metadata.get("jupytext", {}).get("formats") == "ipynb,py:percent"

    def test_no_widget_state(self, path):
        """Widget state carries random ids: it would change the file on every refresh."""
        nb = nbformat.read(path, as_version=4)
        assert "widgets" not in nb.metadata
        for cell in code_cells(nb):
            for output in cell.get("outputs", []):
                assert "application/vnd.jupyter.widget-view+json" not in output.get("data", {})

    def test_kernelspec_is_python3(self, path):
        nb = nbformat.read(path, as_version=4)
        assert nb.metadata["kernelspec"]["name"] == "python3"

    def test_outputs_are_committed_without_errors(self, path):
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(code_cells(nb)):
            if cell.source.strip():
                assert cell.execution_count is not None, f"code cell {i} was not executed"
            for output in cell.get("outputs", []):
                assert output.output_type != "error", f"code cell {i} holds an error output"
            assert "execution" not in cell.metadata, (
                f"code cell {i} carries timing metadata: regenerate with `make refresh`")
        counts = [c.execution_count for c in code_cells(nb) if c.source.strip()]
        assert counts == sorted(counts), "cells were executed out of order"

    def test_conventions(self, path):
        nb = nbformat.read(path, as_version=4)
        cells = code_cells(nb)
        assert any("parameters" in c.metadata.get("tags", []) for c in cells), \
            "no cell tagged 'parameters'"
        claims_cells = [c for c in cells if c.source.lstrip().startswith("# NBVAL_CHECK_OUTPUT")]
        assert claims_cells and "ledger.table()" in claims_cells[-1].source
        assert "ledger.assert_all()" in cells[-1].source
        assert "ledger.publish()" in cells[-1].source
        opening = "".join(c.source for c in cells[:3])
        assert "default_rng(SEED)" in opening
        # the notebook's name is written once, in its ledger (publish and figures use it)
        assert re.search(r"Ledger\(.*?seed=SEED,\s*notebook=\"" + re.escape(path.stem)
                         + r"\"\)", opening, re.S), \
            f"the ledger must record the seed and the name: Ledger(..., seed=SEED, " \
            f"notebook={path.stem!r})"
        assert "".join(c.source for c in cells).count(f'"{path.stem}"') == 1, \
            "the notebook's name must be written once (in its Ledger)"
