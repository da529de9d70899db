"""Kedro datasets for the project's safe formats (see ``trade_pipeline.serialization``)."""
from trade_pipeline.datasets.local_files import ArrayDictDataset, SafeModelDataset, SplitDataset

__all__ = ["ArrayDictDataset", "SafeModelDataset", "SplitDataset"]
