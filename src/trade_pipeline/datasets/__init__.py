"""Kedro datasets for the project's safe formats (see ``trade_pipeline.serialization``)."""
from trade_pipeline.datasets.local_files import ArrayDictDataset, SafeModelDataset, SplitDataset
from trade_pipeline.datasets.model_folders import SafeModelFolderDataset, StudentExportsDataset

__all__ = ["ArrayDictDataset", "SafeModelDataset", "SafeModelFolderDataset", "SplitDataset", "StudentExportsDataset"]
