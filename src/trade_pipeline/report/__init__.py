"""The run report: one self-contained HTML page and its markdown twin, built from the datasets
the pipelines saved (no Kedro imports, so a notebook can build the same tables and figures)."""

OPTIONAL_INPUTS = ("retrain_report", "transfer_report")
"""Inputs the report can go without: a stage that never ran is reported as not run. The
run-start check (``hooks.check_inputs_saved``) hands the node None for them instead of refusing."""
