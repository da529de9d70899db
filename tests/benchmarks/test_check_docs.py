"""benchmarks/check_docs.py: a number in a docs table that cites a record must be in the record."""
from __future__ import annotations

from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def check_docs(benchmark_module):
    return benchmark_module("check_docs")


def test_a_number_its_record_holds_passes_and_one_it_does_not_is_named(check_docs, tmp_path, monkeypatch):
    monkeypatch.setattr(check_docs, "ROOT", tmp_path)  # a record of its own, not one a benchmark rewrites
    figures = tmp_path / "docs" / "figures"
    figures.mkdir(parents=True)
    (figures / "trial.md").write_text("| method | best |\n| composite | -0.316 [-0.405, -0.253] |\n")

    def doc(cell: str) -> Path:
        path = tmp_path / "doc.md"
        path.write_text(f"Record: `docs/figures/trial.md`.\n\n| method | best |\n|---|---|\n| composite | {cell} |\n")
        return path

    assert check_docs.check([doc("-0.316 [-0.405, -0.253]")]) == ([], [])
    missing, _ = check_docs.check([doc("-0.316 [-0.777, -0.253]")])
    assert len(missing) == 1 and "-0.777 not in docs/figures/trial.md" in missing[0]


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
