"""Merging a notebook's full-mode pieces into the paper-scale record (theory/full_record.py)."""

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import full_record as rec
from theory.claims import summary_counts


def claim(cid, measured=1.0, passed=True, **extra):
    return {"paper": "Toy", "id": cid, "statement": f"[ours] claim {cid}", "source": "here",
            "measured": measured, "expected": 2.0, "relation": "le", "rtol": None,
            "atol": None, "passed": passed, "digits": 3, "noise_floor": None,
            "kind": "evidence", "alternative": "a different model", "discrepancy": None,
            **extra}


def run(part, claims, status="ok", seconds=10.0, threads="1", mode="full", error=None):
    return {"notebook": "01_toy", "params": {"PART": part}, "k": 0, "seed": 7, "status": status,
            "error": error, "seconds": seconds, "paper": "Toy", "claims": claims,
            "provenance": {"mode": mode, "git_commit": "abc",
                           "kernel_env": {"OPENBLAS_NUM_THREADS": threads}}}


RECORD = {"mode": "full", "provenance": {"mode": "full"},
          "notebooks": [{"name": "00_a", "claims": 1}, {"name": "02_b", "claims": 1}],
          "claims": [{**claim("A1"), "notebook": "00_a"}, {**claim("B1"), "notebook": "02_b"}],
          "sources": [{"notebooks": ["00_a", "02_b"], "provenance": {"git_commit": "old"}}]}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sets(st.sampled_from(["S1", "S2", "S3", "X", "Y", "Z"])), min_size=1,
                max_size=4))
def test_merge_is_the_union_of_the_pieces(ids_per_piece):
    """Every claim of every piece appears once, in order of first appearance; shared claims
    are equal, so the merge does not depend on which piece recorded them first."""
    runs = [run(f"p{i}", [claim(c, measured=float(ord(c[0]))) for c in sorted(ids)],
                seconds=1.5 * (i + 1)) for i, ids in enumerate(ids_per_piece)]
    entry, claims = rec.merge_pieces(runs)
    expected = []
    for ids in ids_per_piece:
        expected += [c for c in sorted(ids) if c not in expected]
    assert [c["id"] for c in claims] == expected
    assert all(c["notebook"] == "01_toy" for c in claims)
    assert entry["claims"] == len(expected) and entry["passed"] == len(expected)
    assert entry["counts"] == summary_counts(claims)
    assert entry["seconds"] == pytest.approx(sum(1.5 * (i + 1) for i in range(len(runs))))
    assert [p["params"]["PART"] for p in entry["pieces"]] == [f"p{i}" for i in range(len(runs))]
    reversed_claims = rec.merge_pieces(runs[::-1])[1]
    assert sorted(c["id"] for c in reversed_claims) == sorted(expected)
    assert {c["id"]: c for c in reversed_claims} == {c["id"]: c for c in claims}


def test_a_claim_that_differs_between_pieces_raises_naming_it():
    shared = claim("S1", measured=0.123)
    with pytest.raises(ValueError, match=r"claim S1 of 01_toy .*PART=eq.*PART=mc.*measured"):
        rec.merge_pieces([run("eq", [shared, claim("C3")]),
                          run("mc", [claim("S1", measured=0.124), claim("C8")])])
    with pytest.raises(ValueError, match=r"claim S1 .*passed"):
        rec.merge_pieces([run("eq", [shared]), run("mc", [claim("S1", measured=0.123,
                                                                passed=False)])])
    with pytest.raises(ValueError, match=r"claim S1 .*statement"):
        rec.merge_pieces([run("eq", [shared]),
                          run("mc", [{**shared, "statement": "[ours] other"}])])
    # equal as printed (3 significant digits): round-off below the printed precision is one claim
    entry, claims = rec.merge_pieces([run("eq", [shared]),
                                      run("mc", [claim("S1", measured=0.1230000001)])])
    assert len(claims) == 1 and claims[0]["measured"] == 0.123


def test_failed_pieces_and_claims_are_shown():
    entry, claims = rec.merge_pieces([
        run("eq", [claim("S1"), claim("C3", measured=5.0, passed=False)], status="error",
            error="cell In[40] raised AssertionError: 1 of 2 claims failed\nTraceback"),
        run("mc", [claim("S1")]), run("w", [], status="timeout", error="CellTimeoutError")])
    assert entry["passed"] == 1 and entry["counts"]["failed"] == 1
    assert "PART=eq: error: cell In[40] raised AssertionError" in entry["error"]
    assert "PART=w: timeout" in entry["error"] and "Traceback" not in entry["error"]


