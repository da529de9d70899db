"""benchmarks/check_docs.py: a number in a docs table that cites a record must be in the record."""
from __future__ import annotations

from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def check_docs(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import check_docs

    return check_docs


def _doc(tmp_path: Path, cell: str) -> Path:
    path = tmp_path / "doc.md"
    path.write_text("Record: `docs/figures/compare_proxy_strict_50.md`.\n\n| method | best |\n|---|---|\n"
                    f"| composite | {cell} |\n")
    return path


def test_a_number_its_record_holds_passes_and_one_it_does_not_is_named(check_docs, tmp_path):
    assert check_docs.check([_doc(tmp_path, "-0.3 [-0.377, -0.266]")]) == ([], [])
    missing, _ = check_docs.check([_doc(tmp_path, "-0.3 [-0.777, -0.266]")])
    assert len(missing) == 1 and "-0.777 not in docs/figures/compare_proxy_strict_50.md" in missing[0]


def test_a_percentage_may_be_a_fraction_in_the_record_and_counts_of_runs_are_not_checked(check_docs, tmp_path):
    path = tmp_path / "doc.md"
    path.write_text("Record: `docs/figures/latency_stability.json`.\n\n| statistic | within ±10 % |\n|---|---|\n"
                    "| paired, 6 students x 7 profiles | 100 % (worst 5.2 %) |\n")
    assert check_docs.check([path]) == ([], [])


def test_every_table_in_the_docs_matches_the_records_it_cites(check_docs):
    root = BENCHMARKS.parent
    paths = [root / "README.md", *(p for p in sorted((root / "docs").glob("*.md")) if p.name != "parameters.md")]
    missing, _ = check_docs.check(paths)
    assert missing == []
