"""The retrain: the selected students and predefined baselines trained for real (paper §4, Table 2)."""
