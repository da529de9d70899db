"""The transfer: retrained students and baselines fine-tuned on other datasets (paper Table 7)."""
