"""Where a teacher's weights come from: the timm hub, a local checkpoint, or training here.

Every teacher is checked against the split (architecture name, checkpoint file, the hub
head's class count) before the first one is built, so a typo in the third teacher does not
surface after the first two have trained. Whatever the source, a teacher ends up as a
``ModelArtifact`` (timm model spec + module), saved as safetensors and never pickled.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import timm
import torch
from torch import nn

from trade_pipeline.config import ConfigError
from trade_pipeline.data.loaders import make_loader
from trade_pipeline.data.split import Split
from trade_pipeline.errors import InputError
from trade_pipeline.models import ModelArtifact, build_model, timm_model_spec
from trade_pipeline.serialization import CorruptFileError, UnsafeFileError, load_state_dict_file
from trade_pipeline.teachers.config import TeacherParams, TeacherPipelineParams
from trade_pipeline.training.engine import RunOptions, train_model

logger = logging.getLogger(__name__)
SHOWN = 5  # mismatching tensors listed in an error


class TeacherError(InputError):
    """A teacher could not be loaded or trained as configured."""


def teacher_model_spec(name: str, teacher: TeacherParams, split: Split) -> dict[str, Any]:
    """The timm model spec of ``teacher`` sized for the split's channels, classes and images."""
    try:
        return timm_model_spec(teacher.model, split.channels, split.num_classes, split.image_size,
                               **teacher.model_kwargs)
    except ValueError as error:
        raise ConfigError(f"teacher.teachers.{name}.model / model_kwargs: {error}") from None


def check_teachers(params: TeacherPipelineParams, split: Split) -> dict[str, dict[str, Any]]:
    """Checks every teacher against the split without building any; returns their model specs."""
    specs = {}
    for name, teacher in params.selected.items():
        specs[name] = teacher_model_spec(name, teacher, split)
        if teacher.source == "timm":
            _check_hub_head(name, teacher.model, split.num_classes)
    return specs


def _check_hub_head(name: str, model: str, num_classes: int) -> None:
    """Hub weights are used as they are, so their classifier must predict the dataset's classes."""
    config = timm.models.get_pretrained_cfg(model)
    hub_classes = getattr(config, "num_classes", None)
    if hub_classes is not None and hub_classes != num_classes:
        raise ConfigError(
            f"teacher.teachers.{name}: timm's pretrained '{model}' predicts {hub_classes} classes but the "
            f"dataset has {num_classes}; use source: train with pretrained: true to fine-tune it on the dataset"
        )


def prepare_teachers(params: TeacherPipelineParams, split: Split) -> dict[str, ModelArtifact]:
    """Loads or trains every configured teacher, in the configured order."""
    specs = check_teachers(params, split)
    teachers = {}
    for name, teacher in params.selected.items():
        logger.info("Teacher '%s': %s (%s)", name, teacher.model, teacher.source)
        teachers[name] = obtain_teacher(name, teacher, specs[name], split, params)
    return teachers


def obtain_teacher(
    name: str,
    teacher: TeacherParams,
    model_spec: dict[str, Any],
    split: Split,
    params: TeacherPipelineParams,
) -> ModelArtifact:
    """One teacher from its source; training runs on ``params.device``."""
    if teacher.source == "checkpoint":
        model = load_checkpoint(name, model_spec, teacher.path)
        return ModelArtifact(model_spec, model.eval())
    if teacher.source == "timm":
        return ModelArtifact(model_spec, create_pretrained(model_spec).eval())
    recipe = teacher.recipe
    torch.manual_seed(recipe.seed)  # the initial weights are part of a reproducible run
    model = create_pretrained(model_spec) if teacher.pretrained else build_model(model_spec)
    result = train_model(
        model,
        make_loader(split, "mini_train", recipe.batch_size, shuffle=True, seed=recipe.seed, augment=recipe.augment,
                    device=params.device, settings=recipe.loader),
        make_loader(split, "mini_val", params.batch_size, device=params.device, settings=recipe.loader),
        recipe,
        device=params.device,
        options=RunOptions(description=f"teacher {name} ", eval_every=0),
    )
    if result.status != "ok":
        raise TeacherError(
            f"teacher '{name}' ({teacher.model}) failed to train: {result.reason}. "
            f"Lower teacher.teachers.{name}.train.lr or raise its warmup_epochs."
        )
    logger.info("Teacher '%s' trained in %.1fs: mini-val top-1 %.2f%%", name, result.seconds, result.top1)
    return ModelArtifact(model_spec, model.cpu().eval())


def create_pretrained(model_spec: Mapping[str, Any]) -> nn.Module:
    """The timm model with hub weights (downloads once into the HF cache on a user's machine)."""
    return build_model(model_spec, pretrained=True)


def load_checkpoint(name: str, model_spec: Mapping[str, Any], path: str) -> nn.Module:
    """The spec's model with a local state_dict (safetensors, or torch ``weights_only``)."""
    try:
        state = load_state_dict_file(path)
    except (UnsafeFileError, CorruptFileError) as error:
        raise type(error)(f"teacher.teachers.{name}.path: {error}") from None
    model = build_model(model_spec)
    _check_state_fits(name, model, state, model_spec, path)
    model.load_state_dict(state)
    return model


def _check_state_fits(
    name: str, model: nn.Module, state: Mapping[str, torch.Tensor], model_spec: Mapping[str, Any], path: str
) -> None:
    """Names the tensors that do not fit, instead of torch's wall of size-mismatch lines."""
    expected = model.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    if missing or unexpected:
        raise TeacherError(
            f"teacher '{name}': checkpoint '{path}' is not a '{model_spec['name']}' state_dict "
            f"(missing {_first(missing)}; unexpected {_first(unexpected)}). Set teacher.teachers.{name}.model "
            "and model_kwargs to the architecture the checkpoint was saved from."
        )
    wrong = [
        f"{key} {list(state[key].shape)} (needs {list(tensor.shape)})"
        for key, tensor in expected.items()
        if state[key].shape != tensor.shape
    ]
    if wrong:
        raise TeacherError(
            f"teacher '{name}': checkpoint '{path}' does not fit the dataset, which needs "
            f"in_chans={model_spec['in_chans']}, num_classes={model_spec['num_classes']}, "
            f"img_size={model_spec['img_size']}; mismatching tensors: {_first(wrong)}. Use a checkpoint trained "
            f"on this dataset, or source: train (with pretrained: true to fine-tune hub weights)."
        )


def _first(items: list[str]) -> str:
    if not items:
        return "none"
    more = f" and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return ", ".join(items[:SHOWN]) + more
