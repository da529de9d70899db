"""Safe, atomic file formats: array dicts as ``.npz`` and models as safetensors.

Nothing here unpickles: arrays load with ``allow_pickle=False``, models are a JSON model spec
in the safetensors header plus weights, and foreign checkpoints load through
``torch.load(weights_only=True)``. Every write goes to a temp file that is renamed into
place, so a crash never leaves a half-written artefact where a good one was.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from trade_pipeline.errors import InputError

META_KEY = "__meta__"
_UMASK = os.umask(0)
os.umask(_UMASK)


class UnsafeFileError(InputError):
    """A model or checkpoint file that could only be read by unpickling arbitrary code."""


class CorruptFileError(InputError):
    """A file that exists but cannot be read: truncated, overwritten, or not the format it claims."""


@contextlib.contextmanager
def reading(path: str | os.PathLike, remedy: str) -> Iterator[None]:
    """Turns any failure to parse ``path`` into a CorruptFileError naming the file and ``remedy``."""
    try:
        yield
    except (InputError, FileNotFoundError):
        raise
    except Exception as error:  # numpy, zipfile, safetensors and torch raise many types for broken files
        raise CorruptFileError(
            f"'{path}' is truncated or corrupt ({type(error).__name__}: {str(error)[:200]}); {remedy}"
        ) from None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a temp path next to ``path``; renames it over ``path`` only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    try:
        yield Path(temp)
        os.chmod(temp, 0o666 & ~_UMASK)  # mkstemp makes owner-only files; artefacts are shared
        os.replace(temp, target)
    finally:
        if os.path.exists(temp):
            os.remove(temp)


def set_aside(folder: Path) -> Path:
    """Moves ``folder`` to a timestamped sibling, so starting afresh never deletes earlier work."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    target = folder.with_name(f"{folder.name}-before-{stamp}")
    shutil.move(str(folder), str(target))
    return target


def fingerprint(value: Any, length: int = 16) -> str:
    """The first ``length`` hex digits of the sha256 of ``value``'s JSON with sorted keys: the
    identity a checkpoint or a saved search must match to be resumed."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:length]


def save_json(path: str | os.PathLike, data: Any, default: Any = None) -> None:
    """Writes ``data`` as JSON atomically and durably (fsync before the rename)."""
    with atomic_path(path) as temp:
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, default=default)
            handle.flush()
            os.fsync(handle.fileno())


def save_array_dict(path: str | os.PathLike, data: dict[str, Any]) -> None:
    """Saves a (nested) dict: numpy arrays as ``.npz`` members, everything else as JSON metadata."""
    arrays: dict[str, np.ndarray] = {}
    meta = _split_arrays(data, arrays, prefix="")
    arrays[META_KEY] = np.array(json.dumps(meta))
    with atomic_path(path) as temp:
        with open(temp, "wb") as handle:
            np.savez(handle, **arrays)


def load_array_dict(path: str | os.PathLike) -> dict[str, Any]:
    with reading(path, "rerun the pipeline that writes it"), np.load(path, allow_pickle=False) as archive:
        meta = json.loads(str(archive[META_KEY]))
        arrays = {name: archive[name] for name in archive.files if name != META_KEY}
    return _join_arrays(meta, arrays)


def save_tensor_state(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Saves a nested dict of tensors and JSON values (a training checkpoint) as one safetensors
    file: tensors as its members, the rest as JSON in its header. Atomic, never pickled."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    meta = _split_arrays(state, tensors, prefix="", array_type=torch.Tensor)
    with atomic_path(path) as temp:
        save_file({name: tensor.detach().contiguous() for name, tensor in tensors.items()}, str(temp),
                  metadata={META_KEY: json.dumps(meta)})


def load_tensor_state(path: str | os.PathLike) -> dict[str, Any]:
    """Inverse of ``save_tensor_state`` (tensors on the CPU)."""
    from safetensors import safe_open

    with reading(path, "delete it to start that training from scratch"):
        with safe_open(str(path), framework="pt") as handle:
            meta = json.loads((handle.metadata() or {})[META_KEY])
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    return _join_arrays(meta, tensors)


def _split_arrays(data: dict[str, Any], arrays: dict[str, Any], prefix: str, array_type: type = np.ndarray
                  ) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for key, value in data.items():
        key = str(key)
        if "/" in key:
            raise ValueError(f"key '{key}' may not contain '/'")
        name = f"{prefix}{key}"
        if isinstance(value, array_type):
            arrays[name] = value
            meta[key] = {"__array__": name}
        elif isinstance(value, dict):
            meta[key] = _split_arrays(value, arrays, prefix=f"{name}/", array_type=array_type)
        else:
            meta[key] = value
    return meta


def _join_arrays(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in meta.items():
        if isinstance(value, dict) and set(value) == {"__array__"}:
            out[key] = arrays[value["__array__"]]
        elif isinstance(value, dict):
            out[key] = _join_arrays(value, arrays)
        else:
            out[key] = value
    return out


def save_model_artifact(path: str | os.PathLike, artifact: Any) -> None:
    """Writes weights as safetensors with the JSON model spec in the header metadata."""
    from safetensors.torch import save_model

    with atomic_path(path) as temp:
        save_model(artifact.model, str(temp), metadata={"model_spec": json.dumps(artifact.model_spec, sort_keys=True)})


def load_model_artifact(path: str | os.PathLike, device: str = "cpu") -> Any:
    """Rebuilds the model from its spec and loads the weights; refuses anything but safetensors."""
    from safetensors import safe_open
    from safetensors.torch import load_model

    from trade_pipeline.models import ModelArtifact, build_model

    _require_safetensors(path)
    with reading(path, "rerun the pipeline that writes it"):
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        if "model_spec" not in metadata:
            raise CorruptFileError(f"'{path}' is a safetensors file without a model spec; it was not written "
                                   "by trade_pipeline")
        model_spec = json.loads(metadata["model_spec"])
        model = build_model(model_spec)
        load_model(model, str(path), strict=True, device=device)
    return ModelArtifact(model_spec=model_spec, model=model)


def load_state_dict_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Reads a checkpoint's tensors: safetensors, or a torch file with ``weights_only=True``."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"checkpoint '{file}' does not exist")
    remedy = "save it again, or point at another checkpoint"
    if _is_safetensors(file):
        from safetensors.torch import load_file

        with reading(file, remedy):
            return load_file(str(file))
    if file.suffix == ".safetensors":  # named so, but a pickle inside
        _require_safetensors(file)
    with reading(file, remedy):
        try:
            state = torch.load(file, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:  # the weights-only unpickler met code, not a broken archive
            raise UnsafeFileError(
                f"'{file}' cannot be loaded without unpickling code; it is refused. Save a plain state_dict "
                "(torch.save(model.state_dict(), ...)) or a safetensors file instead."
            ) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UnsafeFileError(f"'{file}' does not hold a state_dict of tensors")
    return state


def _require_safetensors(path: str | os.PathLike) -> None:
    if not _is_safetensors(Path(path)):
        raise UnsafeFileError(
            f"'{path}' is not a safetensors file (it looks like a pickle or torch.save archive); "
            "model files are never unpickled. Re-export it as safetensors."
        )


def _is_safetensors(path: Path) -> bool:
    """A safetensors file starts with an 8-byte header length followed by a JSON object."""
    with open(path, "rb") as handle:
        head = handle.read(9)
    if len(head) < 9:
        return False
    header_length = int.from_bytes(head[:8], "little")
    return head[8:9] == b"{" and 0 < header_length <= path.stat().st_size
