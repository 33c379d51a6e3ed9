"""The claims ledger: verdicts of every relation, JSON round trip, stable table, bad input."""

import json
import math

import numpy as np
import pytest

from theory import config
from theory.claims import Ledger, format_value, load_claims


@pytest.mark.parametrize("measured, expected, kwargs, verdict", [
    (1.05, 1.0, dict(rtol=0.1), True),
    (1.2, 1.0, dict(rtol=0.1), False),
    (1e-3, 0.0, dict(atol=1e-2), True),
    (2e-2, 0.0, dict(atol=1e-2), False),
    (1.0 + 1e-3, 1.0, dict(rtol=5e-4, atol=6e-4), True),   # atol + rtol*|expected|
    (np.float64(2.0), 2, dict(rtol=0), True),
])
def test_close(measured, expected, kwargs, verdict):
    ledger = Ledger("P")
    assert ledger.check("c", "s", measured, expected, relation="close", source="derived here",
                        **kwargs) is verdict
    assert ledger.claims[0].passed is verdict


@pytest.mark.parametrize("relation, measured, expected, verdict", [
    ("le", 1.0, 2.0, True), ("le", 2.0, 2.0, True), ("le", 3.0, 2.0, False),
    ("ge", 3.0, 2.0, True), ("ge", 2.0, 2.0, True), ("ge", 1.0, 2.0, False),
    ("true", True, True, True), ("true", False, True, False), ("true", np.bool_(True), True, True),
])
def test_inequalities_and_booleans(relation, measured, expected, verdict):
    ledger = Ledger("P")
    assert ledger.check("c", "s", measured, expected, relation=relation, source="x") is verdict


@pytest.mark.parametrize("relation, kwargs", [("close", dict(rtol=1.0)), ("le", {}), ("ge", {})])
def test_non_finite_measurement_never_passes(relation, kwargs):
    ledger = Ledger("P")
    for value in (math.nan, math.inf, -math.inf):
        bound = 0.0 if relation != "ge" else -1e300
        assert not ledger.check(f"c{value}{relation}", "s", value, bound,
                                relation=relation, source="x", **kwargs)
    assert all(c.measured is None for c in ledger.claims)


def test_json_round_trip(tmp_path):
    ledger = Ledger("Paper A")
    ledger.check("C1", "one", 1.0, 1.0, rtol=1e-3, source="abstract")
    ledger.check("C2", "two", 5.0, 4.0, relation="le", source="derived here")
    ledger.check("C3", "three", math.nan, 0.0, atol=1.0, source="derived here")
    path = ledger.to_json(tmp_path / "sub" / "ledger.json")
    data = json.loads(path.read_text())
    assert data["paper"] == "Paper A"
    first = data["claims"][0]
    for key in ("paper", "id", "statement", "source", "measured", "expected", "relation",
                "rtol", "atol", "passed"):
        assert key in first
    assert isinstance(first["measured"], float) and isinstance(first["expected"], float)
    assert data["claims"][2]["measured"] is None          # NaN is stored as null, never a string
    paper, claims = load_claims(path)
    assert paper == "Paper A" and claims == ledger.claims


def test_publish_writes_into_the_claims_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("THEORY_BUILD_DIR", str(tmp_path))
    ledger = Ledger("P")
    ledger.check("C1", "s", 1.0, 1.0, rtol=0.1, source="x")
    path = ledger.publish("07_example")
    assert path == config.claims_dir() / "07_example.json" and path.exists()
    with pytest.raises(ValueError, match="notebook"):
        ledger.publish("../escape")
    with pytest.raises(ValueError, match="notebook"):
        ledger.publish()                                   # no name given anywhere


def test_a_ledger_named_once_publishes_under_its_name(tmp_path, monkeypatch):
    monkeypatch.setenv("THEORY_BUILD_DIR", str(tmp_path))
    ledger = Ledger("P", seed=3, notebook="07_example")
    ledger.check("C1", "s", 1.0, 1.0, rtol=0.1, source="x")
    assert ledger.notebook == "07_example"
    assert ledger.publish() == config.claims_dir() / "07_example.json"
    with pytest.raises(ValueError, match="notebook"):
        Ledger("P", notebook="a/b")


def test_table_is_stable_and_fixed_precision():
    ledger = Ledger("Toy paper")
    ledger.check("C1", "the ratio halves when the step halves", 2.00471234, 2.0, rtol=0.1,
                 source="derived here", kind="evidence", alternative="a ratio of 1")
    ledger.check("C2", "residual at round-off", 3.3e-16, 1e-10, relation="le",
                 source="derived here", noise_floor=1e-12, kind="consistency")
    ledger.check("C3", "a boolean outcome", False, True, relation="true", source="abstract",
                 kind="evidence", alternative="False", discrepancy="it is False here")
    expected = "\n".join([
        "Toy paper: 1/2 evidence claims reproduced, 1 not reproduced (documented); "
        "1/1 consistency checks pass",
        "id  kind  statement                              measured  rel  expected  tolerance"
        "  verdict",
        "--  ----  -------------------------------------  --------  ---  --------  ---------"
        "  --------------",
        "C1  E     the ratio halves when the step halves  2         ~=   2         rtol=0.1"
        "   PASS",
        "C2  C     residual at round-off                  <1e-12    <=   1e-10     -"
        "          PASS",
        "C3  E     a boolean outcome                      False     is   True      -"
        "          NOT REPRODUCED",
        "",
        "Not reproduced (documented discrepancies):",
        "  C3: it is False here",
    ])
    assert ledger.table() == expected


