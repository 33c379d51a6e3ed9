"""The README claims table agrees with the claims tables of the committed notebooks.

The committed notebooks carry the outputs of a quick-mode run, and nbval holds their claims
cells to a fresh run, so their tables are a checked record; the README section (written by
`python -m theory readme` after `make verify`) must state the same counts.
"""

from pathlib import Path

import pytest

from theory import records

ROOT = Path(__file__).resolve().parent.parent


def test_readme_claims_table_is_up_to_date():
    committed = records.committed_claim_counts(ROOT / "notebooks")
    assert committed, "no committed notebook prints a claims table"
    stated = records.readme_counts(ROOT / "README.md")
    assert stated == committed, ("README claims table is out of date: run `make verify` "
                                 "then `make readme`")


def test_readme_table_round_trip(tmp_path):
    counts = {"evidence": 3, "reproduced": 2, "not_reproduced": 1, "consistency": 1,
              "consistency_pass": 1, "unclassified": 0, "failed": 0, "total": 4}
    report = {"mode": "quick", "notebooks": [
        {"name": "01_x", "paper": "Paper X", "claims": 4, "passed": 3, "seconds": 12.3,
         "counts": counts},
        {"name": "02_y", "paper": None, "claims": 0, "passed": 0, "seconds": 1.0}]}
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n\n{records.README_BEGIN}\nold\n{records.README_END}\n\nrest\n")
    assert records.update_readme(readme, report) is True
    assert records.readme_counts(readme) == {"01_x": (3, 2, 1, 1), "02_y": (0, 0, 0, 0)}
    assert readme.read_text().startswith("intro") and readme.read_text().endswith("rest\n")
    assert records.update_readme(readme, report) is False
    readme.write_text("no markers")
    with pytest.raises(ValueError, match="markers"):
        records.update_readme(readme, report)
