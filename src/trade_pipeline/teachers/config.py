"""The ``teacher`` parameters (conf/<env>/parameters_teacher.yml), validated before any work.

Several teachers may be configured (Table 4 compares four); each comes from the timm hub, a
local checkpoint or in-project training. ``search_teacher`` names the one whose logits are
cached for the search (paper Table 3 / Fig. 7 use ViT-Large-16).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, Union

from pydantic import Field, ValidationInfo, field_validator, model_validator

from trade_pipeline.config import Device, Section, StrictModel
from trade_pipeline.profiling import ProfileSettings
from trade_pipeline.training.recipe import TeacherRecipe

TeacherSource = Literal["train", "timm", "checkpoint"]
# Names become file names (teachers/<name>.safetensors) and metric keys (teacher.<name>.top1).
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")


class TeacherParams(StrictModel):
    """One teacher: where its weights come from and which timm architecture holds them."""

    source: TeacherSource
    model: str
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    pretrained: bool = False
    path: Union[str, None] = None
    train: Union[TeacherRecipe, None] = None

    @field_validator("model")
    @classmethod
    def _timm_knows_it(cls, name: str) -> str:
        from trade_pipeline.models import check_timm_name

        return check_timm_name(name)

    @model_validator(mode="after")
    def _fields_fit_the_source(self) -> "TeacherParams":
        if self.source == "timm" and not self.pretrained:
            raise ValueError(
                "source 'timm' loads hub weights: set pretrained: true (an untrained teacher is useless; "
                "use source: train to train one here)"
            )
        if self.source == "checkpoint" and not self.path:
            raise ValueError("source 'checkpoint' needs path: the local .safetensors / .pt state_dict file")
        if self.source == "checkpoint" and not Path(self.path).is_file():
            raise ValueError(f"checkpoint '{self.path}' does not exist (relative paths start at the project "
                             f"root, {Path.cwd()})")
        if self.source == "checkpoint" and self.pretrained:
            raise ValueError("source 'checkpoint' takes its weights from path; remove pretrained: true")
        if self.source != "checkpoint" and self.path is not None:
            raise ValueError(f"path is only read by source 'checkpoint' (source is '{self.source}'); remove it")
        if self.source != "train" and self.train is not None:
            raise ValueError(
                f"train settings are only read by source 'train' (source is '{self.source}'); remove them"
            )
        return self

    @property
    def recipe(self) -> TeacherRecipe:
        return self.train or TeacherRecipe()


class TeacherPipelineParams(Section):
    """Everything under ``teacher:``.

    ``teachers`` defines teachers by name; ``use`` picks which of them run, in order (null =
    all). Parameters merge softly across environments, so an environment cannot delete a base
    teacher's definition, but its ``use`` list (lists replace, not merge) decides.
    """

    section = "teacher"

    teachers: dict[str, TeacherParams] = Field(min_length=1)
    use: Union[list[str], None] = Field(default=None, min_length=1)
    search_teacher: str
    device: Device = "cpu"
    batch_size: int = Field(default=256, ge=1)
    profile: ProfileSettings = ProfileSettings()


    @field_validator("teachers")
    @classmethod
    def _names_are_file_safe(cls, teachers: dict[str, TeacherParams]) -> dict[str, TeacherParams]:
        bad = [name for name in teachers if not NAME_PATTERN.match(name)]
        if bad:
            raise ValueError(f"teacher name {bad[0]!r} may only use letters, digits, '_' and '-'")
        return teachers

    @field_validator("use")
    @classmethod
    def _used_teachers_are_defined(
        cls, names: Union[list[str], None], info: ValidationInfo
    ) -> Union[list[str], None]:
        teachers = info.data.get("teachers")
        if names is None or teachers is None:
            return names
        unknown = [name for name in names if name not in teachers]
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not defined under teacher.teachers ({', '.join(teachers)})")
        if len(set(names)) != len(names):
            raise ValueError("a teacher is listed twice")
        return names

    @field_validator("search_teacher")
    @classmethod
    def _search_teacher_is_used(cls, name: str, info: ValidationInfo) -> str:
        teachers = info.data.get("teachers")
        used = info.data.get("use") or list(teachers or [])
        if teachers is not None and name not in used:
            raise ValueError(f"{name!r} is not a teacher in use; pick one of: {', '.join(used)}")
        return name

    @property
    def selected(self) -> dict[str, TeacherParams]:
        """The teachers that run, in the order of ``use`` (or of their definitions)."""
        return {name: self.teachers[name] for name in (self.use or self.teachers)}