def test_format_value():
    assert format_value(2.00471234, 4) == "2.005"
    assert format_value(-0.0) == "0"
    assert format_value(None) == "nan"
    assert format_value(5e-13, 3, 1e-12) == "<1e-12"
    assert format_value(True) == "True"


def test_assert_all_lists_every_failure():
    ledger = Ledger("P")
    ledger.check("A", "fine", 1.0, 1.0, rtol=0.1, source="x")
    ledger.check("B", "too big", 3.0, 1.0, relation="le", source="x")
    ledger.check("C", "too far", 3.0, 1.0, rtol=0.1, source="x")
    with pytest.raises(AssertionError) as info:
        ledger.assert_all()
    text = str(info.value)
    assert "2 of 3 claims failed" in text and "B: too big" in text and "C: too far" in text
    assert "A:" not in text
    with pytest.raises(AssertionError, match="no claims"):
        Ledger("Q").assert_all()
    ok = Ledger("R")
    ok.check("A", "fine", 1.0, 1.0, rtol=0.1, source="x")
    ok.assert_all()


@pytest.mark.parametrize("kwargs, name", [
    (dict(id=""), "id"),
    (dict(statement=" "), "statement"),
    (dict(relation="approx"), "relation"),
    (dict(source=""), "source"),
    (dict(rtol=None, atol=None), "rtol"),
    (dict(rtol=-1.0), "rtol"),
    (dict(atol=math.nan), "atol"),
    (dict(relation="le", rtol=0.1), "rtol"),
    (dict(measured="1.0"), "measured"),
    (dict(measured=np.ones(3)), "measured"),
    (dict(expected=math.inf), "expected"),
    (dict(relation="true", measured=0.5, expected=True, rtol=None), "measured"),
    (dict(relation="true", measured=True, expected=1.0, rtol=None), "expected"),
    (dict(digits=0), "digits"),
    (dict(noise_floor=-1.0), "noise_floor"),
    (dict(kind="proof"), "kind"),
    (dict(kind="evidence"), "alternative"),
    (dict(kind="evidence", alternative=" "), "alternative"),
    (dict(kind="consistency", discrepancy="x"), "discrepancy"),
    (dict(kind="evidence", alternative="y", discrepancy=""), "discrepancy"),
])
def test_bad_input_raises_value_error_naming_the_argument(kwargs, name):
    args = dict(id="c", statement="s", measured=1.0, expected=1.0, rtol=0.1, source="x")
    args.update(kwargs)
    ledger = Ledger("P")
    with pytest.raises(ValueError, match=name):
        ledger.check(args.pop("id"), args.pop("statement"), args.pop("measured"),
                     args.pop("expected"), **args)


def test_duplicate_ids_and_bad_paper_are_rejected():
    ledger = Ledger("P")
    ledger.check("c", "s", 1.0, 1.0, rtol=0.1, source="x")
    with pytest.raises(ValueError, match="id"):
        ledger.check("c", "s", 1.0, 1.0, rtol=0.1, source="x")
    with pytest.raises(ValueError, match="paper"):
        Ledger("")


def test_json_is_written_atomically(tmp_path):
    """A write that fails half-way leaves the previous file intact and no temporary file."""
    from theory.claims import write_json_atomic

    path = tmp_path / "claims.json"
    write_json_atomic(path, {"ok": 1})
    with pytest.raises(ValueError):
        write_json_atomic(path, {"ok": 2, "bad": float("nan")})   # fails inside json.dump
    assert json.loads(path.read_text()) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["claims.json"]


def test_documented_discrepancy_is_not_a_pass_and_not_an_error(tmp_path):
    ledger = Ledger("P")
    ledger.check("A", "holds", 1.0, 1.0, rtol=0.1, source="x", kind="evidence",
                 alternative="2.0")
    assert not ledger.check("B", "paper says <= 1", 3.0, 1.0, relation="le", source="paper",
                            kind="evidence", alternative="3", discrepancy="3 in our runs")
    ledger.check("C", "identity", 0.0, 1e-12, relation="le", source="x", kind="consistency")
    ledger.assert_all()                         # a documented discrepancy does not raise
    assert [c.verdict for c in ledger.claims] == ["PASS", "NOT REPRODUCED", "PASS"]
    assert ledger.failed == [] and [c.id for c in ledger.not_reproduced] == ["B"]
    from theory.claims import summary_counts
    counts = summary_counts(ledger.claims)
    assert (counts["evidence"], counts["reproduced"], counts["not_reproduced"],
            counts["consistency"]) == (2, 1, 1, 1)
    _, loaded = load_claims(ledger.to_json(tmp_path / "l.json"))
    assert loaded == ledger.claims and loaded[1].verdict == "NOT REPRODUCED"
    # the same failure without a discrepancy is an error
    ledger.check("D", "paper says <= 1", 3.0, 1.0, relation="le", source="paper",
                 kind="evidence", alternative="3")
    with pytest.raises(AssertionError, match="D: paper says"):
        ledger.assert_all()
