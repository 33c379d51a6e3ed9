"""`python -m theory verify` on tiny synthetic notebooks: table, files and exit status."""

import json
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook


def write_notebook(path, *sources):
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)


LEDGER = "from theory.claims import Ledger\nledger = Ledger('Toy paper', seed=7)\n"


def run_verify(folder, out, *extra):
    return subprocess.run([sys.executable, "-m", "theory", "verify", "--notebooks", str(folder),
                           "--out", str(out), *extra], capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def toy_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("verify")
    mixed = root / "mixed"
    mixed.mkdir()
    write_notebook(mixed / "01_toy.ipynb", LEDGER +
                   "ledger.check('GOOD', 'two plus two', 2 + 2, 4, atol=0, source='derived here',"
                   " kind='evidence', alternative='two plus two is five')\n"
                   "ledger.check('BAD', 'pi is three', 3.14159, 3.0, rtol=1e-3, "
                   "source='derived here', kind='consistency')\n"
                   "ledger.publish('01_toy')")
    write_notebook(mixed / "02_crash.ipynb", "x = 1", "raise RuntimeError('boom')")
    write_notebook(mixed / "03_fine.ipynb", LEDGER +
                   "ledger.check('FINE', 'one', 1.0, 1.0, rtol=1e-9, source='abstract', "
                   "kind='evidence', alternative='zero')\n"
                   "ledger.publish('03_fine')")
    mixed_result = run_verify(mixed, root / "out_mixed", "--jobs", "2")
    only_result = run_verify(mixed, root / "out_only", "--only", "03_fine")
    return root, mixed_result, only_result


def test_failing_claim_and_crash_give_exit_1_and_a_table(toy_runs):
    root, result, _ = toy_runs
    assert result.returncode == 1, result.stderr
    out = result.stdout
    header = next(line for line in out.splitlines() if line.startswith("notebook"))
    assert header.split() == ["notebook", "claim", "kind", "expected", "measured", "verdict",
                              "seconds"]
    good = next(line for line in out.splitlines() if " GOOD " in line).split()
    assert good[:6] == ["01_toy", "GOOD", "evidence", "4", "4", "PASS"]
    bad = next(line for line in out.splitlines() if " BAD " in line).split()
    assert bad[:6] == ["01_toy", "BAD", "consistency", "3", "3.14", "FAIL"]
    assert "ERROR 02_crash: cell 1 raised" in out and "boom" in out
    # the crash did not stop the notebook after it
    assert any(line.split()[:2] == ["03_fine", "FINE"] for line in out.splitlines() if line)
    assert ("2/2 evidence claims reproduced, 0 not reproduced (documented); 0/1 consistency "
            "checks pass; 1 FAILED in 3 notebooks (quick mode); 1 notebook error(s)") in out


def test_claims_json_and_md_are_written(toy_runs):
    root, _, _ = toy_runs
    data = json.loads((root / "out_mixed" / "claims.json").read_text())
    assert data["mode"] == "quick"
    by_id = {c["id"]: c for c in data["claims"]}
    assert by_id["GOOD"]["passed"] is True and by_id["BAD"]["passed"] is False
    assert isinstance(by_id["BAD"]["measured"], float)
    assert by_id["BAD"]["notebook"] == "01_toy" and by_id["BAD"]["paper"] == "Toy paper"
    crash = next(n for n in data["notebooks"] if n["name"] == "02_crash")
    assert "boom" in crash["error"]
    md = (root / "out_mixed" / "claims.md").read_text()
    assert "| 01_toy | BAD | consistency | pi is three |" in md
    assert (root / "out_mixed" / "notebooks" / "01_toy.ipynb").exists()


def test_only_selects_notebooks_and_passing_run_exits_0(toy_runs):
    _, _, result = toy_runs
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1/1 evidence claims reproduced" in result.stdout
    assert "01_toy" not in result.stdout


def test_bad_arguments_exit_2(tmp_path):
    result = run_verify(tmp_path, tmp_path / "out")
    assert result.returncode == 2 and "no notebooks" in result.stderr
    write_notebook(tmp_path / "01_a.ipynb", "pass")
    result = run_verify(tmp_path, tmp_path / "out", "--only", "zzz")
    assert result.returncode == 2 and "matches no notebook" in result.stderr
    result = run_verify(tmp_path, tmp_path / "out", "--jobs", "0")
    assert result.returncode == 2 and "--jobs" in result.stderr


def test_notebook_without_ledger_is_an_error(tmp_path):
    write_notebook(tmp_path / "01_silent.ipynb", "x = 1")
    result = run_verify(tmp_path, tmp_path / "out")
    assert result.returncode == 1
    assert "published no ledger" in result.stdout


def test_claims_json_records_provenance(toy_runs):
    root, _, _ = toy_runs
    prov = json.loads((root / "out_mixed" / "claims.json").read_text())["provenance"]
    assert prov["mode"] == "quick"
    for name in ("numpy", "scipy", "sympy"):
        assert prov["packages"][name]
    assert prov["blas"] and all("threads" in b for b in prov["blas"])


def test_ctrl_c_stops_cleanly_without_half_written_files(tmp_path):
    import os
    import signal
    import time

    write_notebook(tmp_path / "01_slow.ipynb", "import time\ntime.sleep(120)")
    write_notebook(tmp_path / "02_queued.ipynb", "x = 1")
    out = tmp_path / "out"
    # A terminal delivers SIGINT to a process whose disposition is the default; a shell that
    # started this test run in the background (job control off) has it ignored, and a child
    # would inherit that. Restore the default so the test sees what a user's Ctrl-C does.
    proc = subprocess.Popen([sys.executable, "-m", "theory", "verify", "--notebooks",
                             str(tmp_path), "--out", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 60
    while not (out / "claims").parent.exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(4)            # let the kernel start the slow cell
    os.killpg(proc.pid, signal.SIGINT)   # what a terminal's Ctrl-C does
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr
    assert not (out / "claims.json").exists() and not (out / "claims.md").exists()
    assert not list(out.glob(".*tmp*"))


def test_seed_is_recorded_per_notebook(toy_runs):
    root, _, _ = toy_runs
    notebooks = json.loads((root / "out_mixed" / "claims.json").read_text())["notebooks"]
    assert next(n for n in notebooks if n["name"] == "01_toy")["seed"] == 7


def test_site_and_readme_need_a_verify_run(tmp_path):
    for command in ("site", "readme"):
        result = subprocess.run([sys.executable, "-m", "theory", command, "--build",
                                 str(tmp_path)], capture_output=True, text=True, timeout=120)
        assert result.returncode == 2 and "run `make verify` first" in result.stderr


def test_readme_command_rewrites_the_table(toy_runs, tmp_path):
    from theory import records

    root, _, _ = toy_runs
    readme = tmp_path / "README.md"
    readme.write_text(f"{records.README_BEGIN}\n{records.README_END}\n")
    result = subprocess.run([sys.executable, "-m", "theory", "readme", "--build",
                             str(root / "out_mixed"), "--readme", str(readme)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert records.readme_counts(readme) == {"01_toy": (1, 1, 0, 1), "02_crash": (0, 0, 0, 0),
                                          "03_fine": (1, 1, 0, 0)}
