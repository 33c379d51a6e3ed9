"""Dependencies are declared once (pyproject.toml) and mirrored by environment.yml."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def normalise(requirement: str) -> tuple[str, str]:
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*", requirement)
    return match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")


def conda_dependencies() -> set[tuple[str, str]]:
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = lines.index("dependencies:")
    deps = set()
    for line in lines[start + 1:]:
        m = re.fullmatch(r"  - ([^:]+)", line)
        if m:
            deps.add(normalise(m.group(1)))
    return deps - {("python", ">=3.11"), ("pip", "")}


def test_environment_yml_mirrors_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = set(map(normalise, project["dependencies"]))
    for extra in ("test", "nb", "docs", "fast"):
        declared |= set(map(normalise, project["optional-dependencies"][extra]))
    assert conda_dependencies() == declared
    assert project["requires-python"] == ">=3.11"
    assert '- -e ".[test,nb,docs,fast]"' in (ROOT / "environment.yml").read_text()


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / "README.md").read_text()
    assert "make verify" in (ROOT / "README.md").read_text()
    run = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
           if line.strip() and not line.startswith("#")]
    assert run[-1].strip() == "make test"


def test_version_is_exposed():
    import theory
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert theory.__version__ == project["version"]


def test_license_and_citation():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "BSD-3-Clause"
    assert "BSD 3-Clause License" in (ROOT / "LICENSE").read_text()
    citation = (ROOT / "CITATION.cff").read_text()
    assert f"version: {project['version']}" in citation
    for arxiv in ("2306.01154", "2305.18270", "2501.07400", "2405.17501", "2412.05144"):
        assert f"arXiv:{arxiv}" in citation


def test_installed_metadata_and_version_flag():
    import subprocess
    import sys
    from importlib import metadata

    assert metadata.version("theory") == tomllib.loads(
        (ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert metadata.metadata("theory")["License-Expression"] == "BSD-3-Clause"
    out = subprocess.run([sys.executable, "-m", "theory", "--version"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == f"theory {metadata.version('theory')}"


def _copy_for_checks(tmp_path):
    """A copy of the package and its configuration in which a file can be broken safely."""
    import shutil

    shutil.copytree(ROOT / "theory", tmp_path / "theory",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_lint_fails_on_a_lint_error(tmp_path):
    import subprocess
    import sys

    root = _copy_for_checks(tmp_path)
    clean = subprocess.run([sys.executable, "-m", "ruff", "check", "theory"], cwd=root,
                           capture_output=True, text=True, timeout=120)
    assert clean.returncode == 0, clean.stdout
    (root / "theory" / "broken.py").write_text("import os\n\n\ndef f():\n    return undefined\n")
    broken = subprocess.run([sys.executable, "-m", "ruff", "check", "theory"], cwd=root,
                            capture_output=True, text=True, timeout=120)
    assert broken.returncode == 1 and "F401" in broken.stdout and "F821" in broken.stdout


def test_typecheck_fails_on_a_type_error_in_the_public_api(tmp_path):
    import subprocess
    import sys

    root = _copy_for_checks(tmp_path)
    claims = root / "theory" / "claims.py"
    claims.write_text(claims.read_text() + "\n\ndef broken_public(x: int) -> str:\n"
                      "    return x + 1\n")
    result = subprocess.run([sys.executable, "-m", "mypy", "theory/claims.py"], cwd=root,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 1 and "Incompatible return value type" in result.stdout


def test_typecheck_fails_on_an_unannotated_function_in_a_paper_module(tmp_path):
    import subprocess
    import sys

    root = _copy_for_checks(tmp_path)
    module = root / "theory" / "relu_flow.py"
    module.write_text(module.read_text() + "\n\ndef unannotated_public(x):\n    return x\n")
    result = subprocess.run([sys.executable, "-m", "mypy", "theory/relu_flow.py"], cwd=root,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 1 and "missing a type annotation" in result.stdout