def test_merge_into_keeps_the_other_notebooks_and_records_every_piece():
    runs = [run("eq", [claim("S1"), claim("C3")], threads="2"),
            run("mc", [claim("S1"), claim("C8")])]
    out = rec.merge_into(RECORD, runs)
    assert [nb["name"] for nb in out["notebooks"]] == ["00_a", "01_toy", "02_b"]
    assert [(c["notebook"], c["id"]) for c in out["claims"]] == [
        ("00_a", "A1"), ("01_toy", "S1"), ("01_toy", "C3"), ("01_toy", "C8"), ("02_b", "B1")]
    assert out["sources"][0] == RECORD["sources"][0]
    pieces = out["sources"][-1]["pieces"]
    assert out["sources"][-1]["notebooks"] == ["01_toy"]
    assert [p["params"] for p in pieces] == [{"PART": "eq"}, {"PART": "mc"}]
    assert all(p["provenance"]["git_commit"] == "abc" for p in pieces)
    assert [p["threads"] for p in out["notebooks"][1]["pieces"]] == [2, 1]
    assert RECORD["notebooks"][0] == {"name": "00_a", "claims": 1}      # input untouched
    # merging again replaces the notebook, it does not duplicate it
    again = rec.merge_into(out, runs[:1])
    assert [c["id"] for c in again["claims"] if c["notebook"] == "01_toy"] == ["S1", "C3"]
    assert sum(src["notebooks"] == ["01_toy"] for src in again["sources"]) == 1


def test_bad_input_raises_naming_it():
    with pytest.raises(TypeError, match="runs"):
        rec.merge_pieces({"notebook": "x"})
    with pytest.raises(ValueError, match="runs"):
        rec.merge_pieces([])
    with pytest.raises(ValueError, match="lacks"):
        rec.merge_pieces([{"notebook": "x"}])
    with pytest.raises(ValueError, match="one notebook"):
        rec.merge_pieces([run("a", []), {**run("b", []), "notebook": "02_other"}])
    with pytest.raises(ValueError, match="one seed"):
        rec.merge_pieces([run("a", []), {**run("b", []), "seed": 8}])
    with pytest.raises(ValueError, match="PART=a appears twice"):
        rec.merge_pieces([run("a", []), run("a", [])])
    with pytest.raises(ValueError, match="record"):
        rec.merge_into({**RECORD, "mode": "quick"}, [run("a", [])])
    with pytest.raises(ValueError, match="quick mode"):
        rec.merge_into(RECORD, [run("a", [], mode="quick")])
    with pytest.raises(TypeError, match="paths"):
        rec.load_sweep_runs("sweep.json")


def test_record_command_merges_sweeps_and_rejects_conflicts(tmp_path):
    into = tmp_path / "claims.json"
    into.write_text(json.dumps(RECORD))
    for name, runs in (("a", [run("eq", [claim("S1"), claim("C3")], threads="2")]),
                       ("b", [run("mc", [claim("S1"), claim("C8")])]),
                       ("bad", [run("w", [claim("S1", measured=9.0)])])):
        (tmp_path / name).mkdir()
        (tmp_path / name / "sweep.json").write_text(json.dumps({"mode": "full", "runs": runs}))
    cmd = [sys.executable, "-m", "theory", "record", "--into", str(into)]
    result = subprocess.run(cmd + [str(tmp_path / "a" / "sweep.json"),
                                   str(tmp_path / "b" / "sweep.json")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "01_toy: 3/3 evidence claims reproduced" in result.stdout
    data = json.loads(into.read_text())
    assert [c["id"] for c in data["claims"] if c["notebook"] == "01_toy"] == ["S1", "C3", "C8"]
    before = into.read_text()
    result = subprocess.run(cmd + [str(tmp_path / "a" / "sweep.json"),
                                   str(tmp_path / "bad" / "sweep.json")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "claim S1 of 01_toy differs" in result.stderr
    assert into.read_text() == before          # nothing written on a conflict
