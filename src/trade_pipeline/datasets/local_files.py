"""Versioned local-file datasets whose load never unpickles and whose save is atomic."""
from __future__ import annotations

import glob
import os
from pathlib import Path, PurePosixPath
from typing import Any, Callable

from kedro.io.core import AbstractVersionedDataset, Version, VersionNotFoundError

from trade_pipeline import serialization


class _LocalVersionedDataset(AbstractVersionedDataset[Any, Any]):
    """Common plumbing: a versioned file on the local disk, read and written by two functions."""

    _save_fn: Callable[[Path, Any], None]
    _load_fn: Callable[[Path], Any]

    def __init__(self, *, filepath: str, version: Version | None = None, metadata: dict | None = None) -> None:
        self.metadata = metadata
        super().__init__(
            filepath=PurePosixPath(Path(filepath).as_posix()),
            version=version,
            exists_function=os.path.exists,
            glob_function=glob.glob,
        )

    def load(self) -> Any:
        return type(self)._load_fn(Path(self._get_load_path()))

    def save(self, data: Any) -> None:
        type(self)._save_fn(Path(self._get_save_path()), data)

    def _exists(self) -> bool:
        try:
            return Path(self._get_load_path()).exists()
        except VersionNotFoundError:  # no version saved yet; any other error is a real problem
            return False

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "version": self._version}


class ArrayDictDataset(_LocalVersionedDataset):
    """A dict of numpy arrays and JSON values as one ``.npz`` file (e.g. ``split``, ``teacher_logits``)."""

    _save_fn = staticmethod(serialization.save_array_dict)
    _load_fn = staticmethod(serialization.load_array_dict)


def _save_split(path: Path, split: Any) -> None:
    serialization.save_array_dict(path, split.to_dict())


def _load_split(path: Path) -> Any:
    from trade_pipeline.data.split import Split

    return Split.from_dict(serialization.load_array_dict(path))


class SplitDataset(_LocalVersionedDataset):
    """A ``Split`` as one ``.npz`` file: index arrays plus JSON metadata."""

    _save_fn = staticmethod(_save_split)
    _load_fn = staticmethod(_load_split)


class SafeModelDataset(_LocalVersionedDataset):
    """A ``ModelArtifact`` as safetensors weights with its JSON model spec in the header."""

    _save_fn = staticmethod(serialization.save_model_artifact)
    _load_fn = staticmethod(serialization.load_model_artifact)
