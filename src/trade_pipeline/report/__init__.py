"""The run report: one self-contained HTML page and its markdown twin, built from the datasets
the pipelines saved (no Kedro imports, so a notebook can build the same tables and figures)."""
