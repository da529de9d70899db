"""docs/parameters.md states exactly what the parameter models say."""
from trade_pipeline.parameters_doc import DOC, reference


def test_the_parameter_reference_matches_the_models():
    assert DOC.read_text(encoding="utf-8") == reference(), (
        "docs/parameters.md is stale: run `python -m trade_pipeline.parameters_doc`")
