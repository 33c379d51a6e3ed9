"""Run mode, output folders and the plotting helpers."""

import matplotlib

matplotlib.use("Agg")

import pytest

from theory import config, plotting


def test_quick_unless_full(monkeypatch):
    monkeypatch.delenv("THEORY_FULL", raising=False)
    assert config.mode() == "quick" and config.pick(quick=1, full=2) == 1
    monkeypatch.setenv("THEORY_FULL", "1")
    assert config.mode() == "full" and config.pick(quick=1, full=2) == 2
    monkeypatch.setenv("THEORY_FULL", "yes")
    with pytest.raises(ValueError, match="THEORY_FULL"):
        config.is_full()


def test_build_dirs_follow_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("THEORY_BUILD_DIR", str(tmp_path))
    assert config.claims_dir() == tmp_path / "claims"
    assert config.figures_dir() == tmp_path / "figures"
    monkeypatch.delenv("THEORY_BUILD_DIR")
    assert config.build_dir() == config.repo_root() / "_build"
    assert (config.repo_root() / "theory" / "config.py").exists()


def test_figure_sizes_and_savefig(monkeypatch, tmp_path):
    monkeypatch.setenv("THEORY_BUILD_DIR", str(tmp_path))
    plotting.use_style()
    fig, ax = plotting.figure("wide", ncols=2)
    assert tuple(fig.get_size_inches()) == plotting.FIGSIZE["wide"]
    path = plotting.savefig(fig, "00_overview", "logistic")
    assert path.exists() and path.with_suffix(".svg").exists()
    with pytest.raises(ValueError, match="kind"):
        plotting.figure("poster")
    with pytest.raises(ValueError, match="name"):
        plotting.savefig(fig, "00_overview", "../x")


def test_parts_selects_one_section_or_all():
    names = ("equivalence", "completion", "width")
    assert config.parts("all", names) == frozenset(names)
    for name in names:
        assert config.parts(name, names) == {name}
    # the pieces together cover "all", each exactly once
    pieces = [config.parts(n, names) for n in names]
    assert frozenset().union(*pieces) == config.parts("all", names)
    assert sum(len(p) for p in pieces) == len(names)


@pytest.mark.parametrize("part, names, error, message", [
    ("equivalance", ("equivalence", "width"), ValueError, "'equivalance'"),
    ("ALL", ("equivalence",), ValueError, "PART = 'ALL'"),
    (3, ("equivalence",), TypeError, "PART"),
    ("all", (), TypeError, "names"),
    ("all", "equivalence", TypeError, "names"),
    ("all", ("all", "width"), ValueError, "names"),
])
def test_parts_bad_input_names_it(part, names, error, message):
    with pytest.raises(error, match=message):
        config.parts(part, names)
